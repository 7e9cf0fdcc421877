"""The ``gpufleet`` command. Exit codes: 0 ok, 1 invalid stack or infeasible plan, 2 usage."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from gpufleet.catalog import load_catalog
from gpufleet.model import FleetPlan, resolve
from gpufleet.report import catalog_rows, catalog_table, plan_summary, pools_table, problem_row
from gpufleet.spec import SpecInvalid, StackFileError, StackSpec, load_stack

app = typer.Typer(
    name="gpufleet",
    help="Provision heterogeneous GPU clusters from typed stack specs.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
# Tables keep full names when piped (rich would squeeze them to 80 columns).
out = Console(highlight=False, width=None if sys.stdout.isatty() else 160)
err = Console(stderr=True, soft_wrap=True, highlight=False, markup=False)

JsonFlag = Annotated[bool, typer.Option("--json", help="Stable, machine-readable JSON on stdout.")]


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, sort_keys=True) + "\n")


def load_plan(stack: Path) -> FleetPlan:
    """Load and resolve one stack; raise ``SpecInvalid`` or ``StackFileError``."""
    return resolve(load_stack(stack))


@app.command()
def validate(stacks: Annotated[list[Path], typer.Argument(help="Stack files, e.g. stacks/prod.yaml.")], as_json: JsonFlag = False) -> None:
    """Check stack files against the catalog and print each pool's resolved shape."""
    results: list[dict[str, Any]] = []
    exit_code = 0
    for stack in stacks:
        try:
            plan = load_plan(stack)
        except StackFileError as exc:
            err.print(f"gpufleet: {exc}")
            exit_code = 2
            continue
        except SpecInvalid as exc:
            for problem in exc.problems:
                err.print(str(problem))
            results.append({"file": str(stack), "valid": False, "problems": [problem_row(p) for p in exc.problems], "pools": []})
            exit_code = max(exit_code, 1)
            continue
        results.append(plan_summary(plan))
        if not as_json:
            out.print(pools_table(plan))
    if as_json:
        print_json({"stacks": results})
    elif exit_code == 1:
        count = sum(len(r["problems"]) for r in results)
        err.print(f"{count} problem(s) found")
    raise typer.Exit(exit_code)


@app.command()
def catalog(as_json: JsonFlag = False) -> None:
    """List the hardware catalog's instance types and their accelerators."""
    rows = catalog_rows(load_catalog())
    if as_json:
        print_json({"instance_types": rows})
    else:
        out.print(catalog_table(rows))


@app.command()
def schema() -> None:
    """Print the stack file's JSON Schema (for editors' YAML language servers)."""
    document = StackSpec.model_json_schema()
    document["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    document["title"] = "gpufleet stack"
    print_json(document)


def main() -> None:
    app()
