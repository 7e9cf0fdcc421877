"""``gpufleet preview``: run the Pulumi program offline under Pulumi's mock runtime."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from gpufleet.catalog import load_catalog
from gpufleet.commands.console import JsonFlag, out, print_json
from gpufleet.commands.tables import preview_pools_table
from gpufleet.model import FleetPlan, resolve
from gpufleet.stack import load_stack

NAME = "preview"
PROJECT = "gpufleet"


def _pool_preview_rows(plan: FleetPlan, result: Any) -> list[dict[str, Any]]:
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


def command(
    stack: Annotated[Path, typer.Argument(help="Stack file, e.g. stacks/prod.yaml.")],
    out_dir: Annotated[Path | None, typer.Option("--out", help="Where to write resources.json (default out/<stack>/).")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Run the Pulumi program offline under Pulumi's mock runtime and show what it would create."""
    from gpufleet import program
    from gpufleet.model.mig_config import mig_parted_config
    from gpufleet.preview import render_tree, run_preview, summarize, write_resources_json

    catalog = load_catalog()
    plan = resolve(load_stack(stack), catalog)
    config = {"gpufleet:spec": str(stack.resolve())}
    if plan.cluster.region:
        config["aws:region"] = plan.cluster.region
    result = run_preview(program.run, project=PROJECT, stack=plan.stack, config=config)
    mig_text = mig_parted_config(plan, catalog).to_yaml()
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
