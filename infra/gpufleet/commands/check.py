"""``gpufleet check``: run the policy pack over stacks offline, as `pulumi preview --policy-pack` would."""

from __future__ import annotations

import enum
import sys
from pathlib import Path
from typing import Annotated

import typer

from gpufleet.commands.console import print_json

NAME = "check"


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
) -> None:
    """Validate, preview offline and run the policy pack; exit 1 on any mandatory violation.

    Example: gpufleet check stacks/*.yaml --format sarif > gpufleet.sarif
    """
    from importlib.metadata import version

    from gpufleet.policy.analyzer import PolicyConfigError
    from gpufleet.policy.check import check_stacks, read_policy_config
    from gpufleet.policy.report import json_report, sarif_report, text_report

    config = read_policy_config(policy_config)
    try:
        checks = check_stacks(stacks, config.values, policy_pack)
    except PolicyConfigError as refused:  # the pack refuses an entry: point at it in the file
        located = config.located(refused.path, refused.reason) if refused.path else None
        if located is None:
            raise
        raise located from None
    if output_format is Format.json:
        print_json(json_report(checks))
    elif output_format is Format.sarif:
        print_json(sarif_report(checks, version("gpufleet")))
    else:
        sys.stdout.write(text_report(checks))
    # A stack that cannot be read is reported like the rest, then the exit says it was a usage problem.
    raise typer.Exit(2 if any(check.unreadable for check in checks) else 1 if any(check.mandatory for check in checks) else 0)
