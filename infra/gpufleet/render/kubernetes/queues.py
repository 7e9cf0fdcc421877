"""Kueue: a flavor per GPU pool, ClusterQueues per workload class, LocalQueues per namespace."""

from __future__ import annotations

from collections.abc import Mapping

import pulumi

from gpufleet.model.kubernetes import ClusterQueuePlan, QueuePlan, quantity
from gpufleet.names import POOL_LABEL, WORKLOAD_LABEL
from gpufleet.render.contract import ClusterHandle
from gpufleet.render.kubernetes.common import helm_release, metadata, under_cluster
from gpufleet.render.resources import Registered, kubernetes_object

KUEUE_API = "kueue.x-k8s.io/v1beta2"


class Queues(pulumi.ComponentResource):
    def __init__(self, plan: QueuePlan, handle: ClusterHandle, namespaces: Mapping[str, Registered]) -> None:
        super().__init__("gpufleet:kubernetes:Queues", "queues", None, under_cluster(handle))
        kueue = helm_release(plan.kueue, self, depends_on=[handle.pool_nodes[pool] for pool in plan.controller_pools])
        after_kueue = pulumi.ResourceOptions(parent=self, depends_on=[kueue])
        for priority in plan.priorities:
            # Kueue keeps a priority's value and description at the top level, beside metadata.
            body = {"metadata": metadata(priority.name), "value": priority.value, "description": priority.description}
            kubernetes_object(KUEUE_API, "WorkloadPriorityClass", priority.name, body, after_kueue)
        # Each queue waits for (and on destroy goes before) only what it names: Kueue keeps a
        # flavor or ClusterQueue in use behind a finalizer. Depending on every flavor instead
        # made the SDK's cycle check walk the Kueue release's whole closure once per pool per
        # queue, quadratic in pools (README, Performance).
        flavors = {
            flavor.name: kubernetes_object(
                KUEUE_API,
                "ResourceFlavor",
                flavor.name,
                {
                    "metadata": metadata(flavor.name, **{POOL_LABEL: flavor.pool}),
                    "spec": {"nodeLabels": flavor.node_labels, "tolerations": [t.manifest() for t in flavor.tolerations]},
                },
                after_kueue,
            )
            for flavor in plan.flavors
        }
        queues = {
            queue.name: self._cluster_queue(queue, plan.cohort, [kueue, *(flavors[quota.flavor] for quota in queue.flavors)])
            for queue in plan.cluster_queues
        }
        for local in plan.local_queues:
            kubernetes_object(
                KUEUE_API,
                "LocalQueue",
                f"{local.namespace}-{local.name}",
                {"metadata": metadata(local.name, local.namespace), "spec": {"clusterQueue": local.cluster_queue}},
                pulumi.ResourceOptions(parent=self, depends_on=[queues[local.cluster_queue], namespaces[local.namespace]]),
            )
        self.register_outputs({"cluster_queues": [queue.name for queue in plan.cluster_queues]})

    def _cluster_queue(self, plan: ClusterQueuePlan, cohort: str, after: list[pulumi.Resource]) -> Registered:
        flavors = []
        for quota in plan.flavors:
            resources = []
            for resource in plan.resources:
                entry = {"name": resource, "nominalQuota": quantity(resource, quota.nominal[resource])}
                if quota.borrowing_limit is not None:
                    entry["borrowingLimit"] = quota.borrowing_limit
                resources.append(entry)
            flavors.append({"name": quota.flavor, "resources": resources})
        spec = {
            "cohortName": cohort,
            "namespaceSelector": {},
            "preemption": plan.preemption,
            "resourceGroups": [{"coveredResources": list(plan.resources), "flavors": flavors}],
        }
        return kubernetes_object(
            KUEUE_API,
            "ClusterQueue",
            plan.name,
            {"metadata": metadata(plan.name, **{WORKLOAD_LABEL: plan.workload}), "spec": spec},
            pulumi.ResourceOptions(parent=self, depends_on=after),
        )
