"""``gpufleet diff``: what one stack's resolved plan has that another's lacks; exit 0 equal, 1 differ.

With ``--impact`` it also runs the program on both plans under the preview's mocks (the very
program ``pulumi up`` runs) and classifies every changed input of every rendered resource:
replace, rolls nodes, in place, rejected by the API server, or blocked (protected), each with
the provider fact and its source, and what it does to each pool's nodes.
"""

from __future__ import annotations

import enum
import sys
from itertools import groupby
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from gpufleet.commands.console import JsonFlag, out, print_json
from gpufleet.errors import UsageError

if TYPE_CHECKING:
    from gpufleet.impact import ImpactReport, Rendered
    from gpufleet.model import FleetPlan
    from gpufleet.model.diff import CostChange, Difference
    from gpufleet.stack import LoadedStack

NAME = "diff"
PROJECT = "gpufleet"

Stack = Annotated[Path, typer.Argument(help="A stack file, e.g. stacks/staging.yaml.")]


class Format(enum.StrEnum):
    text = "text"
    json = "json"
    markdown = "markdown"
    sarif = "sarif"


def _plan(path: Path) -> tuple[LoadedStack, FleetPlan]:
    """An invalid stack cannot be compared: exit 2, as diff(1) does for trouble, so 1 only means "differ"."""
    from gpufleet.catalog import load_catalog
    from gpufleet.model import resolve
    from gpufleet.stack import StackInvalid, load_stack

    loaded = load_stack(path)
    try:
        return loaded, resolve(loaded, load_catalog())
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


def _cost_lines(cost: CostChange) -> list[str]:
    """The change in cost per 30 days, floor and ceiling, and what neither total holds."""
    if not cost.changed:
        return []
    parts = [
        f"{bound} ${cost.left[bound]:,} -> ${cost.right[bound]:,} ({'+' if cost.change[bound] >= 0 else '-'}${abs(cost.change[bound]):,})"
        for bound in ("floor", "ceiling")
    ]
    lines = [
        f"cost per 30 days: {'; '.join(parts)} (prices of {cost.as_of}{', spot is that snapshot' if cost.spot_snapshot else ''})"
    ]
    for side, unpriced in (("left", cost.unpriced_left), ("right", cost.unpriced_right)):
        if unpriced:
            lines.append(f"  the {side} total leaves out {', '.join(unpriced)} (no price)")
    return lines


def rendered(plan: FleetPlan, stack: str) -> list[Rendered]:
    """Every resource the program registers for ``plan``, run offline as stack ``stack`` (both
    sides of a comparison run as the stack the edit is applied to, so their URNs line up)."""
    from gpufleet import program
    from gpufleet.impact import Rendered
    from gpufleet.preview import run_preview

    config = {"aws:region": plan.cluster.region} if plan.cluster.region else {}
    result = run_preview(lambda: program.run_plan(plan), project=PROJECT, stack=stack, config=config)
    return [Rendered.from_recorded(r) for r in result.resources]


def impact_report(before: FleetPlan, after: FleetPlan) -> ImpactReport:
    """Both plans previewed and every changed input classified from the catalog's provider facts."""
    from gpufleet.catalog import load_catalog
    from gpufleet.impact import ImpactReport, classify, pool_disruptions, queue_removals

    catalog = load_catalog()
    old, new = rendered(before, after.stack), rendered(after, after.stack)
    resources = classify(old, new, catalog.impact)
    return ImpactReport(
        left=before.source,
        right=after.source,
        resources=resources,
        pools=pool_disruptions(resources, before, after, catalog),
        provider_versions=catalog.impact.provider_versions,
        queues=queue_removals(old, new),
    )


def command(
    left: Stack,
    right: Stack,
    as_json: JsonFlag = False,
    impact: Annotated[
        bool,
        typer.Option(
            "--impact",
            help="Also run the program on both plans offline and say what each changed resource goes through "
            "(replace, rolls nodes, in place, rejected, blocked) and what each pool's nodes do.",
        ),
    ] = False,
    output_format: Annotated[
        Format | None,
        typer.Option(
            "--format",
            help="text, json (as --json), markdown (for $GITHUB_STEP_SUMMARY or a pull-request comment; with "
            "--impact, an impact column) or sarif (the impact's findings; implies --impact).",
        ),
    ] = None,
) -> None:
    """Compare two stacks' resolved plans pool by pool and tier by tier; exit 0 equal, 1 differ.

    Example: gpufleet diff base/prod.yaml stacks/prod.yaml --impact
    """
    from gpufleet.model.diff import compare, cost_change

    chosen = output_format or (Format.json if as_json else Format.text)
    if as_json and output_format not in (None, Format.json):
        raise UsageError(f"--json and --format {chosen.value} ask for two outputs; give one")
    (_, before), (loaded, after) = _plan(left), _plan(right)
    differences = compare(before, after)
    cost = cost_change(before, after)
    report = impact_report(before, after) if impact or chosen is Format.sarif else None
    if chosen is Format.sarif:
        from importlib.metadata import version

        from gpufleet.policy.report import findings_sarif

        assert report is not None
        print_json(findings_sarif(report.findings(loaded.locator), version("gpufleet")))
    elif chosen is Format.markdown:
        from gpufleet.catalog import load_catalog
        from gpufleet.commands.markdown import diff_report
        from gpufleet.picture import plan_scene

        impacts = report.for_differences(differences) if report is not None else ()
        sys.stdout.write(diff_report(differences, before.source, after.source, plan_scene(after, load_catalog()), impacts))
    elif chosen is Format.json:
        document = {
            "left": before.source,
            "right": after.source,
            "equal": not differences,
            "differences": [d.as_json() for d in differences],
            "cost": cost.as_json(),
        }
        if report is not None:
            document["impact"] = report.as_json()
        print_json(document)
    else:
        *lines, count = _text(differences, before.source, after.source)
        for line in [*lines, *_cost_lines(cost), *(report.text() if report else ()), count]:
            out.print(line, markup=False, soft_wrap=True)
    sys.stdout.flush()
    raise typer.Exit(1 if differences or (report is not None and report.resources) else 0)
