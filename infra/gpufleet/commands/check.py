"""``gpufleet check``: run the policy pack over stacks offline, as `pulumi preview --policy-pack` would."""

from __future__ import annotations

import enum
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from gpufleet.commands.console import print_json, print_styled, progress

if TYPE_CHECKING:
    from gpufleet.policy.check import StackCheck

NAME = "check"
REPLACEMENT_GATE = "production-replacement-acknowledged"


class Format(enum.StrEnum):
    text = "text"
    json = "json"
    sarif = "sarif"
    markdown = "markdown"


def command(
    stacks: Annotated[list[Path], typer.Argument(help="Stack files, e.g. stacks/*.yaml.")],
    output_format: Annotated[
        Format,
        typer.Option(
            "--format",
            help="text (grouped by pool and tier), json, sarif (2.1.0), or markdown (for $GITHUB_STEP_SUMMARY or a pull-request comment).",
        ),
    ] = Format.text,
    policy_config: Annotated[
        Path | None, typer.Option("--policy-config", help="Policy config JSON, as for `pulumi preview --policy-pack-config`.")
    ] = None,
    policy_pack: Annotated[
        Path | None,
        typer.Option(
            "--policy-pack",
            help="Policy pack directory (default: the project's policies/, else the pack installed with gpufleet).",
        ),
    ] = None,
    base: Annotated[
        str | None,
        typer.Option(
            "--base",
            help="The stacks before this change, for the replacement gate: a folder holding the same file names, "
            "one stack file, or a git commit (e.g. origin/main).",
        ),
    ] = None,
    allow_replace: Annotated[
        list[str] | None,
        typer.Option(
            "--allow-replace",
            help="A pool or storage tier this change may replace in production (as the stack's may_replace). Repeatable.",
        ),
    ] = None,
) -> None:
    """Validate, preview offline and run the policy pack; exit 1 on any mandatory violation.

    With --base, also fail an edit of a production stack that replaces a training pool's node
    group or subnet or a retained storage tier the stack does not list in may_replace.

    Example: gpufleet check stacks/prod.yaml --base origin/main --format sarif > gpufleet.sarif
    """
    from importlib.metadata import version

    from gpufleet.commands.costs import today
    from gpufleet.policy.analyzer import PolicyConfigError
    from gpufleet.policy.check import check_stacks, read_policy_config
    from gpufleet.policy.report import json_report, sarif_report, text_lines

    config = read_policy_config(policy_config)
    overrides = dict(config.values)
    if allow_replace:
        given = overrides.get(REPLACEMENT_GATE)
        gate = {"enforcementLevel": given} if isinstance(given, str) else dict(given or {})
        gate["may_replace"] = [*gate.get("may_replace", ()), *allow_replace]
        overrides[REPLACEMENT_GATE] = gate
    try:
        with progress(output_format is Format.text) as step:
            checks = check_stacks(stacks, overrides, policy_pack, base=base, priced_on=today(), progress=step)
    except PolicyConfigError as refused:  # the pack refuses an entry: point at it in the file
        located = config.located(refused.path, refused.reason) if refused.path else None
        if located is None:
            raise
        raise located from None
    if output_format is Format.json:
        print_json(json_report(checks))
    elif output_format is Format.sarif:
        print_json(sarif_report(checks, version("gpufleet")))
    elif output_format is Format.markdown:
        sys.stdout.write(_markdown(checks))
    else:
        print_styled(text_lines(checks))
    # A stack that cannot be read is reported like the rest, then the exit says it was a usage problem.
    raise typer.Exit(2 if any(check.unreadable for check in checks) else 1 if any(check.mandatory for check in checks) else 0)


def _markdown(checks: list[StackCheck]) -> str:
    """The report with each valid stack's fleet, its feeds at the read rate the pack judged."""
    from gpufleet.catalog import load_catalog
    from gpufleet.commands.markdown import check_report
    from gpufleet.model.cost import fleet_cost
    from gpufleet.picture import fleet_scene

    catalog = load_catalog()
    scenes = {
        check.file: fleet_scene(check.plan, fleet_cost(check.plan, catalog.prices, catalog.mig), check.feeds)
        for check in checks
        if check.plan is not None
    }
    return check_report(checks, scenes)
