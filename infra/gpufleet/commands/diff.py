"""``gpufleet diff``: what one stack's resolved plan has that another's lacks; exit 0 equal, 1 differ."""

from __future__ import annotations

from itertools import groupby
from pathlib import Path
from typing import Annotated, Any

import typer

from gpufleet.catalog import load_catalog
from gpufleet.commands.console import JsonFlag, out, print_json
from gpufleet.errors import UsageError
from gpufleet.model import FleetPlan, resolve
from gpufleet.model.diff import Difference, compare
from gpufleet.stack import LoadedStack, StackInvalid, load_stack

NAME = "diff"

Stack = Annotated[Path, typer.Argument(help="A stack file, e.g. stacks/staging.yaml.")]
# Where each scope's entries are written in a stack file; the fleet's totals are written nowhere.
SECTIONS = {"cluster": "cluster", "network": "network", "pool": "node_pools", "storage": "storage", "mig": "mig_plans"}


def _load(path: Path) -> tuple[LoadedStack, FleetPlan]:
    """An invalid stack cannot be compared: exit 2, as diff(1) does for trouble, so 1 only means "differ"."""
    try:
        loaded = load_stack(path)
        return loaded, resolve(loaded, load_catalog())
    except StackInvalid as invalid:
        raise UsageError("cannot compare an invalid stack:\n" + "\n".join(f"  {finding}" for finding in invalid.findings)) from None


def _location(loaded: LoadedStack, scope: str, name: str) -> str | None:
    """Where a pool, tier or MIG plan (or the cluster, the network) is written in one stack."""
    section = SECTIONS.get(scope)
    written = getattr(loaded.spec, section, None) if section else None
    if written is None or (name and name not in written):
        return None
    return str(loaded.locator.location((section, name) if name else (section,), at_key=True))


def _shown(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, tuple | list):
        return "[" + ", ".join(map(str, value)) + "]"
    if isinstance(value, float):
        return f"{value:g}"
    return str(getattr(value, "summary", value))


def _text(differences: list[Difference], left: LoadedStack, right: LoadedStack) -> list[str]:
    """Grouped pool by pool and tier by tier, each group headed by where both files write it."""
    lines = [f"--- {left.locator.file}", f"+++ {right.locator.file}"]
    for (scope, name), group in groupby(differences, key=lambda d: (d.scope, d.name)):
        where = ", ".join(filter(None, (_location(left, scope, name), _location(right, scope, name))))
        title = f"{scope} {name}".strip() + (f" ({where})" if where else "")
        for difference in group:
            if difference.kind == "added":
                lines.append(f"+ {title}: only in {right.locator.file}: {_shown(difference.right)}")
            elif difference.kind == "removed":
                lines.append(f"- {title}: only in {left.locator.file}: {_shown(difference.left)}")
            else:
                if title:
                    lines.append(title)
                    title = ""
                lines.append(f"  ~ {difference.field}: {_shown(difference.left)} -> {_shown(difference.right)}")
    lines.append(f"{len(differences)} difference(s)" if differences else "no differences")
    return lines


def command(left: Stack, right: Stack, as_json: JsonFlag = False) -> None:
    """Compare two stacks' resolved plans pool by pool and tier by tier; exit 0 equal, 1 differ."""
    (left_stack, before), (right_stack, after) = _load(left), _load(right)
    differences = compare(before, after)
    if as_json:
        rows = [
            {**d.as_json(), "left_location": _location(left_stack, d.scope, d.name), "right_location": _location(right_stack, d.scope, d.name)}
            for d in differences
        ]
        print_json({"left": before.source, "right": after.source, "equal": not differences, "differences": rows})
    else:
        for line in _text(differences, left_stack, right_stack):
            out.print(line, markup=False)
    raise typer.Exit(1 if differences else 0)
