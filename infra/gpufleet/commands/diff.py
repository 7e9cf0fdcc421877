"""``gpufleet diff``: what one stack's resolved plan has that another's lacks; exit 0 equal, 1 differ."""

from __future__ import annotations

import sys
from itertools import groupby
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from gpufleet.commands.console import Format, FormatOption, JsonFlag, out, print_json
from gpufleet.errors import UsageError

if TYPE_CHECKING:
    from gpufleet.model import FleetPlan
    from gpufleet.model.diff import Difference

NAME = "diff"

Stack = Annotated[Path, typer.Argument(help="A stack file, e.g. stacks/staging.yaml.")]


def _plan(path: Path) -> FleetPlan:
    """An invalid stack cannot be compared: exit 2, as diff(1) does for trouble, so 1 only means "differ"."""
    from gpufleet.catalog import load_catalog
    from gpufleet.model import resolve
    from gpufleet.stack import StackInvalid, load_stack

    try:
        return resolve(load_stack(path), load_catalog())
    except StackInvalid as invalid:
        raise UsageError(
            "cannot compare an invalid stack:\n" + "\n".join(f"  {finding}" for finding in invalid.findings)
        ) from None


def _text(differences: list[Difference], left: str, right: str) -> list[str]:
    """Grouped pool by pool and tier by tier, each group headed by where both files write it."""
    from gpufleet.model.facts import shown

    lines = [f"--- {left}", f"+++ {right}"]
    for (scope, name), grouped in groupby(differences, key=lambda d: (d.scope, d.name)):
        group = list(grouped)
        where = ", ".join(str(at) for at in (group[0].left_location, group[0].right_location) if at)
        title = f"{scope} {name}".strip() + (f" ({where})" if where else "")
        for difference in group:
            if difference.kind == "added":
                lines.append(f"+ {title}: only in {right}: {shown(difference.right)}")
            elif difference.kind == "removed":
                lines.append(f"- {title}: only in {left}: {shown(difference.left)}")
            else:
                if title:
                    lines.append(title)
                    title = ""
                lines.append(f"  ~ {difference.field}: {shown(difference.left)} -> {shown(difference.right)}")
    lines.append(f"{len(differences)} difference(s)" if differences else "no differences")
    return lines


def command(left: Stack, right: Stack, as_json: JsonFlag = False, output_format: FormatOption = Format.text) -> None:
    """Compare two stacks' resolved plans pool by pool and tier by tier; exit 0 equal, 1 differ.

    Example: gpufleet diff stacks/staging.yaml stacks/prod.yaml
    """
    from gpufleet.model.diff import compare

    before, after = _plan(left), _plan(right)
    differences = compare(before, after)
    if output_format is Format.markdown:
        from gpufleet.catalog import load_catalog
        from gpufleet.commands.markdown import diff_report
        from gpufleet.picture import plan_scene

        sys.stdout.write(diff_report(differences, before.source, after.source, plan_scene(after, load_catalog())))
    elif as_json or output_format is Format.json:
        print_json(
            {
                "left": before.source,
                "right": after.source,
                "equal": not differences,
                "differences": [d.as_json() for d in differences],
            }
        )
    else:
        for line in _text(differences, before.source, after.source):
            out.print(line, markup=False)
    raise typer.Exit(1 if differences else 0)
