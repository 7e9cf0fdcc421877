"""Reports of a preview: the canonical resources.json and a component tree."""

from __future__ import annotations

import copy
import json
from collections import Counter
from dataclasses import dataclass
from typing import Any

from rich.markup import escape
from rich.tree import Tree

from .result import PreviewResult, RecordedResource

REDACTED = "[secret]"


def resources_document(result: PreviewResult) -> dict[str, Any]:
    """The JSON document written to resources.json, with secret inputs redacted.

    Mock outputs are left out on purpose: they describe the fake providers,
    not the desired state.
    """
    return {
        "project": result.project,
        "stack": result.stack,
        "resources": [_resource_entry(resource) for resource in result.resources],
    }


def _resource_entry(resource: RecordedResource) -> dict[str, Any]:
    return {
        "urn": resource.urn,
        "type": resource.type,
        "name": resource.name,
        "parent": resource.parent,
        "custom": resource.custom,
        "external": resource.external,
        "provider": resource.provider,
        "protect": resource.protect,
        "retainOnDelete": resource.retain_on_delete,
        "dependsOn": list(resource.depends_on),
        "inputs": _redact(resource.inputs, resource.secret_paths),
    }


def _redact(inputs: dict[str, Any], secret_paths: tuple[str, ...]) -> dict[str, Any]:
    if not secret_paths:
        return inputs
    redacted = copy.deepcopy(inputs)
    done: list[str] = []
    for path in secret_paths:
        if any(path == prefix or path.startswith(prefix + "/") for prefix in done):
            continue
        done.append(path)
        *parents, leaf = [_unescape_pointer(part) for part in path.split("/")[1:]]
        container: Any = redacted
        for part in parents:
            container = container[int(part) if isinstance(container, list) else part]
        container[int(leaf) if isinstance(container, list) else leaf] = REDACTED
    return redacted


def _unescape_pointer(segment: str) -> str:
    return segment.replace("~1", "/").replace("~0", "~")


def render_resources_json(result: PreviewResult) -> str:
    """Canonical text: sorted keys, two-space indent, trailing newline."""
    return json.dumps(resources_document(result), indent=2, sort_keys=True) + "\n"


@dataclass(frozen=True)
class ComponentSummary:
    """A component (or the stack) with the custom resources it directly owns, by type.

    Custom resources parented to another custom resource count toward the
    nearest component above them.
    """

    urn: str
    type: str
    name: str
    counts: dict[str, int]
    children: tuple[ComponentSummary, ...]

    @property
    def direct_total(self) -> int:
        return sum(self.counts.values())

    @property
    def total(self) -> int:
        """Custom resources in this component and every nested one."""
        return self.direct_total + sum(child.total for child in self.children)


@dataclass(frozen=True)
class PreviewSummary:
    """Resource counts per component, rooted at the stack."""

    project: str
    stack: str
    root: ComponentSummary

    @property
    def total(self) -> int:
        return self.root.total

    def counts_by_type(self) -> dict[str, int]:
        """Counts of every custom resource type across the whole stack."""
        totals: Counter[str] = Counter()
        pending = [self.root]
        while pending:
            node = pending.pop()
            totals.update(node.counts)
            pending.extend(node.children)
        return dict(sorted(totals.items()))


def summarize(result: PreviewResult) -> PreviewSummary:
    """Group custom resources under their nearest component ancestor."""
    by_urn = {resource.urn: resource for resource in result.resources}
    components = [resource for resource in result.resources if not resource.custom]
    counts: dict[str, Counter[str]] = {component.urn: Counter() for component in components}
    child_components: dict[str | None, list[str]] = {}
    for component in components:
        owner = _nearest_component(component.parent, by_urn)
        child_components.setdefault(owner, []).append(component.urn)
    for resource in result.resources:
        if resource.custom:
            owner = _nearest_component(resource.parent, by_urn)
            if owner is None:
                raise ValueError(f"{resource.urn} has no component ancestor; is the stack missing?")
            counts[owner][resource.type] += 1

    def build(urn: str) -> ComponentSummary:
        component = by_urn[urn]
        return ComponentSummary(
            urn=urn,
            type=component.type,
            name=component.name,
            counts=dict(sorted(counts[urn].items())),
            children=tuple(build(child) for child in sorted(child_components.get(urn, ()))),
        )

    roots = child_components.get(None, [])
    if len(roots) != 1:
        raise ValueError(f"expected exactly one root stack resource, found {len(roots)}")
    return PreviewSummary(project=result.project, stack=result.stack, root=build(roots[0]))


def _nearest_component(urn: str | None, by_urn: dict[str, RecordedResource]) -> str | None:
    while urn is not None and by_urn[urn].custom:
        urn = by_urn[urn].parent
    return urn


def render_tree(summary: PreviewSummary) -> Tree:
    """A rich tree: components as branches, `count x type` leaves for their resources."""
    root = summary.root
    tree = Tree(f"[bold]{escape(root.name)}[/bold] [dim]{root.type}[/dim] ({_plural(root.total)})")
    _add_component_contents(tree, root)
    return tree


def _add_component_contents(branch: Tree, component: ComponentSummary) -> None:
    for child in component.children:
        node = branch.add(f"[bold cyan]{escape(child.name)}[/bold cyan] [dim]{escape(child.type)}[/dim] ({_plural(child.total)})")
        _add_component_contents(node, child)
    for type_token, count in component.counts.items():
        branch.add(f"{count} × [green]{escape(type_token)}[/green]")


def _plural(count: int) -> str:
    return f"{count} resource" if count == 1 else f"{count} resources"
