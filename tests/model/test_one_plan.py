"""One typed plan, read by every output: the projection ``validate --json``, its table, ``diff``
and the preview share; the Kubernetes side resolved into the plan; variants as types."""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, fields
from pathlib import Path

from rich.console import Console
from typer.testing import CliRunner

from gpufleet.cli import app
from gpufleet.commands.tables import plan_summary, pools_table
from gpufleet.model.cost import PoolCost
from gpufleet.model.facts import PoolFacts, fact
from gpufleet.model.kubernetes import PoolScheduling
from gpufleet.model.plan import AwsCloud, ExistingCluster, ExistingNodes, LaunchedNodes, LocalNvmeTier, Pool
from tests.model.test_diff import BASE, changes

REPO = Path(__file__).resolve().parents[2]
STACKS = REPO / "stacks"


def table_text(plan) -> str:
    console = Console(width=400, file=io.StringIO())
    console.print(pools_table(plan))
    return console.file.getvalue()


@dataclass(frozen=True, kw_only=True)
class WithMemory(PoolFacts):
    """The pool projection with one fact more, as a contributor would add it."""

    gpu_memory_gib: float | None = fact("GPU GiB per node", table=True, default=None)


def test_a_fact_added_to_the_pool_projection_reaches_json_table_and_diff(stacks, monkeypatch) -> None:
    """One edit (a field of the projection) and ``validate --json``, the pools table and ``diff``
    all carry it: none of them lists the pool's fields by hand."""
    projected = Pool.facts

    def with_memory(pool: Pool, scheduling: PoolScheduling, cost: PoolCost) -> WithMemory:
        base = projected(pool, scheduling, cost)
        memory = pool.accelerator.memory_gib * pool.gpus_per_node if pool.accelerator else None
        return WithMemory(**{f.name: getattr(base, f.name) for f in fields(base)}, gpu_memory_gib=memory)

    monkeypatch.setattr(Pool, "facts", with_memory)
    # p5en, not p5e: us-east-1 offers no p5e (catalog zone offerings, issue 8).
    after = BASE.replace(
        "    instance_type: p5.48xlarge\n    nodes: {min: 2, max: 2}",
        "    instance_type: p5en.48xlarge\n    nodes: {min: 2, max: 2}",
    )
    assert after != BASE
    found = {d.path: (d.left, d.right) for d in changes(stacks, BASE, after)}
    left, right = (stacks.plan(stacks.directory / name) for name in ("left.yaml", "right.yaml"))
    memory = {
        side: next(p for p in plan.pools if p.name == "train").accelerator.memory_gib * 8
        for side, plan in (("left", left), ("right", right))
    }
    assert memory["left"] != memory["right"]
    assert found["pool.train.gpu_memory_gib"] == (memory["left"], memory["right"])

    train = next(row for row in plan_summary(right)["pools"] if row["pool"] == "train")
    assert train["gpu_memory_gib"] == memory["right"]
    assert "GPU GiB per node" in table_text(right)


def test_every_fact_of_a_pool_is_in_validate_json_and_every_table_fact_in_the_table() -> None:
    result = CliRunner().invoke(app, ["validate", str(STACKS / "prod.yaml"), "--json"])
    assert result.exit_code == 0, result.output
    [stack] = json.loads(result.stdout)["stacks"]
    names = {f.name for f in fields(PoolFacts)}
    assert all(set(row) == names for row in stack["pools"])
    text = CliRunner().invoke(app, ["validate", str(STACKS / "prod.yaml")]).stdout
    assert all(title in text for _, title in PoolFacts.columns())


def test_diff_reports_a_changed_kueue_quota_and_a_changed_helm_value(stacks) -> None:
    """Kueue admits a workload while the ClusterQueue's ``nominalQuota`` for its flavor covers
    its requests (kueue.x-k8s.io/v1beta2 ClusterQueue: "nominalQuota is the quantity of this
    resource that is available for Workloads admitted by this ClusterQueue at a point in time"),
    so a bigger pool is a bigger quota; the GPU Operator's ``mig.strategy`` (chart values:
    "none", "single" or "mixed") decides how MIG devices are advertised, so dropping the only MIG
    plan changes what every GPU node offers. ``diff`` shows both, as ``diff --json`` does."""
    after = BASE.replace(
        "    nodes: {min: 1, max: 2}\n    fabric: tcp\n    mig: slices\n", "    nodes: {min: 1, max: 4}\n    fabric: tcp\n"
    )
    assert after != BASE
    found = {d.path: (d.left, d.right) for d in changes(stacks, BASE, after)}
    assert found["queue.inference.quotas.serve.nvidia.com/gpu"] == (None, 32)
    assert found["queue.inference.quotas.serve.nvidia.com/mig-3g.40gb"] == (32, None)
    assert found["release.gpu-operator.values.mig.strategy"] == ("mixed", "single")
    assert found["release.gpu-operator.values.migManager.enabled"] == (True, None)

    result = CliRunner().invoke(
        app, ["diff", str(stacks.directory / "left.yaml"), str(stacks.directory / "right.yaml"), "--json"]
    )
    assert result.exit_code == 1
    reported = {(d["scope"], d["name"], d["field"]): (d["left"], d["right"]) for d in json.loads(result.stdout)["differences"]}
    assert reported[("queue", "inference", "quotas.serve.nvidia.com/gpu")] == (None, 32)
    assert reported[("release", "gpu-operator", "values.mig.strategy")] == ("mixed", "single")


def test_validate_json_lists_every_kubernetes_decision_with_its_reason(tmp_path) -> None:
    """The Kubernetes side is part of the plan: ``validate`` shows what ``preview`` renders from."""
    result = CliRunner().invoke(app, ["validate", str(STACKS / "prod.yaml"), "--json"])
    [stack] = json.loads(result.stdout)["stacks"]
    kubernetes = stack["kubernetes"]
    preview = CliRunner().invoke(app, ["preview", str(STACKS / "prod.yaml"), "--json", "--out", str(tmp_path)])
    assert kubernetes["decisions"] == json.loads(preview.stdout)["kubernetes_decisions"]
    assert all(decision["why"] for decision in kubernetes["decisions"])
    for name, release in kubernetes["releases"].items():
        explained = {part.strip().split(".")[0] for subject in release["reasons"] for part in subject.split(",")}
        assert set(release["values"]) <= explained, name
    assert {name: queue["reason"] for name, queue in kubernetes["cluster_queues"].items()} and all(
        queue["reason"] for queue in kubernetes["cluster_queues"].values()
    )
    assert kubernetes["cluster_queues"]["training-h200-141gb"]["quotas"]["train-h200"]["nvidia.com/gpu"] == 128
    assert all(storage_class["reason"] for storage_class in kubernetes["storage_classes"].values())
    assert stack["security_group_rules"] and all(rule["why"] for rule in stack["security_group_rules"])


def test_existing_nodes_have_no_launched_facts_and_no_cloud() -> None:
    """Existing nodes are not launched: the plan holds no capacity, zones or update strategy for
    them (they used to carry stand-ins such as on-demand and DEFAULT), and the preview's rows
    leave those columns out."""
    result = CliRunner().invoke(app, ["validate", str(STACKS / "onprem.yaml"), "--json"])
    [stack] = json.loads(result.stdout)["stacks"]
    launched_only = [f.name for f in fields(PoolFacts) if f.metadata["launched"]]
    assert launched_only and all(row[name] is None for row in stack["pools"] for name in launched_only)
    assert stack["aws"] is None and stack["security_group_rules"] is None
    assert stack["kubernetes"]["autoscaled_groups"] == {}


def test_variants_are_types() -> None:
    from gpufleet.catalog import load_catalog
    from gpufleet.model import resolve
    from gpufleet.stack import load_stack

    catalog = load_catalog()
    onprem = resolve(load_stack(STACKS / "onprem.yaml"), catalog)
    assert isinstance(onprem.cluster.cloud, ExistingCluster) and onprem.network is None
    assert all(isinstance(pool.source, ExistingNodes) for pool in onprem.pools)
    assert all(isinstance(tier, LocalNvmeTier) for tier in onprem.storage)
    prod = resolve(load_stack(STACKS / "prod.yaml"), catalog)
    assert isinstance(prod.cluster.cloud, AwsCloud) and prod.network is prod.cluster.cloud.network
    assert all(isinstance(pool.source, LaunchedNodes) for pool in prod.pools)
    assert not hasattr(onprem.pools[0].source, "ami") and not hasattr(onprem.pools[0], "ami_family")
