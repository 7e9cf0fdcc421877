"""``gpufleet preview``: run the Pulumi program offline under Pulumi's mock runtime."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from gpufleet.commands.console import (
    Format,
    FormatOption,
    JsonFlag,
    WideFlag,
    err,
    out,
    print_findings,
    print_json,
    print_table,
    progress,
)
from gpufleet.errors import UsageError

if TYPE_CHECKING:
    from gpufleet.model import FleetPlan
    from gpufleet.stack import LoadedStack

NAME = "preview"
PROJECT = "gpufleet"
PICTURE = "fleet.svg"


def _config(stack: Path, plan: FleetPlan) -> dict[str, str]:
    """The stack config the program reads: the spec's path, and the region on AWS."""
    config = {"gpufleet:spec": str(stack.resolve())}
    if plan.cluster.region:
        config["aws:region"] = plan.cluster.region
    return config


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
            "--out",
            help="Folder for resources.json, mig-parted-config.yaml, fleet.svg and the Kubernetes objects (default out/<stack>/); replaced whole.",
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
    output_format: FormatOption = Format.text,
    wide: WideFlag = False,
) -> None:
    """Run the Pulumi program offline under Pulumi's mock runtime and show what it would create.

    It also writes the stack's subnet record (``<stack>.subnets.lock``) when the plan changes it,
    together with the output folder: both land, or neither.

    Example: gpufleet preview stacks/prod.yaml --out out/prod
    """
    from gpufleet import program
    from gpufleet.catalog import load_catalog
    from gpufleet.commands.costs import cost_json
    from gpufleet.commands.tables import aws_pins_table, pool_preview_rows, pool_subnets_table, preview_pools_table
    from gpufleet.model import resolve
    from gpufleet.model.plan import AwsCloud
    from gpufleet.outputs import commit
    from gpufleet.picture import fleet_scene, render_svg
    from gpufleet.policy.sizing import training_feeds
    from gpufleet.preview import render_resources_json, render_tree, run_preview, summarize
    from gpufleet.preview.manifests import HELM_DIR, K8S_DIR, manifest_files
    from gpufleet.records import record_update
    from gpufleet.stack import load_stack

    catalog = load_catalog()
    show_progress = not as_json and output_format is Format.text
    with progress(show_progress) as step:
        say = step or (lambda _: None)
        say(f"resolving {stack}")
        loaded = load_stack(stack)
        plan = resolve(loaded, catalog, replace_subnets=_replaceable(loaded, replace_subnets or []))
        say(f"running the Pulumi program for {plan.stack} under the mock runtime")
        result = run_preview(lambda: program.run_plan(plan), project=PROJECT, stack=plan.stack, config=_config(stack, plan))
    cost = plan.cost
    scene = fleet_scene(plan, cost, training_feeds(plan))
    for warning in result.warnings():
        err.print(f"gpufleet: warning: {warning}")
    print_findings(plan.findings)
    files = {
        "resources.json": render_resources_json(result),
        "mig-parted-config.yaml": plan.mig_config.to_yaml(),
        PICTURE: render_svg(scene),
        **manifest_files(result),
    }
    folder = out_dir or Path("out") / plan.stack
    record, record_file = record_update(loaded, plan)
    commit(folders={folder: files}, files=record_file)  # one commit point: the outputs and the record land together
    target, mig_config, picture = folder / "resources.json", folder / "mig-parted-config.yaml", folder / PICTURE
    k8s_dir, helm_dir = folder / K8S_DIR, folder / HELM_DIR
    summary = summarize(result)
    cloud = plan.cluster.cloud
    pools = pool_preview_rows(plan)
    if output_format is Format.markdown:
        from gpufleet.commands.markdown import preview_report

        sys.stdout.write(preview_report(scene, len(result.resources), plan.findings))
        return
    if as_json or output_format is Format.json:
        print_json(
            {
                "stack": plan.stack,
                "resources_file": str(target),
                "mig_parted_config_file": str(mig_config),
                "picture_file": str(picture),
                "kubernetes_dir": str(k8s_dir),
                "helm_dir": str(helm_dir),
                "resource_count": len(result.resources),
                "counts_by_type": summary.counts_by_type(),
                "pools": pools,
                "kubernetes_decisions": plan.kubernetes.decisions(),
                "aws": cloud.eks.summary() if isinstance(cloud, AwsCloud) else None,
                "network": plan.network.summary() if plan.network else None,
                "subnet_record": record,
                "cost": cost_json(cost, plan.cluster.monthly_budget_usd),
            }
        )
        return
    out.print(render_tree(summary))
    print_table(preview_pools_table(plan, width=out.width, wide=wide), wide=wide)
    if isinstance(cloud, AwsCloud):
        out.print(aws_pins_table(cloud.eks))
    if plan.network is not None:
        out.print(pool_subnets_table(plan.network))
    if record is not None and record["written"]:
        out.print(f"subnet record {record['file']} updated: review and commit it beside the stack")
    out.print(
        f"{len(result.resources)} resources written to {target}; MIG configs to {mig_config}; Kubernetes objects to {k8s_dir}, Helm values to {helm_dir}; the fleet drawn in {picture}"
    )
