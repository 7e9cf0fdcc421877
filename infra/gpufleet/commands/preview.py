"""``gpufleet preview``: run the Pulumi program offline under Pulumi's mock runtime."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from gpufleet.commands.console import JsonFlag, err, out, print_findings, print_json
from gpufleet.errors import UsageError
from gpufleet.names import CLUSTER_QUEUE_TYPE, LAUNCH_TEMPLATE_TYPE, NODE_GROUP_TYPE, NODE_POOL_TYPE, RESOURCE_FLAVOR_TYPE

if TYPE_CHECKING:
    from gpufleet.model import FleetPlan
    from gpufleet.model.plan import Pool
    from gpufleet.stack import LoadedStack

NAME = "preview"
PROJECT = "gpufleet"
POOL_COMPONENT = NODE_POOL_TYPE
LAUNCH_TEMPLATE = LAUNCH_TEMPLATE_TYPE
NODE_GROUP = NODE_GROUP_TYPE
FLAVOR = RESOURCE_FLAVOR_TYPE
CLUSTER_QUEUE = CLUSTER_QUEUE_TYPE


def _pool_preview_rows(plan: FleetPlan, result: Any) -> list[dict[str, Any]]:
    """Per pool, what its component actually registered (launch template, node group) and the
    Kueue objects that reach it."""
    rows = []
    for pool in plan.pools:
        kueue = _kueue_of(pool, result)
        if plan.network is None:
            rows.append({"pool": pool.name, "instance_type": pool.node_kind, "accelerators": _accelerators(pool), **kueue})
            continue
        component = result.component(POOL_COMPONENT, pool.name)
        registered = {resource.type: resource for resource in result.subtree(component.urn)}
        template, node_group = registered[LAUNCH_TEMPLATE], registered[NODE_GROUP]
        interfaces = template.inputs.get("networkInterfaces", [])
        placement = template.inputs.get("placement") or {}
        rows.append(
            {
                **kueue,
                "pool": pool.name,
                "instance_type": template.inputs["instanceType"],
                "accelerators": _accelerators(pool),
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


def _accelerators(pool: Pool) -> str:
    return f"{pool.gpus_per_node} x {pool.accelerator.name}" if pool.accelerator else "-"


def _kueue_of(pool: Pool, result: Any) -> dict[str, Any]:
    """The flavor that pins this pool, the queues holding its quota, what each node offers pods."""
    from gpufleet.model.kubernetes import POOL_LABEL

    flavor = next((f for f in result.of_type(FLAVOR) if f.inputs["metadata"]["labels"].get(POOL_LABEL) == pool.name), None)
    if flavor is None:
        return {"flavor": None, "queues": [], "pod_resources": {}}
    name = flavor.inputs["metadata"]["name"]
    queues, offered = [], {}
    for queue in result.of_type(CLUSTER_QUEUE):
        for group in queue.inputs["spec"]["resourceGroups"]:
            for entry in group["flavors"]:
                if entry["name"] != name:
                    continue
                queues.append(queue.inputs["metadata"]["name"])
                for quota in entry["resources"]:
                    if quota["name"] not in ("cpu", "memory") and quota["nominalQuota"]:
                        offered[quota["name"]] = quota["nominalQuota"] // pool.nodes.max
    return {"flavor": name, "queues": sorted(queues), "pod_resources": dict(sorted(offered.items()))}


def _kubernetes_decisions(plan: FleetPlan, catalog: Any) -> list[dict[str, str]]:
    """Why each stack-dependent Helm value and queue is what it is."""
    from gpufleet.model.kubernetes import kubernetes_plan

    k8s = kubernetes_plan(plan, catalog)
    decisions = [{"what": f"{r.name}: {reason.subject}", "why": reason.why} for r in k8s.releases for reason in r.reasons]
    if k8s.queues is not None:
        decisions += [{"what": f"ClusterQueue {q.name}", "why": q.reason} for q in k8s.queues.cluster_queues]
    if k8s.autoscaler is not None:
        decisions += [{"what": f"cluster-autoscaler: {r.subject}", "why": r.why} for r in k8s.autoscaler.skipped]
    return decisions


def _replaceable(loaded: LoadedStack, names: list[str]) -> frozenset[str]:
    """Only pools with a recorded subnet of their own can have it replaced."""
    recorded = loaded.record.record.pool_subnets if loaded.record else {}
    unknown = [name for name in names if name not in recorded]
    if unknown:
        have = ", ".join(sorted(recorded)) or "none"
        raise UsageError(f"--replace-subnet {', '.join(unknown)}: not a pool with a recorded subnet (recorded: {have})")
    return frozenset(names)


def command(
    stack: Annotated[Path, typer.Argument(help="Stack file, e.g. stacks/prod.yaml.")],
    out_dir: Annotated[
        Path | None,
        typer.Option(
            "--out", help="Folder for resources.json and mig-parted-config.yaml (default out/<stack>/); replaced whole."
        ),
    ] = None,
    as_json: JsonFlag = False,
    replace_subnets: Annotated[
        list[str] | None,
        typer.Option(
            "--replace-subnet",
            help="A training pool that outgrew its recorded subnet gets a new, larger one (replacing its nodes). Repeatable.",
        ),
    ] = None,
) -> None:
    """Run the Pulumi program offline under Pulumi's mock runtime and show what it would create.

    It also writes the stack's subnet record (``<stack>.subnets.lock``) when the plan changes it,
    together with the output folder: both land, or neither.

    Example: gpufleet preview stacks/prod.yaml --out out/prod
    """
    from gpufleet import program
    from gpufleet.catalog import load_catalog
    from gpufleet.commands.costs import cost_json, plan_cost
    from gpufleet.commands.tables import aws_pins_table, pool_subnets_table, preview_pools_table
    from gpufleet.model import resolve
    from gpufleet.model.mig_config import mig_parted_config
    from gpufleet.outputs import commit
    from gpufleet.preview import render_resources_json, render_tree, run_preview, summarize
    from gpufleet.preview.manifests import HELM_DIR, K8S_DIR, manifest_files
    from gpufleet.records import record_update
    from gpufleet.stack import load_stack

    catalog = load_catalog()
    loaded = load_stack(stack)
    plan = resolve(loaded, catalog, replace_subnets=_replaceable(loaded, replace_subnets or []))
    config = {"gpufleet:spec": str(stack.resolve())}
    if plan.cluster.region:
        config["aws:region"] = plan.cluster.region
    result = run_preview(lambda: program.run_plan(plan), project=PROJECT, stack=plan.stack, config=config)
    for warning in result.warnings():
        err.print(f"gpufleet: warning: {warning}")
    print_findings(plan.findings)
    files = {
        "resources.json": render_resources_json(result),
        "mig-parted-config.yaml": mig_parted_config(plan, catalog).to_yaml(),
        **manifest_files(result),
    }
    folder = out_dir or Path("out") / plan.stack
    record, record_file = record_update(loaded, plan)
    commit(folders={folder: files}, files=record_file)  # one commit point: the outputs and the record land together
    target, mig_config = folder / "resources.json", folder / "mig-parted-config.yaml"
    k8s_dir, helm_dir = folder / K8S_DIR, folder / HELM_DIR
    summary = summarize(result)
    pools = _pool_preview_rows(plan, result)
    if as_json:
        print_json(
            {
                "stack": plan.stack,
                "resources_file": str(target),
                "mig_parted_config_file": str(mig_config),
                "kubernetes_dir": str(k8s_dir),
                "helm_dir": str(helm_dir),
                "resource_count": len(result.resources),
                "counts_by_type": summary.counts_by_type(),
                "pools": pools,
                "kubernetes_decisions": _kubernetes_decisions(plan, catalog),
                "aws": plan.cluster.aws.summary() if plan.cluster.aws else None,
                "network": plan.network.summary() if plan.network else None,
                "subnet_record": record,
                "cost": cost_json(plan_cost(plan, catalog), plan.cluster.monthly_budget_usd),
            }
        )
        return
    out.print(render_tree(summary))
    out.print(preview_pools_table(pools))
    if plan.cluster.aws:
        out.print(aws_pins_table(plan.cluster.aws))
    if plan.network is not None:
        out.print(pool_subnets_table(plan.network))
    if record is not None and record["written"]:
        out.print(f"subnet record {record['file']} updated: review and commit it beside the stack")
    out.print(
        f"{len(result.resources)} resources written to {target}; MIG configs to {mig_config}; Kubernetes objects to {k8s_dir}, Helm values to {helm_dir}"
    )
