"""Watching the GPU pools: the DCGM exporter's counters, the metrics sink, its alerts and dashboards.

Decided once per resolution into ``FleetPlan.monitoring`` (None without NVIDIA GPU pools):

* the counters the DCGM exporter collects are a ConfigMap gpufleet owns, handed to the GPU
  Operator (``dcgmExporter.config``): its default list plus the ECC and NVLink error fields the
  exporter leaves off;
* kube-prometheus-stack is the sink, with a retention and a volume stated, and gpufleet's own
  ServiceMonitor scrapes the exporter (the operator's is turned off, so nothing is scraped twice);
* one recording rule maps every node to its pool (from kube-state-metrics' node labels), and the
  alerts and dashboards join on it, so pool and GPU type are labels everywhere;
* every alert and dashboard panel says which pools it watches, and ``metric_problems`` holds that
  it references only metrics exported for each of those pools' GPU models and fabrics
  (profiling fields need a Volta-or-newer GPU, the ``*_UTIL`` fields are not reported for MIG
  instances, NVLink counters need NVLinks). The semantic rule GF-MON-001 runs the same check on
  the stack before anything is planned.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from gpufleet.catalog import Catalog
from gpufleet.catalog.models import Accelerator
from gpufleet.catalog.monitoring import MonitoringFacts
from gpufleet.model.kubernetes import ConfigMapPlan, HelmReleasePlan, KubernetesPlan
from gpufleet.model.kubernetes_decisions import pool_selector
from gpufleet.model.plan import Pool
from gpufleet.model.reasons import Reason
from gpufleet.stack.models import MonitoringSpec, WorkloadClass

Json = dict[str, Any]
RELEASE = "kube-prometheus-stack"
COUNTERS_CONFIG_MAP = "gpufleet-dcgm-counters"
SERVICE_MONITOR = "gpufleet-dcgm-exporter"
RULES = "gpufleet-gpu-alerts"
NODE_POOL = "gpufleet:node_pool:info"
"""The recording rule every alert and panel joins on: one series per node with its pool, GPU type and class."""
DASHBOARD_LABEL = ("grafana_dashboard", "1")
DATASOURCE = {"type": "prometheus", "uid": "prometheus"}
# Decided thresholds (the reasons are in ``alerts_for``).
IDLE_PERCENT, IDLE_FOR = 5, "30m"
STARVED_PERCENT, STARVED_IOWAIT, STARVED_FOR = 40, 0.10, "15m"
IB_PORT_ACTIVE = 4
"""``node_infiniband_state_id`` of an ACTIVE port (the IB port states: 1 down, 2 init, 3 armed, 4 active)."""


@dataclass(frozen=True)
class WatchedPool:
    """A GPU pool as monitoring sees it: what its GPUs report and how its nodes are found."""

    name: str
    workload: WorkloadClass
    accelerator: Accelerator
    mig: bool
    """Its GPUs are MIG-partitioned: the ``*_UTIL`` fields report nothing there."""
    fabric: Literal["efa", "infiniband", "ethernet"] | None
    gpus: int
    """GPUs at ``nodes.max``: what the exporter's series count scales with."""
    selector: dict[str, str] = field(hash=False)
    """The node labels that pick exactly its nodes."""

    @property
    def rdma(self) -> bool:
        return self.fabric in ("efa", "infiniband")


def watched(pools: Iterable[Pool]) -> tuple[WatchedPool, ...]:
    """The plan's GPU pools as monitoring sees them."""
    found = []
    for pool in pools:
        accelerator = pool.accelerator
        if accelerator is None or accelerator.kind != "gpu":
            continue
        fabric = pool.fabric.kind if pool.fabric else None
        found.append(
            WatchedPool(pool.name, pool.workload, accelerator, pool.mig is not None, fabric, pool.gpus_max, pool_selector(pool))
        )
    return tuple(found)


def exported(pool: WatchedPool, counters: Iterable[str], facts: MonitoringFacts) -> frozenset[str]:
    """Every metric a node of ``pool`` exports: the rendered DCGM counters its GPUs report, and the
    other exporters' metrics its nodes have (InfiniBand counters only on an InfiniBand HCA)."""
    found = set()
    for name in counters:
        counter = facts.counter(name)
        if counter is not None and all(facts.capabilities.has(pool.accelerator, need, mig=pool.mig) for need in counter.needs):
            found.add(name)
    node_has = {"rdma": pool.rdma, "infiniband": pool.fabric == "infiniband"}
    found.update(name for name, metric in facts.other_metrics.metrics.items() if all(node_has[need] for need in metric.needs))
    return frozenset(found)


# -- PromQL ---------------------------------------------------------------------------------------

_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"')
_MATCHERS = re.compile(r"\{[^{}]*\}")
_RANGES = re.compile(r"\[[^\]]*\]")
_GROUPINGS = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
_NAME = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*")
_KEYWORDS = frozenset({"and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring", "group_left", "group_right"})


def referenced_metrics(expr: str) -> frozenset[str]:
    """The metric names a PromQL expression reads: every name that is not a function, a keyword,
    a label (inside ``{}`` or a grouping) or a string."""
    text = _STRINGS.sub('""', expr)
    text = _MATCHERS.sub("", text)
    text = _RANGES.sub("", text)
    text = _GROUPINGS.sub("", text)
    found = set()
    for match in _NAME.finditer(text):
        rest = text[match.end() :].lstrip()
        if match.group() in _KEYWORDS or rest.startswith("("):
            continue
        found.add(match.group())
    return frozenset(found)


def _regex(pools: Iterable[WatchedPool]) -> str:
    return "|".join(sorted(pool.name for pool in pools))


def _per_pool(expr: str, pools: Sequence[WatchedPool]) -> str:
    """``expr`` (keeping ``node``) with each node's pool and GPU type, for the given pools only."""
    return f'({expr}) * on (node) group_left (pool, accelerator) {NODE_POOL}{{pool=~"{_regex(pools)}"}}'


def _utilization(pools: Sequence[WatchedPool], by: str) -> list[tuple[str, tuple[WatchedPool, ...]]]:
    """GPU busy percent per ``by`` group: ``DCGM_FI_DEV_GPU_UTIL`` where GPUs are whole, the
    graphics engine's active fraction (x100) on MIG instances, which report no ``*_UTIL`` field."""
    whole = tuple(pool for pool in pools if not pool.mig)
    mig = tuple(pool for pool in pools if pool.mig)
    found = []
    if whole:
        found.append((_per_pool(f'avg by ({by}) (DCGM_FI_DEV_GPU_UTIL{{pod!=""}})', whole), whole))
    if mig:
        found.append((_per_pool(f'avg by ({by}) (DCGM_FI_PROF_GR_ENGINE_ACTIVE{{pod!=""}}) * 100', mig), mig))
    return found


# -- alerts and recording rules -------------------------------------------------------------------


@dataclass(frozen=True)
class RecordingRule:
    record: str
    expr: str
    pool: str

    def manifest(self) -> Json:
        return {"record": self.record, "expr": self.expr}


@dataclass(frozen=True)
class AlertRule:
    name: str
    expr: str
    duration: str
    severity: Literal["warning", "critical"]
    summary: str
    pools: tuple[str, ...]
    """The pools it watches: every metric it reads must be exported for each."""
    reason: str

    @property
    def metrics(self) -> frozenset[str]:
        return referenced_metrics(self.expr) - {NODE_POOL}

    def manifest(self) -> Json:
        return {
            "alert": self.name,
            "expr": self.expr,
            "for": self.duration,
            "labels": {"severity": self.severity},
            "annotations": {"summary": self.summary},
        }


def _node_pool_records(pools: Sequence[WatchedPool]) -> tuple[RecordingRule, ...]:
    """One series per node of each pool, found by the pool's own node labels in kube-state-metrics."""
    records = []
    for pool in pools:
        matchers = ",".join(f'{_ksm_label(key)}="{value}"' for key, value in sorted(pool.selector.items()))
        expr = f"max by (node) (kube_node_labels{{{matchers}}})"
        for label, value in (("pool", pool.name), ("accelerator", pool.accelerator.name), ("workload", pool.workload)):
            expr = f'label_replace({expr}, "{label}", "{value}", "", "")'
        records.append(RecordingRule(NODE_POOL, expr, pool.name))
    return tuple(records)


def _ksm_label(key: str) -> str:
    """kube-state-metrics' label for a node label: ``label_`` and the key with every non-alphanumeric as ``_``."""
    return "label_" + re.sub(r"[^A-Za-z0-9_]", "_", key)


def names_of(group: Iterable[WatchedPool]) -> tuple[str, ...]:
    return tuple(sorted(pool.name for pool in group))


def alerts_for(pools: Sequence[WatchedPool]) -> tuple[AlertRule, ...]:
    alerts: list[AlertRule] = []
    on_mig = "; on MIG instances, which report no *_UTIL field, the graphics engine's active fraction stands for it"
    for busy, group in _utilization(pools, "node, gpu, namespace, pod"):
        alerts.append(
            AlertRule(
                "GpuAllocatedIdle" + ("Mig" if group[0].mig else ""),
                f"{busy} < {IDLE_PERCENT}",
                IDLE_FOR,
                "warning",
                "{{ $labels.namespace }}/{{ $labels.pod }} holds GPU {{ $labels.gpu }} on {{ $labels.node }} "
                f"({{{{ $labels.pool }}}}) at under {IDLE_PERCENT}% for {IDLE_FOR}",
                names_of(group),
                f"a GPU a pod holds but leaves under {IDLE_PERCENT}% busy for {IDLE_FOR} is paid for and idle: "
                "the guide's first waste to find" + (on_mig if group[0].mig else ""),
            )
        )
    training = [pool for pool in pools if pool.workload == "training"]
    for busy, group in _utilization(training, "node"):
        iowait = 'avg by (node) (rate(node_cpu_seconds_total{mode="iowait"}[10m]))'
        alerts.append(
            AlertRule(
                "TrainingGpuStarved" + ("Mig" if group[0].mig else ""),
                f"({busy} < {STARVED_PERCENT}) and on (node) ({iowait} > {STARVED_IOWAIT})",
                STARVED_FOR,
                "warning",
                f"training GPUs on {{{{ $labels.node }}}} ({{{{ $labels.pool }}}}) under {STARVED_PERCENT}% busy "
                f"while the CPUs wait on I/O over {STARVED_IOWAIT:.0%} of the time",
                names_of(group),
                "GPUs that wait while the node waits on I/O are starved by storage, not short of work; "
                "FSx throughput is a CloudWatch metric no exporter here reads, so the node's iowait stands for it",
            )
        )
    alerts.append(
        AlertRule(
            "GpuXidError",
            _per_pool("DCGM_FI_DEV_XID_ERRORS", pools) + " > 0",
            "0m",
            "critical",
            "GPU {{ $labels.gpu }} on {{ $labels.node }} ({{ $labels.pool }}) reported XID {{ $value }}",
            names_of(pools),
            "the field holds the last XID since the driver loaded, so the alert stays until the GPU is reset",
        )
    )
    alerts.append(
        AlertRule(
            "GpuEccUncorrectable",
            _per_pool("increase(DCGM_FI_DEV_ECC_DBE_VOL_TOTAL[10m])", pools) + " > 0",
            "0m",
            "critical",
            "GPU {{ $labels.gpu }} on {{ $labels.node }} ({{ $labels.pool }}): {{ $value }} uncorrectable ECC errors in 10 min",
            names_of(pools),
            "a double-bit ECC error corrupts what the GPU computes: drain the node",
        )
    )
    nvlinked = [pool for pool in pools if pool.accelerator.interconnect.startswith("NVLink")]
    if nvlinked:
        errors = (
            "(increase(DCGM_FI_DEV_NVLINK_RECOVERY_ERROR_COUNT_TOTAL[10m]) > 0"
            " or increase(DCGM_FI_DEV_NVLINK_REPLAY_ERROR_COUNT_TOTAL[10m]) > 0"
            " or increase(DCGM_FI_DEV_NVLINK_CRC_FLIT_ERROR_COUNT_TOTAL[10m]) > 0)"
        )
        alerts.append(
            AlertRule(
                "NvlinkErrors",
                _per_pool(errors, nvlinked),
                "0m",
                "warning",
                "NVLink errors on GPU {{ $labels.gpu }} of {{ $labels.node }} ({{ $labels.pool }})",
                names_of(nvlinked),
                "only GPUs with NVLinks have these counters; the exporter leaves them off by default, gpufleet's list turns them on",
            )
        )
    rdma = [pool for pool in pools if pool.rdma]
    if rdma:
        alerts.append(
            AlertRule(
                "RdmaPortDown",
                _per_pool(f"node_infiniband_state_id != {IB_PORT_ACTIVE}", rdma),
                "5m",
                "critical",
                "RDMA device {{ $labels.device }} port {{ $labels.port }} on {{ $labels.node }} ({{ $labels.pool }}) is not active",
                names_of(rdma),
                "an EFA or InfiniBand port that is not ACTIVE sends NCCL over sockets or nowhere; the port state is "
                "the only EFA figure node-exporter reads, and NCCL itself exports no metric",
            )
        )
    infiniband = [pool for pool in pools if pool.fabric == "infiniband"]
    if infiniband:
        errors = (
            "(increase(node_infiniband_link_downed_total[10m]) > 0"
            " or increase(node_infiniband_port_errors_received_total[10m]) > 0)"
        )
        alerts.append(
            AlertRule(
                "InfinibandLinkErrors",
                _per_pool(errors, infiniband),
                "0m",
                "warning",
                "InfiniBand errors on {{ $labels.device }} of {{ $labels.node }} ({{ $labels.pool }})",
                names_of(infiniband),
                "InfiniBand HCAs count link-downs and bad packets; EFA devices have no such counters node-exporter reads",
            )
        )
    ready = 'kube_node_status_condition{condition="Ready",status="true"}'
    alerts.append(
        AlertRule(
            "GpuNodeNotReady",
            _per_pool(ready, pools) + " == 0",
            "5m",
            "critical",
            "GPU node {{ $labels.node }} of pool {{ $labels.pool }} is not Ready",
            names_of(pools),
            "a not-Ready GPU node holds no work and, in a gang, stalls the job on it",
        )
    )
    return tuple(alerts)


# -- dashboards -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Panel:
    title: str
    expr: str
    unit: str
    pools: tuple[str, ...]

    @property
    def metrics(self) -> frozenset[str]:
        return referenced_metrics(self.expr) - {NODE_POOL}


@dataclass(frozen=True)
class Dashboard:
    workload: WorkloadClass
    panels: tuple[Panel, ...]

    @property
    def name(self) -> str:
        return f"gpufleet-{self.workload}"

    @property
    def file(self) -> str:
        return f"{self.name}.json"

    def document(self) -> Json:
        """A Grafana dashboard: pool and GPU type as variables from the node-pool series of its class."""
        variables = [
            _variable("pool", f'label_values({NODE_POOL}{{workload="{self.workload}"}}, pool)'),
            _variable("gpu", f'label_values({NODE_POOL}{{workload="{self.workload}", pool=~"$pool"}}, accelerator)'),
        ]
        panels = []
        for index, panel in enumerate(self.panels):
            panels.append(
                {
                    "id": index + 1,
                    "type": "timeseries",
                    "title": panel.title,
                    "datasource": DATASOURCE,
                    "gridPos": {"h": 8, "w": 12, "x": 12 * (index % 2), "y": 8 * (index // 2)},
                    "fieldConfig": {"defaults": {"unit": panel.unit}, "overrides": []},
                    "targets": [
                        {"refId": "A", "datasource": DATASOURCE, "expr": panel.expr, "legendFormat": "{{pool}} {{node}}"}
                    ],
                }
            )
        return {
            "title": f"gpufleet: {self.workload} GPUs",
            "uid": self.name,
            "tags": ["gpufleet", self.workload],
            "editable": False,
            "schemaVersion": 39,
            "time": {"from": "now-6h", "to": "now"},
            "templating": {"list": variables},
            "panels": panels,
        }


def _variable(name: str, query: str) -> Json:
    return {
        "name": name,
        "type": "query",
        "datasource": DATASOURCE,
        "query": {"query": query, "refId": name},
        "definition": query,
        "includeAll": True,
        "multi": True,
        "current": {"text": "All", "value": "$__all"},
        "refresh": 2,
    }


def dashboards_for(pools: Sequence[WatchedPool], counters: frozenset[str], facts: MonitoringFacts) -> tuple[Dashboard, ...]:
    """Per workload class: each panel over the class's pools that export what it reads."""
    candidates = (
        ("GPU utilization", "percent", "avg", "DCGM_FI_DEV_GPU_UTIL", None),
        ("MIG engine activity", "percentunit", "avg", "DCGM_FI_PROF_GR_ENGINE_ACTIVE", "mig"),
        ("Tensor pipe active", "percentunit", "avg", "DCGM_FI_PROF_PIPE_TENSOR_ACTIVE", None),
        ("GPU memory used", "decmbytes", "sum", "DCGM_FI_DEV_FB_USED", None),
        ("Power", "watt", "sum", "DCGM_FI_DEV_POWER_USAGE", None),
        ("NVLink traffic", "Bps", "sum", "rate(DCGM_FI_DEV_NVLINK_BANDWIDTH_TOTAL[5m])", None),
        ("Last XID", "none", "max", "DCGM_FI_DEV_XID_ERRORS", None),
        ("CPU iowait", "percentunit", "avg", 'rate(node_cpu_seconds_total{mode="iowait"}[5m])', "training"),
    )
    dashboards = []
    for workload in ("training", "inference", "lab"):
        members = [pool for pool in pools if pool.workload == workload]
        if not members:
            continue
        panels = []
        for title, unit, aggregate, series, only in candidates:
            if only == "training" and workload != "training":
                continue
            eligible = [pool for pool in members if only != "mig" or pool.mig]
            needed = referenced_metrics(series)
            shown = tuple(sorted(pool.name for pool in eligible if needed <= exported(pool, counters, facts)))
            if not shown:
                continue
            chosen = f'{NODE_POOL}{{pool=~"$pool", accelerator=~"$gpu", pool=~"{"|".join(shown)}"}}'
            expr = f"{aggregate} by (node, pool) ({series} * on (node) group_left (pool, accelerator) {chosen})"
            panels.append(Panel(title, expr, unit, shown))
        dashboards.append(Dashboard(workload, tuple(panels)))
    return tuple(dashboards)


# -- the plan ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ExporterConfig:
    """The exporter's counters as a ConfigMap in the GPU Operator's namespace, and the operator's
    values that mount it and turn off the operator's own ServiceMonitor."""

    counters: ConfigMapPlan
    fields: tuple[str, ...]
    values: Json = field(hash=False)
    reasons: tuple[Reason, ...]


def exporter_config(spec: MonitoringSpec, namespace: str, catalog: Catalog) -> ExporterConfig:
    facts = catalog.monitoring
    kept = tuple(counter for counter in facts.counters.fields if counter.field not in spec.omit_counters)
    text = "\n".join(
        [
            "# gpufleet's DCGM exporter counters: field, Prometheus type, help (one per line).",
            *(counter.csv_line() for counter in kept),
        ]
    )
    config_map = ConfigMapPlan(COUNTERS_CONFIG_MAP, namespace, {facts.exporter.config_key: text + "\n"})
    values = {"enabled": True, "config": {"name": COUNTERS_CONFIG_MAP}, "serviceMonitor": {"enabled": False}}
    omitted = f"; left out by the stack: {', '.join(spec.omit_counters)}" if spec.omit_counters else ""
    reasons = (
        Reason(
            "dcgmExporter.config",
            f"gpufleet's counter list ({len(kept)} fields): the operator's default plus ECC and NVLink error "
            f"counters the exporter leaves off, which the alerts read{omitted}",
        ),
        Reason(
            "dcgmExporter.serviceMonitor.enabled",
            "gpufleet renders its own ServiceMonitor for the exporter (node label on every series); "
            "the operator's would scrape it a second time",
        ),
    )
    return ExporterConfig(config_map, tuple(counter.field for counter in kept), values, reasons)


@dataclass(frozen=True)
class MonitoringPlan:
    release: HelmReleasePlan
    exporter: ExporterConfig
    pools: tuple[WatchedPool, ...]
    records: tuple[RecordingRule, ...]
    alerts: tuple[AlertRule, ...]
    dashboards: tuple[Dashboard, ...]
    service_monitor: Json = field(hash=False)
    decisions: tuple[Reason, ...]
    controller_pools: tuple[str, ...]
    """Pools the release waits for: where Prometheus, Grafana and the operator can run."""

    @property
    def namespace(self) -> str:
        return self.release.namespace

    def rules_spec(self) -> Json:
        return {
            "groups": [
                {"name": "gpufleet.node-pools", "rules": [record.manifest() for record in self.records]},
                {"name": "gpufleet.gpus", "rules": [alert.manifest() for alert in self.alerts]},
            ]
        }

    def dashboard_data(self, dashboard: Dashboard) -> dict[str, str]:
        return {dashboard.file: json.dumps(dashboard.document(), indent=2, sort_keys=True) + "\n"}

    def problems(self, facts: MonitoringFacts) -> list[MetricProblem]:
        return metric_problems(self.pools, self.alerts, self.dashboards, frozenset(self.exporter.fields), facts)

    def summary(self) -> dict[str, Any]:
        """Every monitoring decision with its reason, for ``validate --json``."""
        return {
            "release": self.release.facts().as_json(),
            "counters": list(self.exporter.fields),
            "decisions": [{"what": r.subject, "why": r.why} for r in (*self.exporter.reasons, *self.decisions)],
            "alerts": [
                {"alert": a.name, "pools": list(a.pools), "metrics": sorted(a.metrics), "for": a.duration, "why": a.reason}
                for a in self.alerts
            ],
            "dashboards": {d.name: {p.title: list(p.pools) for p in d.panels} for d in self.dashboards},
        }


@dataclass(frozen=True)
class MetricProblem:
    """An alert or panel (``watcher``) reads ``metric``, which pool ``pool`` does not export."""

    watcher: str
    metric: str
    pool: str

    def __str__(self) -> str:
        return f"{self.watcher} reads {self.metric}, which pool {self.pool} does not export"


def metric_problems(
    pools: Sequence[WatchedPool],
    alerts: Iterable[AlertRule],
    dashboards: Iterable[Dashboard],
    counters: frozenset[str],
    facts: MonitoringFacts,
) -> list[MetricProblem]:
    """Each metric an alert or panel reads that a pool it watches does not export."""
    by_name = {pool.name: pool for pool in pools}
    watchers: list[tuple[str, frozenset[str], tuple[str, ...]]] = [(f"alert {a.name}", a.metrics, a.pools) for a in alerts]
    watchers += [(f"dashboard {d.name} panel '{p.title}'", p.metrics, p.pools) for d in dashboards for p in d.panels]
    found = []
    for what, metrics, watched in watchers:
        for name in watched:
            exports = exported(by_name[name], counters, facts)
            found += [MetricProblem(what, metric, name) for metric in sorted(metrics - exports)]
    return found


def monitoring_plan(
    pools: Sequence[WatchedPool],
    exporter: ExporterConfig,
    kubernetes: KubernetesPlan,
    spec: MonitoringSpec,
    catalog: Catalog,
    controller_pools: tuple[str, ...],
) -> MonitoringPlan:
    facts = catalog.monitoring
    chart = catalog.kubernetes.charts[RELEASE]
    default_class = next((c.name for c in kubernetes.storage.classes if c.default), None)
    size_gib = spec.storage_gib
    retention_size = int(size_gib * facts.prometheus.size_retention_fraction)
    claim: Json = {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": f"{size_gib}Gi"}}}
    if default_class is not None:
        claim["storageClassName"] = default_class
    label_keys = sorted({key for pool in pools for key in pool.selector})
    interval = f"{facts.prometheus.scrape_interval_seconds}s"
    values: Json = {
        "prometheus": {
            "prometheusSpec": {
                "retention": f"{spec.retention_days}d",
                "retentionSize": f"{retention_size}GiB",
                "scrapeInterval": interval,
                "storageSpec": {"volumeClaimTemplate": {"spec": claim}},
            }
        },
        "prometheus-node-exporter": {"prometheus": {"monitor": {"relabelings": [_node_relabel()]}}},
        "kube-state-metrics": {"metricLabelsAllowlist": [f"nodes=[{','.join(label_keys)}]"]},
    }
    series = _dcgm_series(pools, exporter.fields, facts)
    samples = series / facts.prometheus.scrape_interval_seconds
    dcgm_gib = samples * spec.retention_days * 86400 * facts.prometheus.bytes_per_sample / 2**30
    reasons = (
        Reason(
            "prometheus.prometheusSpec.retention, retentionSize",
            f"{spec.retention_days} days or {retention_size} GiB, whichever comes first: size-based retention drops the "
            f"oldest blocks before the {size_gib} GiB volume fills",
        ),
        Reason(
            "prometheus.prometheusSpec.storageSpec",
            f"a {size_gib} GiB claim on "
            + (f"the {default_class} class gpufleet renders" if default_class else "the cluster's default StorageClass")
            + f"; the DCGM series alone (about {series} at the pools' maximum size, every {interval}, "
            f"{facts.prometheus.bytes_per_sample:g} bytes a sample) take about {dcgm_gib:.1f} GiB over the retention",
        ),
        Reason(
            "prometheus-node-exporter.prometheus.monitor.relabelings",
            "node-exporter series get the node's name as `node`, the label the alerts join on",
        ),
        Reason(
            "kube-state-metrics.metricLabelsAllowlist",
            f"kube_node_labels carries {', '.join(label_keys)}: the labels that pick each pool's nodes, "
            f"which the {NODE_POOL} recording rule maps to pools",
        ),
    )
    release = HelmReleasePlan(RELEASE, chart, values, reasons)
    records = _node_pool_records(pools)
    alerts = alerts_for(pools)
    dashboards = dashboards_for(pools, frozenset(exporter.fields), facts)
    decisions = (
        *(Reason(f"alert {alert.name}", alert.reason) for alert in alerts),
        *(Reason(f"no metric: {what}", why) for what, why in sorted(facts.other_metrics.no_metric.items())),
    )
    return MonitoringPlan(
        release,
        exporter,
        tuple(pools),
        records,
        alerts,
        dashboards,
        _service_monitor(catalog, kubernetes),
        decisions,
        controller_pools,
    )


def _node_relabel() -> Json:
    return {"sourceLabels": ["__meta_kubernetes_pod_node_name"], "targetLabel": "node", "action": "replace"}


def _service_monitor(catalog: Catalog, kubernetes: KubernetesPlan) -> Json:
    """Scrape the operator's exporter Service in its namespace; each series gets its node's name."""
    exporter = catalog.monitoring.exporter
    namespace = (
        kubernetes.gpu_stack.operator.namespace if kubernetes.gpu_stack else catalog.kubernetes.charts["gpu-operator"].namespace
    )
    return {
        "selector": {"matchLabels": dict(exporter.service_labels)},
        "namespaceSelector": {"matchNames": [namespace]},
        "endpoints": [{"port": exporter.port, "path": "/metrics", "relabelings": [_node_relabel()]}],
    }


def _dcgm_series(pools: Sequence[WatchedPool], fields: Sequence[str], facts: MonitoringFacts) -> int:
    """Series the exporter serves at the pools' maximum size: one per GPU per field it reports there."""
    return sum(pool.gpus * len(exported(pool, fields, facts) & set(fields)) for pool in pools)
