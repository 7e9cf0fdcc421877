"""The validation side of the cluster: the MPI operator the NCCL checks need, and each pool's
checks as one component when the stack asks the program to create them (``validation.create``).

The jobs are the plan's own manifests (``ValidationPlan``), unchanged: the preview writes the
same objects to ``validation/`` and ``gpufleet verify`` applies the same ones.
"""

from __future__ import annotations

from collections.abc import Sequence

import pulumi
import pulumi_kubernetes as k8s

from gpufleet.model.validation import MpiOperatorPlan, PoolChecks, ValidationPlan
from gpufleet.render.contract import ClusterHandle
from gpufleet.render.kubernetes import KubernetesLayer
from gpufleet.render.kubernetes.common import under_cluster
from gpufleet.render.resources import Registered, kubernetes_object


class MpiOperator(pulumi.ComponentResource):
    """kubeflow/mpi-operator from its release manifest (the repository publishes no chart), applied
    server-side by the provider as the project's README applies it with ``kubectl --server-side``:
    the MPIJob CRD is too large for client-side apply's last-applied annotation."""

    def __init__(self, plan: MpiOperatorPlan, handle: ClusterHandle) -> None:
        super().__init__("gpufleet:kubernetes:MpiOperator", "mpi-operator", None, under_cluster(handle))
        self.manifest = k8s.yaml.v2.ConfigFile(
            "mpi-operator", file=plan.manifest, opts=pulumi.ResourceOptions(parent=self, depends_on=handle.nodes_ready)
        )
        self.register_outputs({"version": plan.version})


class PoolValidation(pulumi.ComponentResource):
    """One pool's checks: its DCGM diagnostics Job and, on an RDMA fabric, its NCCL MPIJob."""

    def __init__(
        self, checks: PoolChecks, handle: ClusterHandle, after: Sequence[pulumi.Resource], operator: MpiOperator | None
    ) -> None:
        super().__init__("gpufleet:kubernetes:PoolValidation", f"{checks.pool}-checks", None, under_cluster(handle))
        self.jobs: list[Registered] = []
        for job in checks.jobs:
            manifest = job.manifest()
            body = {key: value for key, value in manifest.items() if key not in ("apiVersion", "kind")}
            needs = [*after, operator.manifest] if manifest["kind"] == "MPIJob" and operator is not None else list(after)
            self.jobs.append(
                kubernetes_object(
                    manifest["apiVersion"],
                    manifest["kind"],
                    job.name,
                    body,
                    pulumi.ResourceOptions(parent=self, depends_on=needs),
                )
            )
        self.register_outputs({"jobs": [job.name for job in checks.jobs]})


def render_validation(plan: ValidationPlan, handle: ClusterHandle, layer: KubernetesLayer) -> None:
    """The MPI operator wherever an NCCL check exists; the checks themselves only with ``create``,
    each after what it needs: its namespace, the LocalQueue it names (so Kueue, whose webhook
    suspends a queued job at creation, is there first), the MPI operator for an MPIJob."""
    operator = MpiOperator(plan.mpi_operator, handle) if plan.mpi_operator is not None else None
    if not plan.create:
        return
    for checks in plan.per_pool():
        placement = checks.dcgm.placement
        named = (placement.namespace, placement.queue) if placement.queue else None
        needs = (layer.namespaces.get(placement.namespace), layer.local_queues.get(named) if named else None)
        PoolValidation(checks, handle, [resource for resource in needs if resource is not None], operator)
