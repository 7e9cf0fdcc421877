"""The validation jobs: each asks what a training job on its pool would, and fails loudly without the fabric."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml
from typer.testing import CliRunner

from gpufleet.catalog import load_catalog
from gpufleet.cli import app
from gpufleet.model import resolve
from gpufleet.model.kubernetes import GPU_RESOURCE
from gpufleet.model.kubernetes_decisions import pool_devices
from gpufleet.model.plan import ExistingNodes, LaunchedNodes
from gpufleet.model.validation import PREFERRED_TOPOLOGY, QUEUE_LABEL, UNCONSTRAINED_TOPOLOGY
from gpufleet.stack import load_stack
from tests.kubernetes.conftest import FULL
from tests.kubernetes.references import core_errors
from tests.reference import reference_path

REPO = Path(__file__).resolve().parents[2]
CATALOG = load_catalog()
STACKS = ("dev", "staging", "prod", "onprem", "full")


@pytest.fixture(scope="module", params=STACKS)
def planned(request, tmp_path_factory):
    if request.param == "full":
        path = tmp_path_factory.mktemp("full") / "full.yaml"
        path.write_text(FULL, encoding="utf-8")
    else:
        path = REPO / "stacks" / f"{request.param}.yaml"
    plan = resolve(load_stack(path), CATALOG)
    return plan, plan.kubernetes, plan.validation


def _containers(manifest):
    if manifest["kind"] == "Job":
        return manifest["spec"]["template"]["spec"]["containers"]
    return manifest["spec"]["mpiReplicaSpecs"]["Worker"]["template"]["spec"]["containers"]


def test_every_jobs_requests_equal_its_pools_allocatable_per_node(planned) -> None:
    """The device plugins advertise per node what ``pool_devices`` totals over ``nodes.max``: the
    NVIDIA plugin ``nvidia.com/gpu`` (or MIG profiles, or time-sliced replicas), the EFA plugin
    "vpc.amazonaws.com/efa, one per EFA interface" (EKS node-efa docs), and the EFA driver's 2 MiB
    huge pages. The shared RDMA plugin's count is a share count (README: the resource "allows
    sharing of RDMA devices"), so a pod asks one share."""
    plan, _, checks = planned
    pools = {pool.name: pool for pool in plan.pools}
    for job in (*checks.dcgm, *checks.nccl):
        pool = pools[job.pool]
        expected = {
            resource: (1 if resource.startswith("rdma/") else total // pool.nodes.max)
            for resource, total in pool_devices(pool, CATALOG).items()
        }
        hugepages = pool.source.efa_hugepages if isinstance(pool.source, LaunchedNodes) else None
        if hugepages:
            expected["hugepages-2Mi"] = f"{hugepages * 2}Mi"
        (container,) = _containers(job.manifest())
        asked = {k: v for k, v in container["resources"]["requests"].items() if k not in ("cpu", "memory")}
        assert asked == expected, job.name
        assert container["resources"]["limits"] == container["resources"]["requests"], job.name


def test_jobs_land_where_training_does_and_in_its_queue(planned) -> None:
    """Kueue admits a job through the LocalQueue named by ``kueue.x-k8s.io/queue-name`` in the
    job's namespace; the queue must be one the Kubernetes plan made, pointing at a ClusterQueue
    that holds the pool's flavor. Every pool taint needs a toleration or the pods never schedule."""
    plan, kubernetes, checks = planned
    pools = {pool.name: pool for pool in plan.pools}
    local = {(q.namespace, q.name): q.cluster_queue for q in kubernetes.queues.local_queues} if kubernetes.queues else {}
    # The ClusterQueues holding quota of each pool's flavor (nominal or borrowable).
    cluster_queues = kubernetes.queues.cluster_queues if kubernetes.queues else ()
    reaching = {p: {q.name for q in cluster_queues if any(f.flavor == p for f in q.flavors)} for p in pools}
    for job in (*checks.dcgm, *checks.nccl):
        manifest, pool = job.manifest(), pools[job.pool]
        queue = manifest["metadata"]["labels"].get(QUEUE_LABEL)
        if queue is not None:
            assert local[(manifest["metadata"]["namespace"], queue)] in reaching[job.pool], job.name
        spec = (
            manifest["spec"]["template"]["spec"]
            if manifest["kind"] == "Job"
            else manifest["spec"]["mpiReplicaSpecs"]["Worker"]["template"]["spec"]
        )
        assert (
            spec["nodeSelector"].items()
            <= {**pool.labels, **(pool.source.node_selector if isinstance(pool.source, ExistingNodes) else {})}.items()
        )
        tolerated = {(t["key"], t["value"], t["effect"]) for t in spec["tolerations"]}
        assert tolerated == {(t.key, t.value, t.effect) for t in pool.taints}, job.name


def test_every_gpu_pool_gets_dcgm_and_every_multi_node_rdma_pool_gets_nccl(planned) -> None:
    plan, _, checks = planned
    nvidia = {p.name for p in plan.pools if p.accelerator is not None and p.accelerator.vendor == "nvidia"}
    assert {job.pool for job in checks.dcgm} == nvidia
    fabric = {
        p.name
        for p in plan.pools
        if p.name in nvidia
        and p.fabric is not None
        and p.fabric.rdma
        and p.nodes.max >= 2
        and GPU_RESOURCE in pool_devices(p, CATALOG)
    }
    assert {job.pool for job in checks.nccl} == fabric
    assert {job.pool for job in checks.nccl}.isdisjoint({r.subject for r in checks.skipped})


def test_nccl_fails_loudly_without_the_fabric(planned) -> None:
    """NCCL docs: NCCL_NET "forces NCCL to use a specific network ... and doesn't automatically fall
    back"; aws-ofi-nccl names its network Libfabric; the interface list excludes lo, docker, veth and
    EKS Pod Identity's pod-id-link0; NCCL_ALGO=Ring keeps two-node busbw honest (nccl-tests issue 22)."""
    _, _, checks = planned
    for job in checks.nccl:
        launcher = job.manifest()["spec"]["mpiReplicaSpecs"]["Launcher"]["template"]["spec"]["containers"][0]
        exported = dict(arg.split("=", 1) for arg in launcher["command"] if "=" in arg)
        assert exported["NCCL_SOCKET_IFNAME"] == "^lo,docker,veth,pod-id-link0"
        assert exported["NCCL_ALGO"] == "Ring"
        assert exported["NCCL_DEBUG"] == "INFO"
        if job.transport.fabric == "efa":
            assert (exported["NCCL_NET"], exported["FI_PROVIDER"]) == ("Libfabric", "efa")
        else:
            assert exported["NCCL_NET"] == "IB"
        assert launcher["command"][launcher["command"].index("-np") + 1] == str(job.nodes * job.gpus_per_node)


def test_a_gang_asks_for_topology_only_where_its_flavor_names_one(planned) -> None:
    """Kueue v0.19.2 ``tas_flavorassigner.go``: a pod set asking for topology gets no flavor without
    one ("does not support TopologyAwareScheduling"), and a flavor with a Topology takes a pod set
    that asks for none only in a ClusterQueue of topology flavors ("supports only
    TopologyAwareScheduling"). So the workers prefer the network layer nearest the node (EKS docs:
    layer-3 "the bottom layer for most supported instance types", layer-4 on p6-b200/b300) exactly
    where the pool's flavor names a Topology, and the launcher and the DCGM pods ask to be placed
    anywhere (unconstrained) there; elsewhere no pod carries a topology annotation."""
    _, kubernetes, checks = planned
    flavors = {f.pool: f for f in kubernetes.queues.flavors} if kubernetes.queues else {}
    topologies = {t.name: t for t in kubernetes.queues.topologies} if kubernetes.queues else {}
    for job in (*checks.dcgm, *checks.nccl):
        manifest = job.manifest()
        flavor = flavors.get(job.pool)
        named = flavor.topology if flavor else None
        if manifest["kind"] == "Job":
            pods = {"diagnostic": manifest["spec"]["template"]["metadata"]}
        else:
            spec = manifest["spec"]["mpiReplicaSpecs"]
            pods = {"worker": spec["Worker"]["template"]["metadata"], "launcher": spec["Launcher"]["template"]["metadata"]}
        for role, metadata in pods.items():
            if named is None:
                assert "annotations" not in metadata, (job.name, role)
            elif role == "worker":
                assert metadata["annotations"] == {PREFERRED_TOPOLOGY: topologies[named].levels[-2]}
                assert topologies[named].levels[-2].startswith("topology.k8s.aws/network-node-layer-")
            else:
                assert metadata["annotations"] == {UNCONSTRAINED_TOPOLOGY: "true"}, (job.name, role)


def test_manifests_are_valid_for_kubernetes_and_the_mpijob_crd(planned) -> None:
    plan, _, checks = planned
    crd = yaml.safe_load(
        reference_path("k8s/mpi-operator__manifests__base__kubeflow.org_mpijobs.yaml").read_text(encoding="utf-8")
    )
    (version,) = [v for v in crd["spec"]["versions"] if v["name"] == "v2beta1"]
    schema = version["schema"]["openAPIV3Schema"]
    for job in checks.dcgm:
        assert core_errors(job.manifest(), plan.cluster.kubernetes_version) == [], job.name
    for job in checks.nccl:
        body = {k: v for k, v in job.manifest().items() if k != "metadata"}
        schema_without_metadata = {**schema, "properties": {k: v for k, v in schema["properties"].items() if k != "metadata"}}
        errors = sorted(e.message for e in jsonschema.Draft7Validator(schema_without_metadata).iter_errors(body))
        assert errors == [], job.name


def test_b200_pool_prefers_layer_four_and_has_a_floor(tmp_path) -> None:
    """The FULL stack's p6-b200 training pool on EFA: four network layers, a derived floor, 8 EFAs."""
    path = tmp_path / "full.yaml"
    path.write_text(FULL, encoding="utf-8")
    plan = resolve(load_stack(path), CATALOG)
    checks = plan.validation
    (b200,) = [job for job in checks.nccl if job.pool == "train-b200"]
    assert b200.placement.topology.level == "topology.k8s.aws/network-node-layer-4"
    assert (b200.floor.busbw_gbs, b200.floor.basis) == (345.6, "derived")
    assert b200.requests["vpc.amazonaws.com/efa"] == 8


def test_validate_json_shows_each_check_and_why_it_lands_where_it_does() -> None:
    """``validate --json`` carries the validation plan: per check its pool, size, requests, queue
    and the reason for it, the floor for NCCL, what is skipped, and whether ``pulumi up`` creates them."""
    outcome = CliRunner().invoke(app, ["validate", str(REPO / "stacks" / "staging.yaml"), "--json"])
    assert outcome.exit_code == 0, outcome.output
    [stack] = json.loads(outcome.stdout)["stacks"]
    plan = resolve(load_stack(REPO / "stacks" / "staging.yaml"), CATALOG)
    shown = stack["validation"]
    assert shown["create"] is False
    assert [(j["pool"], j["check"], j["kind"]) for j in shown["jobs"]] == [
        *((job.pool, "dcgm", "Job") for job in plan.validation.dcgm),
        *((job.pool, "nccl", "MPIJob") for job in plan.validation.nccl),
    ]
    [nccl] = [j for j in shown["jobs"] if j["check"] == "nccl"]
    assert nccl["floor"]["busbw_gbs"] == 345.6
    assert nccl["requests"]["vpc.amazonaws.com/efa"] == 32
    assert nccl["queue_reason"].startswith("LocalQueue ")
    assert set(shown["skipped"]) == {r.subject for r in plan.validation.skipped}
    assert shown["mpi_operator"]["version"] == CATALOG.fabric.mpi_operator.version
