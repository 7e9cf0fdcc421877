"""What each gpufleet policy is, held apart from the policy SDK.

A policy's id, name, description, fix, category, default level and config schema are written
once, beside its check, as a ``PolicyDefinition``. The pack's build step (``build.sdk_policy``)
turns each into the SDK's policy, which is what the engine's ``GetAnalyzerInfo`` reports, and
``gpufleet rules`` lists the very same objects without loading Pulumi or ``pulumi_policy``.

Two rules here are the check's own, for results no gpufleet policy gave an id to.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import KW_ONLY, dataclass, field
from functools import partial
from typing import Any, Literal

from gpufleet.findings import declare

Enforcement = Literal["mandatory", "advisory", "disabled"]

POLICY_CRASHED = declare(
    "GF-POL-000",
    "error",
    "A policy raised an error instead of judging the stack; nothing it guards was checked.",
    "Fix the policy (its traceback is in the message), then check again.",
)
UNTAGGED_POLICY = declare(
    "GF-POL-001",
    "warning",
    "A violation from a policy that carries no gpufleet rule id in its tags (another pack's policy).",
    "Tag the policy with its GF-... rule id.",
)


@dataclass(frozen=True)
class PolicyDefinition:
    """``validate(args, report_violation)`` is the check the SDK calls; the rest is what it is."""

    kind: Literal["resource", "stack"]
    rule_id: str
    name: str
    description: str
    validate: Callable[..., Any] = field(repr=False, compare=False)
    _: KW_ONLY
    fix: str
    category: str
    enforcement: Enforcement = "mandatory"
    schema: Mapping[str, Mapping[str, Any]] | None = None

    @property
    def tags(self) -> tuple[str, str]:
        """The rule id travels in the tags, so the check files a violation under it."""
        return (self.rule_id, self.category)

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.rule_id,
            "name": self.name,
            "kind": self.kind,
            "category": self.category,
            "enforcement": self.enforcement,
            "description": self.description,
            "fix": self.fix,
            "config": dict(self.schema or {}),
        }


resource_policy = partial(PolicyDefinition, "resource")
stack_policy = partial(PolicyDefinition, "stack")
