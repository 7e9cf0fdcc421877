"""Rules for watching the GPU pools: the counters a stack leaves out, and what the alerts and dashboards then miss."""

from __future__ import annotations

from gpufleet.model.monitoring import WatchedPool, alerts_for, dashboards_for, metric_problems
from gpufleet.model.rules.registry import Problems, rule, unknown
from gpufleet.model.view import StackView
from gpufleet.names import POOL_LABEL

OMIT = ("monitoring", "omit_counters")


def watched_pools(view: StackView) -> list[WatchedPool]:
    """The stack's GPU pools as the monitoring plan will see them (the same facts, read from the spec)."""
    found = []
    for name, pool in view.pools():
        instance = view.instance(pool)
        accelerator = view.accelerator(pool) if instance else view.catalog.accelerator(pool.gpu) if pool.gpu else None
        if accelerator is None or accelerator.kind != "gpu":
            continue
        per_node = instance.accelerator_count if instance else pool.gpus_per_node or 0
        fabric = view.fabric(pool)
        selector = dict(pool.node_selector) if pool.node_selector else {POOL_LABEL: name}
        kind = fabric.kind if fabric else None
        found.append(
            WatchedPool(name, pool.workload, accelerator, pool.mig is not None, kind, per_node * pool.nodes.max, selector)
        )
    return found


@rule(
    "GF-MON-001",
    "error",
    "monitoring.omit_counters names a field gpufleet's DCGM counter list does not have.",
    "Name a field of the list (`gpufleet validate --json`, monitoring.counters).",
)
def omitted_counters_known(view: StackView) -> Problems:
    known = [counter.field for counter in view.catalog.monitoring.counters.fields]
    for index, field_name in enumerate(view.spec.monitoring.omit_counters):
        if field_name not in known:
            yield (*OMIT, index), unknown("DCGM counter", field_name, known)


@rule(
    "GF-MON-002",
    "error",
    "An alert or dashboard panel reads a metric that a pool it watches does not export.",
    "Keep the counter (remove it from monitoring.omit_counters): the alert would never fire, the panel stay empty.",
)
def alerts_read_exported_metrics(view: StackView) -> Problems:
    pools = watched_pools(view)
    if not pools:
        return
    facts = view.catalog.monitoring
    omitted = view.spec.monitoring.omit_counters
    counters = frozenset(counter.field for counter in facts.counters.fields if counter.field not in omitted)
    missing: dict[tuple[str, str], list[str]] = {}
    for problem in metric_problems(pools, alerts_for(pools), dashboards_for(pools, counters, facts), counters, facts):
        missing.setdefault((problem.watcher, problem.metric), []).append(problem.pool)
    for (watcher, metric), names in missing.items():
        if metric in omitted:
            yield (*OMIT, omitted.index(metric)), f"{watcher} reads {metric} on {', '.join(names)}: leaving it out silences it"
        else:
            yield ("monitoring",), f"{watcher} reads {metric}, which {', '.join(names)} do(es) not export"
