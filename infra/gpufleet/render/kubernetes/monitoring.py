"""Monitoring: kube-prometheus-stack, gpufleet's ServiceMonitor for the DCGM exporter, its alert
rules and a Grafana dashboard per workload class, as the plan decided them (``model.monitoring``)."""

from __future__ import annotations

import pulumi

from gpufleet.model.monitoring import DASHBOARD_LABEL, RELEASE, RULES, SERVICE_MONITOR, MonitoringPlan
from gpufleet.render.contract import ClusterHandle
from gpufleet.render.kubernetes.common import helm_release, metadata, under_cluster
from gpufleet.render.resources import kubernetes_object

MONITORING_API = "monitoring.coreos.com/v1"


class Monitoring(pulumi.ComponentResource):
    """The release first (its CRDs and the namespace); the objects its Prometheus and Grafana pick
    up after it. ServiceMonitor and PrometheusRule carry ``release: <release name>``, the label the
    chart's Prometheus selects them by; dashboards carry the Grafana sidecar's label."""

    def __init__(self, plan: MonitoringPlan, handle: ClusterHandle) -> None:
        super().__init__("gpufleet:kubernetes:Monitoring", "monitoring", None, under_cluster(handle))
        release = helm_release(plan.release, self, depends_on=[handle.pool_nodes[pool] for pool in plan.controller_pools])
        after = pulumi.ResourceOptions(parent=self, depends_on=[release])
        selected = {"release": RELEASE}
        kubernetes_object(
            MONITORING_API,
            "ServiceMonitor",
            SERVICE_MONITOR,
            {"metadata": metadata(SERVICE_MONITOR, plan.namespace, **selected), "spec": plan.service_monitor},
            after,
        )
        kubernetes_object(
            MONITORING_API,
            "PrometheusRule",
            RULES,
            {"metadata": metadata(RULES, plan.namespace, **selected), "spec": plan.rules_spec()},
            after,
        )
        key, value = DASHBOARD_LABEL
        for dashboard in plan.dashboards:
            kubernetes_object(
                "v1",
                "ConfigMap",
                dashboard.name,
                {"metadata": metadata(dashboard.name, plan.namespace, **{key: value}), "data": plan.dashboard_data(dashboard)},
                after,
            )
        self.register_outputs({"release": release.output("status")})
