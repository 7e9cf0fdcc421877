"""Keeping training jobs close: the Kueue Topology per instance type, the flavors that name it,
and the largest job a pool runs, refused before apply where Kueue would only find it at admission."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from gpufleet.catalog import load_catalog
from gpufleet.cli import app
from gpufleet.model import resolve
from gpufleet.model.validation import REQUIRED_TOPOLOGY
from gpufleet.preview.manifests import kubernetes_objects
from gpufleet.stack import load_stack
from gpufleet.stack.models import Capacity
from tests.kubernetes.conftest import FULL, REPO, rendered
from tests.kubernetes.references import custom_resource_errors

CATALOG = load_catalog()
LAYER = "topology.k8s.aws/network-node-layer-"


def _objects(result, kind: str) -> dict[str, dict]:
    return {m["metadata"]["name"]: m for m in kubernetes_objects(result).values() if m["kind"] == kind}


def test_a_fixed_b200_pool_gets_a_four_layer_topology_its_flavor_names(full_stack_dir) -> None:
    """EC2 topology prerequisites: p6-b200.48xlarge returns 4 network nodes; the AWS cloud controller
    manager (EKS's control plane) labels nodes ``network-node-layer-1..4``. Kueue's Topology CRD
    allows ``kubernetes.io/hostname`` only as the lowest level, and a flavor naming a topology needs
    at least one nodeLabel. train-b200 keeps its 2 nodes (min = max), so its flavor names it;
    train-h100 scales from 0, so its flavor names none."""
    _, result = rendered("full", str(full_stack_dir))
    topologies = _objects(result, "Topology")
    assert set(topologies) == {"ec2-4-network-layers"}
    levels = [level["nodeLabel"] for level in topologies["ec2-4-network-layers"]["spec"]["levels"]]
    assert levels == [f"{LAYER}{n}" for n in (1, 2, 3, 4)] + ["kubernetes.io/hostname"]
    flavors = _objects(result, "ResourceFlavor")
    assert flavors["train-b200"]["spec"]["topologyName"] == "ec2-4-network-layers"
    assert flavors["train-b200"]["spec"]["nodeLabels"]
    assert "topologyName" not in flavors["train-h100"]["spec"]
    for manifest in (*topologies.values(), *flavors.values()):
        assert custom_resource_errors(manifest) == []
    [topology] = [r for r in result.resources if r.type == "kubernetes:kueue.x-k8s.io/v1beta2:Topology"]
    [flavor] = [r for r in result.resources if r.name == "train-b200" and r.type.endswith(":ResourceFlavor")]
    assert topology.urn in flavor.depends_on


@pytest.mark.parametrize("instance_type", sorted(CATALOG.fabric.topology.layers))
def test_levels_follow_the_types_published_layer_count(instance_type: str) -> None:
    depth = CATALOG.fabric.topology.layers[instance_type]
    assert CATALOG.fabric.topology.levels(instance_type) == tuple(f"{LAYER}{n}" for n in range(1, depth + 1))


def test_a_pool_that_scales_from_zero_names_no_topology_and_says_why() -> None:
    """Kueue TAS docs, "Capacity calculation": only Ready nodes' allocatable counts, so a topology
    flavor keeps a job suspended until its nodes exist, and the autoscaler, which adds nodes for
    pending pods, never sees one. prod's capacity-block pool starts at 0."""
    plan, result = rendered("prod", str(REPO / "stacks"))
    assert _objects(result, "Topology") == {}
    choice = plan.placement.pools["train-h200"]
    assert choice.topology is None and choice.levels[-1] == "kubernetes.io/hostname"
    assert "scales from 0 node(s)" in choice.reason
    outcome = CliRunner().invoke(app, ["validate", str(REPO / "stacks" / "prod.yaml"), "--json"])
    [stack] = json.loads(outcome.stdout)["stacks"]
    assert stack["placement"]["pools"]["train-h200"]["topology"] is None


def _stack(tmp_path: Path, pool_yaml: str) -> Path:
    body = FULL.replace(
        """  train-b200:
    workload: training
    instance_type: p6-b200.48xlarge
    nodes: {min: 2, max: 2}
""",
        pool_yaml,
    )
    path = tmp_path / "full.yaml"
    path.write_text(body, encoding="utf-8")
    return path


B200 = """  train-b200:
    workload: training
    instance_type: p6-b200.48xlarge
"""


def test_a_declared_job_size_and_level_shape_the_gang_check(tmp_path: Path) -> None:
    """A pool of 4 p6-b200 that keeps 2 and runs 2-node jobs within layer-3: the NCCL check is a
    2-worker gang required (not preferred) to share a layer-3 value, as its training jobs are."""
    path = _stack(
        tmp_path, B200 + "    nodes: {min: 2, max: 4}\n    jobs: {max_nodes: 2, within: topology.k8s.aws/network-node-layer-3}\n"
    )
    plan = resolve(load_stack(path), CATALOG)
    [nccl] = [job for job in plan.validation.nccl if job.pool == "train-b200"]
    worker = nccl.manifest()["spec"]["mpiReplicaSpecs"]["Worker"]
    assert worker["replicas"] == 2
    assert worker["template"]["metadata"]["annotations"] == {REQUIRED_TOPOLOGY: f"{LAYER}3"}
    assert nccl.ranks == 16


@pytest.mark.parametrize(
    ("pool", "field", "message"),
    [
        (
            "    nodes: {min: 2, max: 2}\n    jobs: {max_nodes: 4}\n",
            "node_pools.train-b200.jobs.max_nodes",
            "a job of 4 nodes never fits: the pool grows to 2 (nodes.max)",
        ),
        (
            "    nodes: {min: 0, max: 8}\n    jobs: {max_nodes: 8}\n    availability_zone: us-east-1a\n"
            "    capacity: {type: capacity-block, reservation_id: cr-0a1b2c3d4e5f60718, availability_zone: us-east-1a,"
            " price: {hourly_usd: 60}, instances: 4}\n",
            "node_pools.train-b200.jobs.max_nodes",
            "a job of 8 nodes never fits: the capacity-block holds 4 instances (capacity.instances)",
        ),
        (
            "    nodes: {min: 2, max: 2}\n    jobs: {max_nodes: 2, within: topology.k8s.aws/network-node-layer-5}\n",
            "node_pools.train-b200.jobs.within",
            "p6-b200.48xlarge has no topology level topology.k8s.aws/network-node-layer-5",
        ),
        (
            "    nodes: {min: 0, max: 2}\n    jobs: {max_nodes: 2, within: topology.k8s.aws/network-node-layer-3}\n",
            "node_pools.train-b200.jobs.within",
            "the pool scales from 0 node(s) and its jobs take 2",
        ),
        (
            "    nodes: {min: 2, max: 2}\n    jobs: {max_nodes: 2, within: kubernetes.io/hostname}\n",
            "node_pools.train-b200.jobs.within",
            "a job of 2 nodes cannot stay within one node",
        ),
    ],
)
def test_a_job_kueue_could_never_admit_is_refused_where_it_is_written(
    tmp_path: Path, pool: str, field: str, message: str
) -> None:
    """GF-JOB-001/002: Kueue finds these only at admission (a workload pending for a flavor, a
    topology level no node has: kueue#5039); gpufleet refuses them before apply, at the field."""
    path = _stack(tmp_path, B200 + pool)
    outcome = CliRunner().invoke(app, ["validate", str(path), "--json"])
    assert outcome.exit_code == 1, outcome.output
    [stack] = json.loads(outcome.stdout)["stacks"]
    found = [p for p in stack["problems"] if p["field"] == field]
    assert found and message in found[0]["message"], stack["problems"]


def test_capacity_instances_only_describe_reserved_capacity() -> None:
    """Only a capacity block or a reservation has a fixed instance count to hold a job to."""
    with pytest.raises(ValidationError, match="instances only applies to capacity-block or reservation, not spot"):
        Capacity(type="spot", instances=2)
    assert Capacity(type="reservation", reservation_id="cr-0a1b2c3d4e5f60718", availability_zone="us-east-1a", instances=2)
