"""``gpufleet check``: run the policy pack over stacks offline, as `pulumi preview --policy-pack` would."""

from __future__ import annotations

import enum
import sys
from pathlib import Path
from typing import Annotated

import typer

from gpufleet.commands.console import print_json

NAME = "check"
REPLACEMENT_GATE = "production-replacement-acknowledged"


class Format(enum.StrEnum):
    text = "text"
    json = "json"
    sarif = "sarif"


def command(
    stacks: Annotated[list[Path], typer.Argument(help="Stack files, e.g. stacks/*.yaml.")],
    output_format: Annotated[
        Format, typer.Option("--format", help="text (grouped by pool and tier), json, or sarif (2.1.0).")
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

    Example: gpufleet check stacks/*.yaml --format sarif > gpufleet.sarif
    Example: gpufleet check stacks/prod.yaml --base origin/main
    """
    from importlib.metadata import version

    from gpufleet.commands.costs import today
    from gpufleet.policy.check import check_stacks, read_policy_config
    from gpufleet.policy.report import json_report, sarif_report, text_report

    overrides = read_policy_config(policy_config)
    if allow_replace:
        given = overrides.get(REPLACEMENT_GATE)
        gate = {"enforcementLevel": given} if isinstance(given, str) else dict(given or {})
        gate["may_replace"] = [*gate.get("may_replace", ()), *allow_replace]
        overrides = {**overrides, REPLACEMENT_GATE: gate}
    checks = check_stacks(stacks, overrides, policy_pack, base, today())
    if output_format is Format.json:
        print_json(json_report(checks))
    elif output_format is Format.sarif:
        print_json(sarif_report(checks, version("gpufleet")))
    else:
        sys.stdout.write(text_report(checks))
    raise typer.Exit(1 if any(check.mandatory for check in checks) else 0)
