"""An impact report: what each changed resource and each pool's nodes go through, as data.

``ImpactReport`` is typed data with a JSON form (``as_json``) that any output renders from:
the text of ``gpufleet diff --impact``, its SARIF (one finding per disrupted resource, at the
stack-file line of the pool or tier that owns it) and other formats.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from gpufleet.findings import Finding, Location, PathPart, declare
from gpufleet.impact.classify import IMPACT_WORDS, ORDER, Impact, ResourceImpact
from gpufleet.impact.pools import PoolDisruption
from gpufleet.impact.queues import QueueRemoval
from gpufleet.stack.loader import Locator

if TYPE_CHECKING:
    from gpufleet.model.diff import Difference

REPLACED = declare(
    "GF-IMP-001",
    "warning",
    "An edit replaces or deletes this resource: the provider destroys it (and creates a new one).",
    "If that is not meant, undo the edit of the field that forces it (the finding names the provider fact).",
)
ROLLED = declare(
    "GF-IMP-002",
    "warning",
    "An edit rolls this node group: EKS drains and replaces every node it runs.",
    "Land it when the pool's jobs can be interrupted, or scale the pool down first.",
)
UPDATED = declare("GF-IMP-003", "info", "An edit updates this resource in place.", "")
REJECTED = declare(
    "GF-IMP-004",
    "error",
    "An edit changes a field the Kubernetes API server refuses to update: pulumi up fails at this object.",
    "Keep the field as it is, or delete the object and let it be created again.",
)
BLOCKED = declare(
    "GF-IMP-005",
    "error",
    "An edit replaces or deletes a protected resource (protect: true): pulumi up fails instead of losing its data.",
    "Undo the edit; to really recreate it, set allow_deletion: true on the tier first and copy its data out.",
)
RULE_OF: dict[Impact, Any] = {
    "replace": REPLACED,
    "rolls_nodes": ROLLED,
    "in_place": UPDATED,
    "rejected": REJECTED,
    "blocked": BLOCKED,
}
OWNER_PATHS = {"pool": "node_pools", "storage tier": "storage", "fabric": "fabrics"}
OWNED_BY = {"pool": "pool", "storage": "storage tier"}
CLUSTER_WIDE = ("cluster", "network")
"""``diff``'s scopes that are stack concepts, and the owner kind of their rendered resources."""
NAMED_TYPES = {"flavor": ":ResourceFlavor", "queue": ":ClusterQueue", "release": ":Release", "storage-class": ":StorageClass"}
"""``diff``'s Kubernetes scopes, and the type of the one object each names."""
ASG_TAG = "aws:autoscaling/tag:Tag"


@dataclass(frozen=True)
class ImpactReport:
    left: str
    right: str
    resources: tuple[ResourceImpact, ...]
    pools: tuple[PoolDisruption, ...]
    provider_versions: dict[str, str]
    queues: tuple[QueueRemoval, ...] = ()
    """Kueue objects deleted whose finalizer waits for a queue that was never stopped."""

    @property
    def counts(self) -> dict[str, int]:
        """How many resources each change or impact touches (created and deleted apart)."""
        found: Counter[str] = Counter()
        for resource in self.resources:
            if resource.change in ("created", "deleted") and resource.impact != "blocked":
                found[resource.change] += 1
            else:
                found[resource.impact] += 1
        return dict(sorted(found.items()))

    @property
    def worst(self) -> Impact:
        return max((resource.impact for resource in self.resources), key=ORDER.__getitem__, default="no_change")

    def as_json(self) -> dict[str, Any]:
        return {
            "left": self.left,
            "right": self.right,
            "provider_versions": self.provider_versions,
            "worst": self.worst,
            "counts": self.counts,
            "pools": [pool.as_json() for pool in self.pools],
            "queue_removals": [removal.as_json() for removal in self.queues],
            "resources": [resource.as_json() for resource in self.resources],
        }

    def text(self) -> list[str]:
        versions = ", ".join(f"{name} {version.split(' ')[0]}" for name, version in self.provider_versions.items())
        lines = [f"impact of {self.left} -> {self.right} (provider facts for {versions})"]
        for pool in self.pools:
            lines.append(f"pool {pool.pool}: {IMPACT_WORDS[pool.impact] if pool.impact else pool.change} ({pool.cause})")
            lines.append(f"  {pool.how}")
            if pool.impact is not None:
                lines.append(
                    f"  {pool.nodes} node(s) running, up to {pool.nodes_max}, x {pool.gpus_per_node} GPU(s): {pool.waves} wave(s) "
                    f"at most, {pool.surge_nodes} surge node(s); GPU-hours disrupted {pool.gpu_hours:g}, up to {pool.gpu_hours_max:g}"
                )
            lines.extend(f"  {note}" for note in pool.notes)
        lines.extend(f"queue {removal.queue}: {removal.message}" for removal in self.queues)
        for resource in self.resources:
            what = (
                resource.change
                if resource.change in ("created", "deleted") and resource.impact == "no_change"
                else IMPACT_WORDS[resource.impact]
            )
            renamed = f" (renamed from {resource.renamed_from.rsplit('::', 1)[-1]})" if resource.renamed_from else ""
            lines.append(f"{what}: {resource.type} {resource.name}{renamed} ({resource.owner})")
            for change in resource.inputs:
                lines.append(
                    f"    {change.path}: {_short(change.before)} -> {_short(change.after)}: {IMPACT_WORDS[change.impact]}: {change.why}"
                )
                lines.append(f"      [{change.src or change.source}]")
        counts = ", ".join(f"{count} {IMPACT_WORDS.get(key, key)}" for key, count in self.counts.items())  # type: ignore[call-overload]
        lines.append(f"{len(self.resources)} resource(s) change: {counts}" if self.resources else "no resource changes")
        return lines

    def for_differences(self, differences: Sequence[Difference]) -> list[str | None]:
        """Each plan difference's impact: the worst of the rendered resources of what it is about
        (a pool's, a tier's; a flavor, queue, release or class of the same name). The cluster's and
        the network's facts (an AMI release, a zone) reach every pool, so theirs is the worst of all."""
        return [self._worst_words(difference.scope, difference.name) for difference in differences]

    def _worst_words(self, scope: str, name: str) -> str | None:
        owner = OWNED_BY.get(scope)
        typed = NAMED_TYPES.get(scope)
        found = [
            resource.impact
            for resource in self.resources
            if scope in CLUSTER_WIDE
            or (owner is not None and resource.owner_kind == owner and (not name or resource.owner_name == name))
            or (typed is not None and resource.type.endswith(typed) and resource.name == name)
            or (scope == "autoscaling" and resource.type == ASG_TAG and resource.name.startswith(f"{name}-"))
        ]
        worst = max(found, key=ORDER.__getitem__, default=None)
        return IMPACT_WORDS[worst] if worst not in (None, "no_change") else None

    def findings(self, locator: Locator) -> list[Finding]:
        """One finding per disrupted resource, at the line of its pool or tier in the right stack."""
        found = []
        waits = {removal.urn: removal.message for removal in self.queues}
        for resource in self.resources:
            impact: Impact = "replace" if resource.change == "deleted" and resource.impact == "no_change" else resource.impact
            if impact == "no_change" or resource.change == "created":
                continue
            rule = RULE_OF[impact]
            path = _owner_path(resource)
            inputs = "; ".join(f"{change.path}: {change.why}" for change in resource.inputs[:3])
            message = f"{resource.type} {resource.name} ({resource.owner}): {IMPACT_WORDS[impact]}" + (
                f" ({resource.why})" if resource.why and not inputs else f": {inputs}" if inputs else ""
            )
            if resource.urn in waits:
                message += f". {waits[resource.urn]}"
            found.append(rule.finding(path, message, at_key=True).located(_located(locator, path)))
        return found


def _owner_path(resource: ResourceImpact) -> tuple[PathPart, ...]:
    kind = resource.owner_kind
    if kind in OWNER_PATHS:
        return (OWNER_PATHS[kind], resource.owner_name)
    if kind in ("cluster", "network"):
        return (kind,)
    return ()


def _located(locator: Locator, path: tuple[PathPart, ...]) -> Location:
    """The line of the owner in the right stack; a pool or tier the edit removed points at its section."""
    while path and locator.node(path) is None:
        path = path[:-1]
    return locator.location(path, at_key=True) if path else Location(locator.file, 1, 1)


def _short(value: Any) -> str:
    text = str(value)
    return text if len(text) <= 120 else text[:117] + "..."
