"""Monitoring as rendered: the exporter's counters, the sink, the scrape, the alerts and dashboards,
and the cross-layer rule that every alert reads only what the rendered counters export for the
GPU models of the pools it watches."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gpufleet.catalog import load_catalog
from gpufleet.cli import app
from gpufleet.model import resolve
from gpufleet.model.monitoring import NODE_POOL, exported, referenced_metrics
from gpufleet.preview.manifests import kubernetes_objects
from gpufleet.stack import load_stack
from tests.kubernetes.conftest import REPO, rendered
from tests.kubernetes.invariants import release_values
from tests.kubernetes.promql import pool_sets, selections
from tests.reference import reference_path

CATALOG = load_catalog()
FACTS = CATALOG.monitoring


def _objects(result, kind: str) -> list[dict]:
    return [m for m in kubernetes_objects(result).values() if m["kind"] == kind]


def _rendered_counters(result) -> dict[str, str]:
    """Field -> Prometheus type, read back from the ConfigMap the preview rendered."""
    [config_map] = [m for m in _objects(result, "ConfigMap") if m["metadata"]["name"] == "gpufleet-dcgm-counters"]
    text = config_map["data"][FACTS.exporter.config_key]
    rows = [row for row in csv.reader(io.StringIO(text)) if row and not row[0].startswith("#")]
    return {row[0].strip(): row[1].strip() for row in rows}


def _upstream_fields(name: str) -> dict[str, bool]:
    """Field -> whether the upstream CSV has it on (False: commented out)."""
    found = {}
    for line in reference_path(f"k8s/{name}").read_text(encoding="utf-8").splitlines():
        body = line.lstrip("# ").strip()
        if body.startswith(("DCGM_FI_", "DCGM_EXP_")) and "," in body:
            found.setdefault(body.split(",")[0].strip(), not line.startswith("#"))
    return found


def test_the_exporter_reads_gpufleets_counter_list(stack) -> None:
    """GPU Operator ``object_controls.go``: with ``dcgmExporter.config.name`` set, the operator mounts
    key ``dcgm-metrics.csv`` of that ConfigMap (in its own namespace) and points
    ``DCGM_EXPORTER_COLLECTORS`` at it. Its own ServiceMonitor (``serviceMonitor.enabled`` defaults
    to true) is turned off: gpufleet's scrapes the exporter once."""
    _, plan, result = stack
    if plan.monitoring is None:
        assert not _objects(result, "ServiceMonitor")
        return
    operator = release_values(result, "gpu-operator")
    assert operator["dcgmExporter"] == {
        "enabled": True,
        "config": {"name": "gpufleet-dcgm-counters"},
        "serviceMonitor": {"enabled": False},
    }
    [config_map] = [m for m in _objects(result, "ConfigMap") if m["metadata"]["name"] == "gpufleet-dcgm-counters"]
    assert config_map["metadata"]["namespace"] == CATALOG.kubernetes.charts["gpu-operator"].namespace
    assert set(config_map["data"]) == {"dcgm-metrics.csv"}
    [release] = [r for r in result.resources if r.type == "kubernetes:helm.sh/v3:Release" and r.inputs["name"] == "gpu-operator"]
    [map_resource] = [r for r in result.resources if r.name == "gpufleet-dcgm-counters"]
    assert map_resource.urn in release.depends_on


def test_every_counter_is_an_exporter_field_and_the_error_counters_are_turned_on() -> None:
    """dcgm-exporter 4.5.3-4.8.2 ``etc/default-counters.csv`` and ``dcp-metrics-included.csv`` list every
    field the exporter knows (``# DCGM_FI_DEV_ECC_DBE_VOL_TOTAL, counter, ...``: commented, i.e. off).
    gpufleet's list keeps the GPU Operator's default on, and turns on ECC and NVLink error counters."""
    upstream = _upstream_fields("dcgm-exporter__etc__default-counters.csv")
    default_on = _upstream_fields("dcgm-exporter__etc__dcp-metrics-included.csv")
    ours = {counter.field: counter.type for counter in FACTS.counters.fields}
    assert set(ours) <= set(upstream) | set(default_on)
    assert {field for field, on in default_on.items() if on} <= set(ours)
    for field in ("DCGM_FI_DEV_ECC_DBE_VOL_TOTAL", "DCGM_FI_DEV_NVLINK_RECOVERY_ERROR_COUNT_TOTAL"):
        assert upstream[field] is False and field in ours


def test_every_alert_reads_only_what_the_rendered_counters_export_for_the_pools_it_watches(stack) -> None:
    """The cross-layer rule, read from the rendered objects with an independent PromQL parser: each
    alert's metrics are DCGM fields in the rendered counters ConfigMap or metrics of the other
    exporters, and each holds for every pool the alert's ``pool=~`` names: profiling fields only on
    Volta-or-newer GPUs (dcgm-exporter#395), ``*_UTIL`` never on MIG instances (dcgm-exporter#430),
    NVLink counters only on GPUs with NVLinks, InfiniBand counters only on InfiniBand HCAs."""
    _, plan, result = stack
    if plan.monitoring is None:
        return
    counters = _rendered_counters(result)
    [rule] = _objects(result, "PrometheusRule")
    groups = {group["name"]: group["rules"] for group in rule["spec"]["groups"]}
    records = {r["record"] for r in groups["gpufleet.node-pools"]}
    pools = {pool.name: pool for pool in plan.monitoring.pools}
    checked = 0
    for alert in groups["gpufleet.gpus"]:
        metrics = {s.metric for s in selections(alert["expr"])} - records
        [watched] = pool_sets(alert["expr"], NODE_POOL)
        for metric in metrics:
            assert metric in counters or metric in FACTS.other_metrics.metrics, (alert["alert"], metric)
            for name in watched:
                assert metric in exported(pools[name], counters, FACTS), (alert["alert"], metric, name)
                checked += 1
    assert checked
    assert plan.monitoring.problems(FACTS) == []


def test_every_expression_parses_and_the_model_reads_the_same_metrics(stack) -> None:
    """Prometheus refuses a rule whose expression does not parse (promql-parser is the Prometheus
    grammar); the metrics the model checks are the ones the parser finds."""
    _, plan, _ = stack
    if plan.monitoring is None:
        return
    for record in plan.monitoring.records:
        assert {s.metric for s in selections(record.expr)} == {"kube_node_labels"}
    for alert in plan.monitoring.alerts:
        assert {s.metric for s in selections(alert.expr)} == referenced_metrics(alert.expr), alert.name
    for dashboard in plan.monitoring.dashboards:
        for panel in dashboard.panels:
            assert {s.metric for s in selections(panel.expr)} == referenced_metrics(panel.expr), panel.title


def test_nodes_map_to_pools_by_the_labels_kube_state_metrics_is_allowed_to_export(stack) -> None:
    """kube-state-metrics' ``kube_node_labels`` carries only labels ``--metric-labels-allowlist``
    names, as ``label_<key with non-alphanumerics as _>``: the allowlist holds every key a pool's
    nodes are picked by, and each pool's recording rule selects exactly its selector."""
    _, plan, result = stack
    if plan.monitoring is None:
        return
    allow = release_values(result, "kube-prometheus-stack")["kube-state-metrics"]["metricLabelsAllowlist"]
    [entry] = allow
    keys = set(entry.removeprefix("nodes=[").removesuffix("]").split(","))
    for pool, record in zip(plan.monitoring.pools, plan.monitoring.records, strict=True):
        assert set(pool.selector) <= keys
        [selection] = selections(record.expr)
        expected = {
            "label_" + "".join(c if c.isalnum() or c == "_" else "_" for c in k): ("MatchOp.Equal", v)
            for k, v in pool.selector.items()
        }
        assert selection.matchers == expected


def test_mig_pools_are_watched_by_the_engine_activity_not_gpu_util() -> None:
    """prod's serve-h100 is MIG-partitioned: ``DCGM_FI_DEV_GPU_UTIL`` reports nothing for MIG
    instances (dcgm-exporter#216, #430), so its idle alert reads ``DCGM_FI_PROF_GR_ENGINE_ACTIVE``."""
    plan, _ = rendered("prod", str(REPO / "stacks"))
    alerts = {alert.name: alert for alert in plan.monitoring.alerts}
    assert alerts["GpuAllocatedIdleMig"].pools == ("serve-h100",)
    assert alerts["GpuAllocatedIdleMig"].metrics == {"DCGM_FI_PROF_GR_ENGINE_ACTIVE"}
    assert "serve-h100" not in alerts["GpuAllocatedIdle"].pools
    assert alerts["NvlinkErrors"].pools == ("serve-h100", "train-h200")  # L4 is PCIe only
    assert alerts["RdmaPortDown"].pools == ("train-h200",)


def test_the_sink_keeps_a_stated_retention_on_a_stated_volume() -> None:
    """kube-prometheus-stack: ``retention`` and ``retentionSize`` (Prometheus drops the oldest blocks
    past the size, so the volume never fills), the claim on gpufleet's gp3 class on AWS and on the
    cluster's default class elsewhere; ServiceMonitor and PrometheusRule carry ``release:
    kube-prometheus-stack``, the label the chart's Prometheus selects by default."""
    _, result = rendered("prod", str(REPO / "stacks"))
    spec = release_values(result, "kube-prometheus-stack")["prometheus"]["prometheusSpec"]
    assert (spec["retention"], spec["retentionSize"]) == ("15d", "90GiB")
    assert spec["storageSpec"]["volumeClaimTemplate"]["spec"]["storageClassName"] == "gp3"
    assert spec["storageSpec"]["volumeClaimTemplate"]["spec"]["resources"]["requests"]["storage"] == "100Gi"
    for kind in ("ServiceMonitor", "PrometheusRule"):
        [found] = _objects(result, kind)
        assert found["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    _, onprem = rendered("onprem", str(REPO / "stacks"))
    claim = release_values(onprem, "kube-prometheus-stack")["prometheus"]["prometheusSpec"]["storageSpec"]["volumeClaimTemplate"]
    assert "storageClassName" not in claim["spec"]


def test_the_service_monitor_scrapes_the_operators_exporter_service() -> None:
    """GPU Operator ``assets/state-dcgm-exporter/0400_service.yaml``: Service ``nvidia-dcgm-exporter``
    labelled ``app: nvidia-dcgm-exporter``, port ``gpu-metrics`` (9400), in the operator's namespace."""
    _, result = rendered("prod", str(REPO / "stacks"))
    [monitor] = _objects(result, "ServiceMonitor")
    assert monitor["spec"]["selector"] == {"matchLabels": {"app": "nvidia-dcgm-exporter"}}
    assert monitor["spec"]["namespaceSelector"] == {"matchNames": ["gpu-operator"]}
    [endpoint] = monitor["spec"]["endpoints"]
    assert endpoint["port"] == "gpu-metrics"
    assert endpoint["relabelings"] == [
        {"sourceLabels": ["__meta_kubernetes_pod_node_name"], "targetLabel": "node", "action": "replace"}
    ]


def test_a_dashboard_per_workload_class_with_pool_and_gpu_type_variables(stack) -> None:
    """The chart's Grafana sidecar loads ConfigMaps labelled ``grafana_dashboard: "1"`` from any
    namespace, against the datasource of uid ``prometheus`` the chart provisions."""
    _, plan, result = stack
    if plan.monitoring is None:
        return
    maps = {m["metadata"]["name"]: m for m in _objects(result, "ConfigMap") if m["metadata"]["labels"].get("grafana_dashboard")}
    classes = {pool.workload for pool in plan.monitoring.pools}
    assert set(maps) == {f"gpufleet-{workload}" for workload in classes}
    for name, config_map in maps.items():
        [document] = [json.loads(text) for text in config_map["data"].values()]
        assert [v["name"] for v in document["templating"]["list"]] == ["pool", "gpu"]
        assert document["panels"]
        for panel in document["panels"]:
            [target] = panel["targets"]
            assert target["datasource"]["uid"] == "prometheus"
            assert pool_sets(target["expr"], NODE_POOL), (name, panel["title"])


def test_validate_json_states_the_monitoring_decisions() -> None:
    outcome = CliRunner().invoke(app, ["validate", str(REPO / "stacks" / "prod.yaml"), "--json"])
    assert outcome.exit_code == 0, outcome.output
    [stack] = json.loads(outcome.stdout)["stacks"]
    shown = stack["monitoring"]
    assert shown["release"]["version"] == CATALOG.kubernetes.charts["kube-prometheus-stack"].version
    decided = {d["what"] for d in shown["decisions"]}
    assert {"dcgmExporter.config", "no metric: nccl", "no metric: efa", "alert GpuNodeNotReady"} <= decided
    assert "prometheus.prometheusSpec.retention, retentionSize" in shown["release"]["reasons"]


@pytest.mark.parametrize(
    ("omit", "located", "message"),
    [
        (
            "DCGM_FI_DEV_XID_ERRORS",
            "monitoring.omit_counters.0",
            "alert GpuXidError reads DCGM_FI_DEV_XID_ERRORS on lab-l4, serve-h100, train-h200",
        ),
        (
            "DCGM_FI_PROF_GR_ENGINE_ACTIVE",
            "monitoring.omit_counters.0",
            "alert GpuAllocatedIdleMig reads DCGM_FI_PROF_GR_ENGINE_ACTIVE on serve-h100",
        ),
        (
            "DCGM_FI_DEV_GPU_UTILS",
            "monitoring.omit_counters.0",
            "unknown DCGM counter 'DCGM_FI_DEV_GPU_UTILS' (did you mean 'DCGM_FI_DEV_GPU_UTIL'?)",
        ),
    ],
)
def test_leaving_out_a_counter_an_alert_needs_is_refused_where_it_is_written(
    tmp_path: Path, omit: str, located: str, message: str
) -> None:
    """GF-MON-002: an alert whose metric is not exported never fires; GF-MON-001: a field the list lacks."""
    text = (REPO / "stacks" / "prod.yaml").read_text(encoding="utf-8")
    path = tmp_path / "prod.yaml"
    path.write_text(text.replace("queues:\n", f"monitoring: {{omit_counters: [{omit}]}}\nqueues:\n"), encoding="utf-8")
    (tmp_path / "prod.subnets.lock").write_text(
        (REPO / "stacks" / "prod.subnets.lock").read_text(encoding="utf-8"), encoding="utf-8"
    )
    outcome = CliRunner().invoke(app, ["validate", str(path), "--json"])
    assert outcome.exit_code == 1
    [stack] = json.loads(outcome.stdout)["stacks"]
    [problem] = [p for p in stack["problems"] if p["field"] == located]
    assert message in problem["message"]


def test_leaving_out_a_counter_no_alert_reads_drops_it_from_the_list(tmp_path: Path) -> None:
    text = (REPO / "stacks" / "prod.yaml").read_text(encoding="utf-8")
    path = tmp_path / "prod.yaml"
    path.write_text(text.replace("queues:\n", "monitoring: {omit_counters: [DCGM_FI_DEV_SM_CLOCK]}\nqueues:\n"), encoding="utf-8")
    (tmp_path / "prod.subnets.lock").write_text(
        (REPO / "stacks" / "prod.subnets.lock").read_text(encoding="utf-8"), encoding="utf-8"
    )
    plan = resolve(load_stack(path), CATALOG)
    assert "DCGM_FI_DEV_SM_CLOCK" not in plan.monitoring.exporter.counters.data["dcgm-metrics.csv"]
    assert "DCGM_FI_DEV_SM_CLOCK" not in plan.monitoring.exporter.fields
