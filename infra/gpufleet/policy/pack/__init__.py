"""gpufleet's CrossGuard policies: security first, then the guide's practices.

``serve`` is the whole pack program. ``policies/`` at the project root (what
``pulumi preview --policy-pack policies`` loads) and this package's own directory (what an
installed ``gpufleet check`` loads, e.g. from a pre-commit hook) both just call it.
"""

from __future__ import annotations

from pathlib import Path

PACK_NAME = "gpufleet"
DESCRIPTION = "Security and GPU-fleet best practices over what the gpufleet program registers."
INSTALLED_PACK = Path(__file__).resolve().parent


def serve() -> None:
    """Start the pack's gRPC server, print its port and serve until stopped (the SDK's loop)."""
    from pulumi_policy import EnforcementLevel, PolicyPack

    from gpufleet.policy.pack import practices, security

    PolicyPack(
        name=PACK_NAME,
        description=DESCRIPTION,
        enforcement_level=EnforcementLevel.MANDATORY,
        policies=[*security.POLICIES, *practices.POLICIES],
    )
