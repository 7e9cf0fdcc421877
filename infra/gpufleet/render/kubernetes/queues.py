"""Kueue: a flavor per GPU pool, ClusterQueues per workload class, LocalQueues per namespace."""

from __future__ import annotations

from collections.abc import Mapping

import pulumi
import pulumi_kubernetes as k8s

from gpufleet.model.kubernetes import ClusterQueuePlan, QueuePlan, quantity
from gpufleet.render.contract import ClusterHandle
from gpufleet.render.kubernetes.common import helm_release, metadata, under_cluster

KUEUE_API = "kueue.x-k8s.io/v1beta2"


class WorkloadPriorityClass(pulumi.CustomResource):
    """Kueue keeps a priority's value and description at the top level, where the SDK's
    ``CustomResource`` (spec only) cannot put them."""

    def __init__(self, name: str, value: int, description: str, opts: pulumi.ResourceOptions) -> None:
        kind = "WorkloadPriorityClass"
        props = {"apiVersion": KUEUE_API, "kind": kind, "metadata": metadata(name), "value": value, "description": description}
        super().__init__(f"kubernetes:{KUEUE_API}:{kind}", name, props, opts)


class Queues(pulumi.ComponentResource):
    def __init__(self, plan: QueuePlan, handle: ClusterHandle, namespaces: Mapping[str, k8s.core.v1.Namespace]) -> None:
        super().__init__("gpufleet:kubernetes:Queues", "queues", None, under_cluster(handle))
        kueue = helm_release(plan.kueue, self, depends_on=handle.nodes_ready)
        after_kueue = pulumi.ResourceOptions(parent=self, depends_on=[kueue])
        for priority in plan.priorities:
            WorkloadPriorityClass(priority.name, priority.value, priority.description, after_kueue)
        flavors = [
            k8s.apiextensions.CustomResource(
                flavor.name,
                api_version=KUEUE_API,
                kind="ResourceFlavor",
                metadata=metadata(flavor.name, **{"gpufleet.io/pool": flavor.pool}),
                spec={"nodeLabels": flavor.node_labels, "tolerations": [t.manifest() for t in flavor.tolerations]},
                opts=after_kueue,
            )
            for flavor in plan.flavors
        ]
        queues = [self._cluster_queue(queue, plan.cohort, [kueue, *flavors]) for queue in plan.cluster_queues]
        for local in plan.local_queues:
            k8s.apiextensions.CustomResource(
                f"{local.namespace}-{local.name}",
                api_version=KUEUE_API,
                kind="LocalQueue",
                metadata=metadata(local.name, local.namespace),
                spec={"clusterQueue": local.cluster_queue},
                opts=pulumi.ResourceOptions(parent=self, depends_on=[*queues, namespaces[local.namespace]]),
            )
        self.register_outputs({"cluster_queues": [queue.name for queue in plan.cluster_queues]})

    def _cluster_queue(self, plan: ClusterQueuePlan, cohort: str, after: list[pulumi.Resource]) -> k8s.apiextensions.CustomResource:
        flavors = []
        for quota in plan.flavors:
            resources = []
            for resource in plan.resources:
                entry = {"name": resource, "nominalQuota": quantity(resource, quota.nominal[resource])}
                if quota.borrowing_limit is not None:
                    entry["borrowingLimit"] = quota.borrowing_limit
                resources.append(entry)
            flavors.append({"name": quota.flavor, "resources": resources})
        return k8s.apiextensions.CustomResource(
            plan.name,
            api_version=KUEUE_API,
            kind="ClusterQueue",
            metadata=metadata(plan.name, **{"gpufleet.io/workload": plan.workload}),
            spec={
                "cohortName": cohort,
                "namespaceSelector": {},
                "preemption": plan.preemption,
                "resourceGroups": [{"coveredResources": list(plan.resources), "flavors": flavors}],
            },
            opts=pulumi.ResourceOptions(parent=self, depends_on=after),
        )
