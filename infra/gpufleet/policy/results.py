"""What a pack run means for a stack file: findings located at the pool or tier that caused them.

Every violation becomes the project's one ``Finding`` (rule id from the policy's tags, severity
from its enforcement level) located at the stack-file line of the pool, tier, fabric, cluster
or network that owns the offending resource. ``PolicyFinding`` keeps beside it what only a
policy result has: the policy's name, its enforcement level and the resource.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from gpufleet.findings import Finding, Location, PathPart
from gpufleet.policy.analyzer import AnalyzedResource, PackRun
from gpufleet.policy.pack.definitions import POLICY_CRASHED, UNTAGGED_POLICY
from gpufleet.stack.loader import Locator

RULE_ID = re.compile(r"GF-[A-Z]+-[0-9]{3}\Z")
STACK_FIELD = re.compile(r"\n\(stack field: ([^()\n]+)\)\Z")
"""A policy points at the stack field it judged by ending its message so (``graph.at_field``)."""
OWNER_PATHS = {"NodePool": "node_pools", "StorageTier": "storage", "Fabric": "fabrics"}
SINGLE_OWNERS = {"Cluster": ("cluster",), "Network": ("network",)}
SEVERITY_OF = {"mandatory": "error", "remediate": "error", "advisory": "warning"}


@dataclass(frozen=True)
class PolicyFinding:
    finding: Finding
    policy: str
    enforcement: str
    resource: str | None
    owner: str
    owner_location: Location | None = None
    """Where the pool, tier or cluster that owns the resource is written (the finding itself may
    sit on one of its fields)."""

    @property
    def mandatory(self) -> bool:
        return self.finding.severity == "error"

    def as_json(self) -> dict[str, object]:
        return {
            **self.finding.as_json(),
            "policy": self.policy,
            "enforcement": self.enforcement,
            "resource": self.resource,
            "owner": self.owner,
        }


def owner_path(urn: str | None, resources: Mapping[str, AnalyzedResource]) -> tuple[tuple[PathPart, ...], str]:
    """The stack path and words for the component that owns ``urn`` (itself, or a parent)."""
    seen = set()
    while urn and urn not in seen:
        seen.add(urn)
        resource = resources.get(urn)
        if resource is None:
            break
        kind = resource.type.rsplit(":", 1)[-1] if resource.type.startswith("gpufleet:") else None
        if kind in OWNER_PATHS:
            words = {"NodePool": "pool", "StorageTier": "storage tier", "Fabric": "fabric"}[kind]
            return (OWNER_PATHS[kind], resource.name), f"{words} {resource.name}"
        if kind in SINGLE_OWNERS:
            return SINGLE_OWNERS[kind], f"{kind.lower()} {resource.name}" if kind == "Cluster" else "network"
        urn = resource.parent
    return (), "stack"


def policy_findings(run: PackRun, resources: Sequence[AnalyzedResource], locator: Locator) -> list[PolicyFinding]:
    by_urn = {resource.urn: resource for resource in resources}
    results = []
    for diagnostic in run.diagnostics:
        policy = run.policy(diagnostic.policy)
        path, owner = owner_path(diagnostic.urn, by_urn)
        if diagnostic.crashed:
            rule_id, severity, fix = POLICY_CRASHED.id, "error", POLICY_CRASHED.fix
            where = f" on {by_urn[diagnostic.urn].name}" if diagnostic.urn in by_urn else " on the stack"
            message = f"policy {diagnostic.policy or '(unknown)'} crashed{where}: {diagnostic.message}"
        else:
            rule_id = (
                next((tag for tag in policy.tags if RULE_ID.match(tag)), UNTAGGED_POLICY.id) if policy else UNTAGGED_POLICY.id
            )
            severity = SEVERITY_OF.get(diagnostic.enforcement, "warning")
            fix = policy.remediation if policy else ""
            message = diagnostic.message
        owned_at = locator.location(path, at_key=True)
        field = STACK_FIELD.search(message)
        if field is not None:
            message = message[: field.start()]
            path = tuple(int(part) if part.isascii() and part.isdigit() else part for part in field.group(1).split("."))
        finding = Finding(rule_id, severity, path, message, fix, location=locator.location(path, at_key=True))  # type: ignore[arg-type]
        results.append(
            PolicyFinding(
                finding,
                diagnostic.policy,
                "mandatory" if diagnostic.crashed else diagnostic.enforcement,
                diagnostic.urn,
                owner,
                owned_at,
            )
        )
    return sorted(
        results, key=lambda r: (r.finding.line, r.finding.column, r.resource or "", r.finding.rule_id, r.finding.message)
    )
