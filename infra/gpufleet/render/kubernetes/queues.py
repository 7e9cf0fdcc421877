"""Kueue: a flavor per GPU pool, ClusterQueues per workload class, LocalQueues per namespace."""

from __future__ import annotations

from collections.abc import Mapping

import pulumi

from gpufleet.model.kubernetes import NAMESPACE_NAME_LABEL, ClusterQueuePlan, GatePolicyPlan, QueuePlan, quantity
from gpufleet.names import POOL_LABEL, WORKLOAD_LABEL
from gpufleet.render.contract import ClusterHandle
from gpufleet.render.kubernetes.common import helm_release, metadata, under_cluster
from gpufleet.render.resources import Registered, kubernetes_object

KUEUE_API = "kueue.x-k8s.io/v1beta2"


class Queues(pulumi.ComponentResource):
    def __init__(self, plan: QueuePlan, handle: ClusterHandle, namespaces: Mapping[str, Registered]) -> None:
        super().__init__("gpufleet:kubernetes:Queues", "queues", None, under_cluster(handle))
        controllers = [handle.pool_nodes[pool] for pool in plan.controller_pools]
        if plan.jobset is not None:
            helm_release(plan.jobset, self, depends_on=controllers)
        kueue = helm_release(plan.kueue, self, depends_on=controllers)
        after_kueue = pulumi.ResourceOptions(parent=self, depends_on=[kueue])
        for priority in plan.priorities:
            # Kueue keeps a priority's value and description at the top level, beside metadata.
            body = {"metadata": metadata(priority.name), "value": priority.value, "description": priority.description}
            kubernetes_object(KUEUE_API, "WorkloadPriorityClass", priority.name, body, after_kueue)
            # The same order for the kube-scheduler: pods outside Kueue's view preempt by it too.
            pod_priority = {
                "metadata": metadata(priority.name),
                "value": priority.value,
                "globalDefault": False,
                "preemptionPolicy": "PreemptLowerPriority",
                "description": priority.description,
            }
            kubernetes_object(
                "scheduling.k8s.io/v1", "PriorityClass", priority.name, pod_priority, pulumi.ResourceOptions(parent=self)
            )
        if plan.gate_policy is not None:
            self._gate_policy(plan.gate_policy)
        # Each queue waits for (and on destroy goes before) only what it names: Kueue keeps a
        # flavor or ClusterQueue in use behind a finalizer. Depending on every flavor instead
        # made the SDK's cycle check walk the Kueue release's whole closure once per pool per
        # queue, quadratic in pools (README, Performance).
        topologies = {
            topology.name: kubernetes_object(
                KUEUE_API, "Topology", topology.name, {"metadata": metadata(topology.name), "spec": topology.spec()}, after_kueue
            )
            for topology in plan.topologies
        }
        flavors = {}
        for flavor in plan.flavors:
            spec = {"nodeLabels": flavor.node_labels, "tolerations": [t.manifest() for t in flavor.tolerations]}
            after = after_kueue
            if flavor.topology is not None:
                spec["topologyName"] = flavor.topology
                after = pulumi.ResourceOptions(parent=self, depends_on=[kueue, topologies[flavor.topology]])
            flavors[flavor.name] = kubernetes_object(
                KUEUE_API,
                "ResourceFlavor",
                flavor.name,
                {"metadata": metadata(flavor.name, **{POOL_LABEL: flavor.pool}), "spec": spec},
                after,
            )
        queues = {
            queue.name: self._cluster_queue(queue, plan.cohort, [kueue, *(flavors[quota.flavor] for quota in queue.flavors)])
            for queue in plan.cluster_queues
        }
        self.local_queues: dict[tuple[str, str], Registered] = {}
        for local in plan.local_queues:
            self.local_queues[(local.namespace, local.name)] = kubernetes_object(
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
                if quota.lending_limit is not None:
                    entry["lendingLimit"] = quota.lending_limit
                resources.append(entry)
            flavors.append({"name": quota.flavor, "resources": resources})
        spec = {
            "cohortName": cohort,
            "preemption": plan.preemption,
            "resourceGroups": [{"coveredResources": list(plan.resources), "flavors": flavors}],
        }
        if plan.stop_policy is not None:
            spec["stopPolicy"] = plan.stop_policy
        if plan.namespaces:
            # Left out, the selector admits no namespace at all (Kueue's default).
            spec["namespaceSelector"] = {
                "matchExpressions": [{"key": NAMESPACE_NAME_LABEL, "operator": "In", "values": list(plan.namespaces)}]
            }
        return kubernetes_object(
            KUEUE_API,
            "ClusterQueue",
            plan.name,
            {"metadata": metadata(plan.name, **{WORKLOAD_LABEL: plan.workload}), "spec": spec},
            pulumi.ResourceOptions(parent=self, depends_on=after),
        )

    def _gate_policy(self, plan: GatePolicyPlan) -> None:
        """Only Kueue's controller lifts its admission gate from a pod in the tenant namespaces."""
        policy = kubernetes_object(
            "admissionregistration.k8s.io/v1",
            "ValidatingAdmissionPolicy",
            plan.name,
            {
                "metadata": metadata(plan.name),
                "spec": {
                    "failurePolicy": "Fail",
                    "matchConstraints": {
                        "resourceRules": [
                            {"apiGroups": [""], "apiVersions": ["v1"], "operations": ["UPDATE"], "resources": ["pods"]}
                        ]
                    },
                    "validations": [
                        {
                            "expression": gate_kept_expression(plan),
                            "message": f"only Kueue lifts the {plan.gate} scheduling gate: the pod waits for its queue",
                        }
                    ],
                },
            },
            pulumi.ResourceOptions(parent=self),
        )
        kubernetes_object(
            "admissionregistration.k8s.io/v1",
            "ValidatingAdmissionPolicyBinding",
            plan.name,
            {
                "metadata": metadata(plan.name),
                "spec": {
                    "policyName": plan.name,
                    "validationActions": ["Deny"],
                    "matchResources": {
                        "namespaceSelector": {
                            "matchExpressions": [{"key": NAMESPACE_NAME_LABEL, "operator": "In", "values": list(plan.namespaces)}]
                        }
                    },
                },
            },
            pulumi.ResourceOptions(parent=self, depends_on=[policy]),
        )


def gate_kept_expression(plan: GatePolicyPlan) -> str:
    """CEL: the update is Kueue's, or the old pod had no gate, or the new pod keeps it."""
    had = f"has(oldObject.spec.schedulingGates) && oldObject.spec.schedulingGates.exists(g, g.name == '{plan.gate}')"
    keeps = f"has(object.spec.schedulingGates) && object.spec.schedulingGates.exists(g, g.name == '{plan.gate}')"
    return f"request.userInfo.username == '{plan.controller}' || !({had}) || ({keeps})"
