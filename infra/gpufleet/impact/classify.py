"""Classify every changed input of every rendered resource between two runs of the program.

The offline preview records each resource's inputs, but its mocks cannot show what the
provider will do at apply: every launch template reports version 1, and a resource that would
be replaced keeps its outputs (its id, its Auto Scaling group's name). So the two things the
mocks hide are inferred from the catalog and the engine's property dependencies:

- a launch-template input that makes a new version (``new_version``) changes the node group
  input that points at the latest version, which rolls the group's nodes;
- a replaced resource is a new physical resource (new id, ARN, name), so every input of another
  resource that takes one of its outputs changes too, and is classified by that input's fact.

Both are repeated until nothing more changes (a replaced node group replaces its Auto Scaling
group tags; a replaced file system its data repository association and its volume).
"""

from __future__ import annotations

import base64
import binascii
import difflib
import re
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from gpufleet.catalog.impact import Condition, ImpactFacts, InputClass, InputFact

if TYPE_CHECKING:
    from gpufleet.preview.result import RecordedResource

Impact = Literal["no_change", "in_place", "rolls_nodes", "rejected", "replace", "blocked"]
"""From least to most disruptive; a resource takes the most disruptive of its inputs'."""
ORDER: dict[Impact, int] = {"no_change": 0, "in_place": 1, "rolls_nodes": 2, "rejected": 3, "replace": 4, "blocked": 5}
IMPACT_WORDS: dict[Impact, str] = {
    "no_change": "no change",
    "in_place": "in place",
    "rolls_nodes": "rolls nodes",
    "rejected": "in place, rejected by the API server (apply fails)",
    "replace": "replace",
    "blocked": "blocked: protected (pulumi up fails)",
}
FROM_FACT: dict[InputClass, Impact] = {
    "replace": "replace",
    "new_version": "in_place",
    "rolls_nodes": "rolls_nodes",
    "in_place": "in_place",
    "in_place_rejected": "rejected",
    "ignored": "no_change",
}
Change = Literal["changed", "created", "deleted", "renamed"]
COMPONENT_KINDS = {
    "NodePool": "pool",
    "StorageTier": "storage tier",
    "Fabric": "fabric",
    "Cluster": "cluster",
    "Network": "network",
}
RENAMEABLE = ("NodePool", "StorageTier")
USER_DATA = "userData"


@dataclass(frozen=True)
class Rendered:
    """One registered resource as the classifier reads it (from a preview, resources.json or the pack)."""

    urn: str
    type: str
    name: str
    parent: str | None
    inputs: Mapping[str, Any]
    custom: bool = True
    protect: bool = False
    retain_on_delete: bool = False
    property_dependencies: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @classmethod
    def from_recorded(cls, record: RecordedResource) -> Rendered:
        """A resource as an offline preview registered it (property dependencies included)."""
        return cls(
            urn=record.urn,
            type=record.type,
            name=record.name,
            parent=record.parent,
            inputs=record.inputs,
            custom=record.custom,
            protect=record.protect,
            retain_on_delete=record.retain_on_delete,
            property_dependencies=record.property_dependencies,
        )

    @classmethod
    def from_json(cls, record: Mapping[str, Any]) -> Rendered:
        """A resource of ``resources.json`` (which has no property dependencies)."""
        return cls(
            urn=record["urn"],
            type=record["type"],
            name=record["name"],
            parent=record.get("parent"),
            inputs=record.get("inputs") or {},
            custom=bool(record.get("custom", True)),
            protect=bool(record.get("protect")),
            retain_on_delete=bool(record.get("retainOnDelete")),
        )


@dataclass(frozen=True)
class InputChange:
    """One input whose value differs (or will, at apply), what that does and which fact says so."""

    path: str
    before: Any
    after: Any
    impact: Impact
    why: str
    source: str
    """The fact's source, spelled out (a URL and a locator)."""
    quote: str | None = None
    caused_by: str | None = None
    """The resource whose replacement or new version changes this input at apply (inferred)."""
    src: str = ""
    """The same source as the catalog writes it (``tf eks/func.resourceNodeGroup:295-298``)."""
    new_version: bool = False
    """It makes a new launch-template version (which the node group pointing at it then rolls)."""

    def as_json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "before": self.before,
            "after": self.after,
            "impact": self.impact,
            "why": self.why,
            "source": self.source,
            "src": self.src,
            "new_version": self.new_version,
            "quote": self.quote,
            "caused_by": self.caused_by,
        }


@dataclass(frozen=True)
class ResourceImpact:
    urn: str
    type: str
    name: str
    owner: str
    """The stack concept it belongs to: ``pool train-h200``, ``storage tier scratch``, ``cluster ai-prod``."""
    change: Change
    impact: Impact
    inputs: tuple[InputChange, ...] = ()
    protected: bool = False
    retained: bool = False
    renamed_from: str | None = None
    why: str = ""

    @property
    def owner_kind(self) -> str:
        return self.owner.rsplit(" ", 1)[0] if " " in self.owner else self.owner

    @property
    def owner_name(self) -> str:
        return self.owner.rsplit(" ", 1)[-1]

    def as_json(self) -> dict[str, Any]:
        return {
            "urn": self.urn,
            "type": self.type,
            "name": self.name,
            "owner": self.owner,
            "change": self.change,
            "impact": self.impact,
            "impact_words": IMPACT_WORDS[self.impact],
            "protected": self.protected,
            "retained": self.retained,
            "renamed_from": self.renamed_from,
            "why": self.why,
            "inputs": [change.as_json() for change in self.inputs],
        }


def classify(old: Sequence[Rendered], new: Sequence[Rendered], facts: ImpactFacts) -> tuple[ResourceImpact, ...]:
    """Every resource that is created, deleted or whose inputs change, in URN order (of the new side)."""
    before = {r.urn: r for r in old}
    after = {r.urn: r for r in new}
    renamed = _renamed(before, after)
    paired = {new_urn: old_urn for old_urn, new_urn in renamed.items()}
    impacts: dict[str, ResourceImpact] = {}
    for urn, resource in after.items():
        if not resource.custom:
            continue
        previous = before.get(urn) or before.get(paired.get(urn, ""))
        if previous is None:
            impacts[urn] = ResourceImpact(
                urn, resource.type, resource.name, _owner(resource, after), "created", "no_change", why="created"
            )
            continue
        changes = tuple(_input_changes(previous, resource, facts))
        impacts[urn] = _resource_impact(previous, resource, after, changes, facts, renamed_from=paired.get(urn))
    for urn, resource in before.items():
        if resource.custom and urn not in after and urn not in renamed:
            impact: Impact = "blocked" if resource.protect else "no_change"
            why = "deleted" + (f"; {facts.protected.quote}" if resource.protect else "")
            impacts[urn] = ResourceImpact(
                urn,
                resource.type,
                resource.name,
                _owner(resource, before),
                "deleted",
                impact,
                protected=resource.protect,
                retained=resource.retain_on_delete,
                why=why,
            )
    _knock_on(impacts, before, after, paired, facts)
    return tuple(impacts[urn] for urn in sorted(impacts) if impacts[urn].change != "changed" or impacts[urn].inputs)


# -- one resource ------------------------------------------------------------------------------


def _resource_impact(
    previous: Rendered,
    resource: Rendered,
    everything: Mapping[str, Rendered],
    changes: tuple[InputChange, ...],
    facts: ImpactFacts,
    renamed_from: str | None = None,
) -> ResourceImpact:
    impact: Impact = max((change.impact for change in changes), key=ORDER.__getitem__, default="no_change")
    why = ""
    if renamed_from is not None:
        impact = max(impact, "replace", key=ORDER.__getitem__)
        why = f"renamed from {renamed_from.rsplit('::', 1)[-1]}: a new URN, so Pulumi creates it and deletes the old one"
    elif changes:
        worst = max(changes, key=lambda change: ORDER[change.impact])
        why = f"{worst.path}: {worst.why}"
    if ORDER[impact] >= ORDER["replace"] and previous.protect:
        impact = "blocked"
        why = f"{why}; {facts.protected.quote}"
    return ResourceImpact(
        resource.urn,
        resource.type,
        resource.name,
        _owner(resource, everything),
        "renamed" if renamed_from else "changed",
        impact,
        changes,
        protected=previous.protect,
        retained=previous.retain_on_delete,
        renamed_from=renamed_from,
        why=why,
    )


def _input_changes(old: Rendered, new: Rendered, facts: ImpactFacts) -> Iterable[InputChange]:
    before, after = _flatten(old.inputs), _flatten(new.inputs)
    type_facts = facts.for_type(new.type)
    for path in sorted(set(before) | set(after)):
        if before.get(path) == after.get(path):
            continue
        old_value, new_value = before.get(path), after.get(path)
        shown_before, shown_after = _shown_values(path, old_value, new_value)
        if type_facts is None:
            yield InputChange(
                path, shown_before, shown_after, "in_place", "no provider facts for this type", "catalog/data/impact.yaml"
            )
            continue
        found = type_facts.fact_for(_unindexed(path))
        if found is None:
            yield InputChange(
                path,
                shown_before,
                shown_after,
                "in_place",
                "an update: no replace trigger for this input",
                _cite(facts, type_facts.schema_source) if type_facts.schema_source else "catalog/data/impact.yaml",
                src=type_facts.schema_source,
            )
            continue
        listed, fact = found
        yield _judged(facts, fact, listed, path, shown_before, shown_after, (old_value, new_value, old.inputs, new.inputs))


def _judged(
    facts: ImpactFacts,
    fact: InputFact,
    listed: str,
    path: str,
    before: Any,
    after: Any,
    values: tuple[Any, Any, Mapping[str, Any], Mapping[str, Any]],
    caused_by: str | None = None,
    cause: str = "",
) -> InputChange:
    input_class, condition = fact.input_class, ""
    if fact.when is not None:
        holds = CONDITIONS[fact.when](listed, *values)
        condition = f" ({fact.when.replace('_', ' ')}: {'yes' if holds else 'no'})"
        if not holds:
            assert fact.otherwise is not None
            input_class = fact.otherwise
    impact = FROM_FACT[input_class]
    why = {
        "replace": "forces replacement",
        "new_version": "makes a new launch-template version (the node group then rolls its nodes)",
        "rolls_nodes": "a new launch-template version: EKS recycles every node of the group",
        "in_place": "an update in place",
        "in_place_rejected": "an update the API server refuses",
        "ignored": "ignored (ignoreChanges): never applied",
    }[input_class] + condition
    if fact.note:
        why += f"; {fact.note}"
    if cause:
        why = f"{cause}: {why}"
    return InputChange(
        path, before, after, impact, why, _cite(facts, fact.src), fact.quote, caused_by, fact.src, input_class == "new_version"
    )


def _cite(facts: ImpactFacts, src: str) -> str:
    key = src.split(" ", 1)[0]
    return facts.cited(src) if key in facts.sources else src


# -- conditions of conditional facts ------------------------------------------------------------


def _number(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _shrinks(old: Any, new: Any) -> bool:
    before, after = _number(old), _number(new)
    return before is not None and after is not None and after < before


def _version(text: Any) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", str(text or "")))


def _source_kind(inputs: Mapping[str, Any]) -> tuple[str, ...]:
    return tuple(key for key in ("cidrIpv4", "cidrIpv6", "referencedSecurityGroupId", "prefixListId") if inputs.get(key))


def _get(inputs: Mapping[str, Any], dotted: str) -> Any:
    value: Any = inputs
    for part in dotted.split("."):
        value = value.get(part) if isinstance(value, Mapping) else None
    return value


CONDITIONS: dict[Condition, Callable[[str, Any, Any, Mapping[str, Any], Mapping[str, Any]], bool]] = {
    "removed": lambda path, old, new, before, after: _get(after, path) in (None, [], {}),
    "shrinks_or_scratch_1": lambda path, old, new, before, after: (
        _shrinks(old, new) or after.get("deploymentType") == "SCRATCH_1"
    ),
    "downgrade": lambda path, old, new, before, after: _version(new) < _version(old),
    "iops_decrease": lambda path, old, new, before, after: (
        _get(before, "metadataConfiguration.mode") == "USER_PROVISIONED"
        and _shrinks(_get(before, "metadataConfiguration.iops"), _get(after, "metadataConfiguration.iops"))
    ),
    "source_kind_changes": lambda path, old, new, before, after: _source_kind(before) != _source_kind(after),
    "static_claim_or_shrinks": lambda path, old, new, before, after: (
        _get(after, "spec.storageClassName") == "" or _shrinks(_quantity(old), _quantity(new))
    ),
    "has_topology": lambda path, old, new, before, after: bool(_get(before, "spec.topologyName")),
}


def _quantity(value: Any) -> float | None:
    """A Kubernetes quantity (``48000Gi``, ``1.2Ti``) in bytes, for comparing sizes."""
    found = re.fullmatch(r"([0-9.]+)\s*([KMGTPE]i?)?", str(value or ""))
    if not found:
        return None
    units = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "K": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15}
    return float(found.group(1)) * units.get(found.group(2) or "", 1)


# -- what the mocks cannot show ---------------------------------------------------------------


def _knock_on(
    impacts: dict[str, ResourceImpact],
    before: Mapping[str, Rendered],
    after: Mapping[str, Rendered],
    paired: Mapping[str, str],
    facts: ImpactFacts,
) -> None:
    """Carry replacements and new launch-template versions to the inputs that take their outputs."""
    dependents: dict[str, list[tuple[str, str]]] = {}
    for resource in after.values():
        for key, urns in resource.property_dependencies.items():
            for urn in urns:
                dependents.setdefault(urn, []).append((resource.urn, key))
    waiting = deque(urn for urn in sorted(impacts) if _carries(impacts[urn]))
    seen: set[tuple[str, str, str]] = set()
    while waiting:
        cause = impacts[waiting.popleft()]
        for urn, key in dependents.get(cause.urn, ()):
            target = impacts.get(urn)
            if target is None or target.change not in ("changed", "renamed") or (urn, key, cause.urn) in seen:
                continue
            seen.add((urn, key, cause.urn))
            change = _inherited(cause, after[urn], key, facts)
            if change is None or any(c.path == change.path and ORDER[c.impact] >= ORDER[change.impact] for c in target.inputs):
                continue
            previous = before.get(urn) or before[paired[urn]]
            inputs = tuple(sorted((*target.inputs, change), key=lambda c: c.path))
            updated = _resource_impact(previous, after[urn], after, inputs, facts, renamed_from=target.renamed_from)
            impacts[urn] = updated
            if _carries(updated) and not _carries(target):
                waiting.append(urn)


def _carries(impact: ResourceImpact) -> bool:
    """A replacement or a new launch-template version. A blocked replacement carries nothing:
    ``pulumi up`` fails at it, before anything that takes its outputs is touched."""
    return impact.impact == "replace" or any(change.new_version for change in impact.inputs)


def _inherited(cause: ResourceImpact, dependent: Rendered, key: str, facts: ImpactFacts) -> InputChange | None:
    """What ``cause`` does to the input ``key`` of a resource that takes one of its outputs."""
    type_facts = facts.for_type(dependent.type)
    flat = _flatten({key: dependent.inputs.get(key)})
    replaced = cause.impact == "replace"
    if not replaced:  # a new launch-template version
        knock = facts.knock_on["new_version"]
        if dependent.type != knock.type or not knock.input.startswith(key):
            return None
        candidates = [knock.input]
        reason = f"{cause.name} gets a new version and this input points at its latest"
    else:
        candidates = sorted(flat) or [key]
        reason = f"takes an output of {cause.name}, which is replaced (so a new id)"
    best: tuple[str, str, InputFact] | None = None
    for path in candidates:
        found = type_facts.fact_for(_unindexed(path)) if type_facts else None
        if found and (best is None or ORDER[FROM_FACT[found[1].input_class]] > ORDER[FROM_FACT[best[2].input_class]]):
            best = (path, *found)
    if best is None or FROM_FACT[best[2].input_class] == "in_place":
        schema = type_facts.schema_source if type_facts else ""
        source = _cite(facts, schema) if schema else "catalog/data/impact.yaml"
        value = dependent.inputs.get(key)
        return InputChange(
            key, value, "(new at apply)", "in_place", f"{reason}: an update in place", source, caused_by=cause.urn, src=schema
        )
    path, listed, fact = best
    return _judged(
        facts,
        fact,
        listed,
        listed if replaced else path,
        flat.get(path) if not replaced else _get(dependent.inputs, listed),
        "(new at apply)",
        (flat.get(path), None, dependent.inputs, dependent.inputs),
        caused_by=cause.urn,
        cause=reason,
    )


# -- renames and owners -----------------------------------------------------------------------


def _renamed(before: Mapping[str, Rendered], after: Mapping[str, Rendered]) -> dict[str, str]:
    """Old URN -> new URN for the resources of a pool or tier that was renamed: one component of
    a kind gone and one new, and a resource of the same type whose name follows the new one."""
    pairs: dict[str, str] = {}
    for kind in RENAMEABLE:
        gone = {r.name for r in before.values() if r.type.endswith(f":{kind}") and r.urn not in after}
        came = {r.name for r in after.values() if r.type.endswith(f":{kind}") and r.urn not in before}
        if len(gone) != 1 or len(came) != 1:
            continue
        (old_name,), (new_name,) = gone, came
        pattern = re.compile(rf"(?<![a-z0-9-]){re.escape(old_name)}(?![a-z0-9])")
        for urn, resource in before.items():
            if urn in after or not pattern.search(resource.name):
                continue
            candidate = urn[: -len(resource.name)] + pattern.sub(new_name, resource.name)
            if candidate in after and candidate not in before:
                pairs[urn] = candidate
    return pairs


def _owner(resource: Rendered, everything: Mapping[str, Rendered]) -> str:
    """The concept of the stack that owns a resource: the nearest component of a pool, tier,
    fabric, the cluster or the network; else ``the stack``."""
    seen: set[str] = set()
    urn = resource.parent
    while urn and urn not in seen:
        seen.add(urn)
        component = everything.get(urn)
        if component is None:
            break
        kind = COMPONENT_KINDS.get(component.type.rsplit(":", 1)[-1]) if component.type.startswith("gpufleet:") else None
        if kind == "network":
            return "network"
        if kind:
            return f"{kind} {component.name}"
        urn = component.parent
    return "the stack"


# -- values -------------------------------------------------------------------------------------


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """Inputs as dotted paths (``networkInterfaces[0].securityGroups``); lists of plain values stay whole."""
    flat: dict[str, Any] = {}
    if isinstance(value, Mapping):
        if not value and prefix:
            flat[prefix] = {}
        for key, item in value.items():
            flat.update(_flatten(item, f"{prefix}.{key}" if prefix else str(key)))
    elif isinstance(value, list | tuple) and any(isinstance(item, Mapping | list | tuple) for item in value):
        for index, item in enumerate(value):
            flat.update(_flatten(item, f"{prefix}[{index}]"))
    elif prefix:
        flat[prefix] = list(value) if isinstance(value, tuple) else value
    return flat


def _unindexed(path: str) -> str:
    return re.sub(r"\[\d+\]", "", path)


def _shown_values(path: str, before: Any, after: Any) -> tuple[Any, Any]:
    """User data is base64 of a whole boot script: show the lines that differ instead."""
    if _unindexed(path) != USER_DATA:
        return before, after
    old_lines, new_lines = _decoded(before), _decoded(after)
    if old_lines is None or new_lines is None:
        return before, after
    diff = [line for line in difflib.unified_diff(old_lines, new_lines, lineterm="", n=0) if line[:1] in "+-"]
    removed = [line[1:].strip() for line in diff if line.startswith("-") and not line.startswith("---")]
    added = [line[1:].strip() for line in diff if line.startswith("+") and not line.startswith("+++")]
    return removed, added


def _decoded(value: Any) -> list[str] | None:
    if not isinstance(value, str):
        return None
    try:
        return base64.b64decode(value, validate=True).decode("utf-8").splitlines()
    except (binascii.Error, UnicodeDecodeError):
        return None
