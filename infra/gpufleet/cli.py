"""The ``gpufleet`` command. Exit codes: 0 ok, 1 invalid stack or infeasible plan, 2 usage."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from gpufleet import program
from gpufleet.catalog import load_catalog
from gpufleet.console import JsonFlag, err, out, print_json
from gpufleet.mig.cli import mig_app
from gpufleet.model import FleetPlan, resolve
from gpufleet.model.mig_config import mig_parted_config
from gpufleet.preview import PreviewResult, render_tree, run_preview, summarize, write_resources_json
from gpufleet.report import catalog_rows, catalog_table, plan_summary, pools_table, preview_pools_table, problem_row
from gpufleet.spec import SpecInvalid, StackFileError, load_stack
from gpufleet.spec.loader import display_path
from gpufleet.spec.schema import stack_json_schema

PROJECT = "gpufleet"

app = typer.Typer(
    name="gpufleet",
    help="Provision heterogeneous GPU clusters from typed stack specs.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(mig_app, name="mig", help="MIG geometry, layout feasibility, mig-parted configs and automatic plans.")


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
            results.append({"stack": stack.stem, "file": display_path(stack), "valid": False, "error": str(exc), "problems": [], "pools": []})
            exit_code = 2
            continue
        except SpecInvalid as exc:
            for problem in exc.problems:
                err.print(str(problem))
            results.append({"stack": stack.stem, "file": display_path(stack), "valid": False, "problems": [problem_row(p) for p in exc.problems], "pools": []})
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


def _pool_preview_rows(plan: FleetPlan, result: PreviewResult) -> list[dict[str, Any]]:
    """Per pool, what the rendered launch template and node group actually say."""
    rows = []
    for pool in plan.pools:
        template = result.named("aws:ec2/launchTemplate:LaunchTemplate", f"{pool.name}-template")
        node_group = result.named("aws:eks/nodeGroup:NodeGroup", f"{pool.name}-nodes")
        interfaces = template.inputs.get("networkInterfaces", [])
        placement = template.inputs.get("placement") or {}
        rows.append(
            {
                "pool": pool.name,
                "instance_type": template.inputs["instanceType"],
                "accelerators": f"{pool.gpus_per_node} x {pool.accelerator.name}" if pool.accelerator else "-",
                "efa_interfaces": sum(1 for nic in interfaces if nic.get("interfaceType") in ("efa", "efa-only")),
                "zones": list(pool.zones),
                "subnets": [str(subnet.cidr) for subnet in pool.subnets],
                "placement_group": pool.placement.strategy if placement.get("groupName") else None,
                "capacity": node_group.inputs["capacityType"],
                "reservation": pool.capacity.reservation_id,
                "mig_config": node_group.inputs.get("labels", {}).get("nvidia.com/mig.config"),
            }
        )
    return rows


@app.command()
def preview(
    stack: Annotated[Path, typer.Argument(help="Stack file, e.g. stacks/prod.yaml.")],
    out_dir: Annotated[Path | None, typer.Option("--out", help="Where to write resources.json (default out/<stack>/).")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Run the Pulumi program offline under Pulumi's mock runtime and show what it would create."""
    try:
        plan = load_plan(stack)
    except StackFileError as exc:
        err.print(f"gpufleet: {exc}")
        raise typer.Exit(2) from None
    except SpecInvalid as exc:
        for problem in exc.problems:
            err.print(str(problem))
        raise typer.Exit(1) from None
    config = {"gpufleet:spec": str(stack.resolve())}
    if plan.cluster.region:
        config["aws:region"] = plan.cluster.region
    result = run_preview(program.run, project=PROJECT, stack=plan.stack, config=config)
    mig_text = mig_parted_config(plan).yaml_text
    folder = out_dir or Path("out") / plan.stack
    target = write_resources_json(result, folder / "resources.json")
    mig_config = folder / "mig-parted-config.yaml"
    mig_config.write_text(mig_text, encoding="utf-8")
    summary = summarize(result)
    pools = _pool_preview_rows(plan, result) if plan.network else []
    if as_json:
        print_json(
            {
                "stack": plan.stack,
                "resources_file": str(target),
                "mig_parted_config_file": str(mig_config),
                "resource_count": len(result.resources),
                "counts_by_type": summary.counts_by_type(),
                "pools": pools,
            }
        )
        return
    out.print(render_tree(summary))
    out.print(preview_pools_table(pools))
    out.print(f"{len(result.resources)} resources written to {target}; MIG configs to {mig_config}")


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
    print_json(stack_json_schema())


def main() -> None:
    app()
