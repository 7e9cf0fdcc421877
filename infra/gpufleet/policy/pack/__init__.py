"""gpufleet's CrossGuard policies: security first, then the guide's practices, the budget, the replacement gate.

``serve`` is the whole pack program. ``policies/`` at the project root (what
``pulumi preview --policy-pack policies`` loads) and this package's own directory (what an
installed ``gpufleet check`` loads, e.g. from a pre-commit hook) both just call it.
"""

from __future__ import annotations

from pathlib import Path

from gpufleet.policy.pack.definitions import PolicyDefinition

PACK_NAME = "gpufleet"
DESCRIPTION = "Security and GPU-fleet best practices over what the gpufleet program registers."
INSTALLED_PACK = Path(__file__).resolve().parent


def policy_definitions() -> tuple[PolicyDefinition, ...]:
    """Every policy of the pack, in the order the pack serves them; no Pulumi is loaded."""
    from gpufleet.policy.pack import cost, impact, practices, security

    return (*security.POLICIES, *practices.POLICIES, *cost.POLICIES, *impact.POLICIES)


def serve() -> None:
    """Start the pack's gRPC server, print its port and serve until stopped (the SDK's loop)."""
    from pulumi_policy import EnforcementLevel, PolicyPack

    from gpufleet.policy.pack.build import sdk_policy
    from gpufleet.policy.pack.shared import install

    install()
    PolicyPack(
        name=PACK_NAME,
        description=DESCRIPTION,
        enforcement_level=EnforcementLevel.MANDATORY,
        policies=[sdk_policy(definition) for definition in policy_definitions()],
    )
