"""``gpufleet validate``: check stack files and print each pool's resolved shape."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from gpufleet.commands.console import JsonFlag, WideFlag, err, out, print_findings, print_json, print_table
from gpufleet.inputs import InputInvalid

NAME = "validate"


def command(
    stacks: Annotated[list[Path], typer.Argument(help="Stack files, e.g. stacks/prod.yaml.")],
    strict: Annotated[bool, typer.Option("--strict", help="Fail (exit 1) on warnings too.")] = False,
    as_json: JsonFlag = False,
    wide: WideFlag = False,
) -> None:
    """Check stack files against the catalog and print each pool's resolved shape and cost.

    Errors fail the run; warnings are printed and fail it only with ``--strict``.

    Example: gpufleet validate stacks/dev.yaml stacks/prod.yaml --strict
    """
    from gpufleet.catalog import load_catalog
    from gpufleet.commands.costs import cost_findings, cost_json, cost_table, share_lines, today
    from gpufleet.commands.tables import plan_summary, pools_table
    from gpufleet.model import resolve
    from gpufleet.stack import StackFileError, load_stack
    from gpufleet.stack.loader import display_path

    results: list[dict[str, Any]] = []
    exit_code = 0
    catalog = load_catalog()
    priced_on = today()
    for stack in stacks:
        try:
            plan = resolve(load_stack(stack), catalog)
        except StackFileError as exc:
            err.print(f"gpufleet: {exc}")
            results.append(
                {"stack": stack.stem, "file": display_path(stack), "valid": False, "error": str(exc), "problems": [], "pools": []}
            )
            exit_code = max(exit_code, exc.exit_code)
            continue
        except InputInvalid as exc:  # the stack or its subnet record
            for finding in exc.findings:
                err.print(str(finding))
            results.append(
                {
                    "stack": stack.stem,
                    "file": display_path(stack),
                    "valid": False,
                    "problems": [f.as_json() for f in exc.findings],
                    "pools": [],
                }
            )
            exit_code = max(exit_code, exc.exit_code)
            continue
        cost = plan.cost
        budget = plan.cluster.monthly_budget_usd
        findings = [*plan.findings, *cost_findings(catalog, priced_on)]
        summary = plan_summary(plan)
        summary["problems"] = [finding.as_json() for finding in findings]
        summary["cost"] = cost_json(cost, budget)
        results.append(summary)
        warnings = [finding for finding in findings if finding.severity == "warning"]
        if strict and warnings:
            exit_code = max(exit_code, 1)
        if not as_json:
            print_findings(findings)
            print_table(pools_table(plan, width=out.width, wide=wide), wide=wide)
            out.print(cost_table(cost, budget))
            for line in share_lines(cost):
                out.print(line, highlight=False)
    if as_json:
        print_json({"stacks": results})
    elif exit_code == 1:
        count = sum(len(r["problems"]) for r in results)
        err.print(f"{count} problem(s) found" if count else "warnings found (--strict)")
    raise typer.Exit(exit_code)
