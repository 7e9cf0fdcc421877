"""The Pulumi program: what ``pulumi up -s <env>`` runs and what ``gpufleet preview`` runs offline.

This is the composition root. ``Fleet`` picks the render backend for the cluster's provider
and hands each backend's ``ClusterHandle`` to the next; ``run`` is the stack program
``infra/__main__.py`` calls, reading ``stacks/<stack>.yaml`` (or ``gpufleet:spec``).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pulumi

from gpufleet.catalog import load_catalog
from gpufleet.inputs import InputInvalid, display_path
from gpufleet.model import FleetPlan, resolve
from gpufleet.model.subnets import record_drift
from gpufleet.render.aws.backend import render_aws
from gpufleet.render.contract import ClusterHandle
from gpufleet.render.kubernetes import render_kubernetes
from gpufleet.render.kubernetes.cluster import render_existing_cluster
from gpufleet.render.kubernetes.monitoring import Monitoring
from gpufleet.render.kubernetes.validation import render_validation
from gpufleet.stack import StackFileError, load_stack
from gpufleet.stack.record import record_path

CloudBackend = Callable[[FleetPlan, pulumi.Resource], ClusterHandle]
# What makes (or reaches) the cluster, by provider; the Kubernetes backend then renders into it.
CLOUD_BACKENDS: dict[str, CloudBackend] = {"aws": render_aws, "kubernetes": render_existing_cluster}


def load_plan(stack_file: str | Path) -> FleetPlan:
    """Resolve a stack file, or fail the Pulumi run with every located problem.

    A run deploys the subnets its committed record holds, never others: a record that is
    stale for the stack (a pool added, removed or resized since the last preview) fails it.
    """
    try:
        loaded = load_stack(stack_file)
        plan = resolve(loaded, load_catalog())
    except InputInvalid as invalid:  # the stack or its subnet record
        raise pulumi.RunError("invalid stack spec:\n" + "\n".join(str(f) for f in invalid.findings)) from None
    except StackFileError as unreadable:  # missing, a folder, a FIFO, too big: one line, no traceback
        raise pulumi.RunError(str(unreadable)) from None
    if plan.network is not None:
        drift = record_drift(loaded.record.record if loaded.record else None, plan.network.record)
        if drift:
            stack = display_path(loaded.path)
            raise pulumi.RunError(
                f"{display_path(record_path(loaded.path))} is stale for {stack} ({'; '.join(drift)}): "
                f"run `gpufleet preview {stack}` to refresh it, review the change and commit it"
            )
    return plan


class Fleet(pulumi.ComponentResource):
    """One stack's whole fleet as one component, for ``__main__.py`` and for users' own programs.

    Give it a resolved ``plan`` or a ``stack_file``. Outputs: ``cluster_name``, ``endpoint``,
    ``kubeconfig`` (secret), ``node_groups`` (pool -> node group) and ``buckets`` (tier -> bucket).
    """

    cluster_name: pulumi.Output[str]
    endpoint: pulumi.Output[str | None]
    kubeconfig: pulumi.Output[str]
    # Resolved, each maps a name to a string; typed as the handle's inputs they are made from.
    node_groups: pulumi.Output[dict[str, pulumi.Input[str]]]
    buckets: pulumi.Output[dict[str, pulumi.Input[str]]]

    def __init__(
        self,
        name: str,
        *,
        plan: FleetPlan | None = None,
        stack_file: str | Path | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        if plan is None and stack_file is not None:
            plan = load_plan(stack_file)
        elif plan is None or stack_file is not None:
            raise ValueError("Fleet takes exactly one of plan or stack_file")
        super().__init__("gpufleet:index:Fleet", name, None, opts)
        handle = CLOUD_BACKENDS[plan.cluster.provider](plan, self)
        layer = render_kubernetes(plan.kubernetes, handle)
        render_validation(plan.validation, handle, layer)
        if plan.monitoring is not None:
            Monitoring(plan.monitoring, handle)
        self.plan = plan
        self.handle = handle
        self.cluster_name = pulumi.Output.from_input(handle.name)
        self.endpoint = pulumi.Output.from_input(handle.endpoint)
        self.kubeconfig = pulumi.Output.secret(handle.kubeconfig or "")
        self.node_groups = pulumi.Output.from_input(dict(handle.node_groups))
        self.buckets = pulumi.Output.from_input(dict(handle.buckets))
        self.register_outputs({"cluster_name": self.cluster_name, "endpoint": self.endpoint, "node_groups": self.node_groups})


def stack_file() -> Path:
    configured = pulumi.Config("gpufleet").get("spec")
    path = Path(configured or f"stacks/{pulumi.get_stack()}.yaml")
    if path.is_absolute():
        return path
    return Path(pulumi.get_root_directory() or ".") / path


def run() -> None:
    """``pulumi up``: the stack named by config, checked against the configured region."""
    run_plan(load_plan(stack_file()))


def run_plan(plan: FleetPlan) -> None:
    """The program body for an already resolved plan (the offline preview resolves once)."""
    configured_region = pulumi.Config("aws").get("region")
    if plan.cluster.provider == "aws" and configured_region not in (None, plan.cluster.region):
        raise pulumi.RunError(
            f"stack config aws:region is {configured_region} but {plan.source} says cluster.region {plan.cluster.region}"
        )
    fleet = Fleet(plan.stack, plan=plan)
    pulumi.export("cluster_name", fleet.cluster_name)
    pulumi.export("endpoint", fleet.endpoint)
    pulumi.export("kubeconfig", fleet.kubeconfig)
    pulumi.export("node_groups", fleet.node_groups)
    pulumi.export("buckets", fleet.buckets)
