"""The positive side of resolution: the example stacks, and every decision the plan makes
(placement, zones, labels and taints, subnets, storage protection)."""

from __future__ import annotations

from ipaddress import IPv4Network
from itertools import combinations

import pytest

from gpufleet.catalog import load_catalog
from gpufleet.model import resolve
from gpufleet.model.plan import ExistingCluster, ExistingNodes, Taint
from gpufleet.stack import load_stack

EFA = """
fabrics:
  efa: {kind: efa}
  lan: {kind: ethernet}
"""


def pool(plan, name):
    return next(p for p in plan.pools if p.name == name)


# -- the example stacks -----------------------------------------------------------------------


@pytest.mark.parametrize("name", ["dev.yaml", "prod.yaml"])
def test_example_stacks_validate(stacks, name: str) -> None:
    plan = resolve(load_stack(stacks.repo / "stacks" / name), load_catalog())
    assert plan.stack == name.removesuffix(".yaml")
    assert plan.pools


def test_prod_stack_decisions(stacks) -> None:
    plan = resolve(load_stack(stacks.repo / "stacks" / "prod.yaml"), load_catalog())
    assert plan.cluster.name == "ai-prod" and plan.cluster.region == "us-east-1"
    assert [p.name for p in plan.pools] == ["lab-l4", "serve-h100", "system", "train-h200"]

    train = pool(plan, "train-h200")
    assert train.source.instance.name == "p5e.48xlarge" and train.accelerator.name == "H200-141GB"
    assert train.gpus_max == 16 * 8
    assert train.source.efa is not None and train.source.efa.efa_count == 32
    # A capacity block decides placement itself: no placement group, and the reason says why.
    assert train.source.placement.strategy == "none"
    assert "capacity-block" in train.source.placement.reason
    assert train.source.zones == ("us-east-1a",)
    assert [s.name for s in train.source.subnets] == ["pool-train-h200"]
    assert [t.name for t in train.storage] == ["scratch", "nvme-cache"]

    serve = pool(plan, "serve-h100")
    assert serve.mig is not None and serve.mig.name == "serve-balanced"
    assert serve.mig.accelerator.name == "H100-80GB"
    assert serve.labels["nvidia.com/mig.config"] == "serve-balanced"
    assert serve.source.zones == ("us-east-1a", "us-east-1b")
    assert serve.source.efa is None

    scratch = plan.storage_tier("scratch")
    # Sized for its disks to feed 128 GPUs x 900 MB/s: 115.2 TiB x 1000 MB/s per TiB.
    assert scratch.fsx.storage_capacity_gib == 115200
    assert scratch.disk_throughput_mbs == pytest.approx(115.2 * 1000)
    # PERSISTENT_2 at 1000 MB/s/TiB gives 2600 MB/s/TiB baseline network throughput (from cache).
    assert scratch.throughput_mbs == pytest.approx(115.2 * 2600)
    assert scratch.protected
    assert plan.storage_tier("datasets").protected
    assert not plan.storage_tier("nvme-cache").protected


def test_dev_stack_decisions(stacks) -> None:
    plan = resolve(load_stack(stacks.repo / "stacks" / "dev.yaml"), load_catalog())
    assert plan.cluster.region == "us-west-2"
    serve = pool(plan, "serve-l4")
    assert serve.source.capacity.type == "spot"
    assert serve.local_nvme is not None and serve.local_nvme.name == "nvme-cache"
    assert serve.source.zones == ("us-west-2a", "us-west-2b")
    # The dev bucket says allow_deletion: true.
    assert not plan.storage_tier("scratch-bucket").protected
    assert all(p.source.placement.strategy == "none" for p in plan.pools)


# -- placement --------------------------------------------------------------------------------


def test_multi_node_on_demand_efa_training_gets_a_cluster_group(stacks) -> None:
    path = stacks.aws(
        EFA,
        """
        node_pools:
          train:
            workload: training
            instance_type: p5.48xlarge
            nodes: {min: 2, max: 8}
            fabric: efa
        """,
        stacks.system_pool,
    )
    train = pool(stacks.plan(path), "train")
    assert train.source.placement.strategy == "cluster"
    assert train.source.placement.reason == "multi-node training on an RDMA fabric: one cluster placement group, one zone"
    assert train.source.placement.partition_count is None


@pytest.mark.parametrize("capacity", ["capacity-block", "reservation"])
def test_reserved_training_capacity_gets_no_placement_group(stacks, capacity: str) -> None:
    path = stacks.aws(
        EFA,
        f"""
        node_pools:
          train:
            workload: training
            instance_type: p5.48xlarge
            nodes: {{min: 4, max: 4}}
            fabric: efa
            capacity: {{type: {capacity}, reservation_id: cr-0123456789abcdef0, availability_zone: us-east-1a}}
        """,
        stacks.system_pool,
    )
    train = pool(stacks.plan(path), "train")
    assert train.source.placement.strategy == "none"
    assert train.source.placement.reason == (
        f"{capacity}: the reserved capacity decides where instances land; adding a placement group "
        "risks InsufficientInstanceCapacity"
    )


@pytest.mark.parametrize(
    ("workload", "nodes", "fabric"),
    [("training", "{min: 0, max: 1}", "efa"), ("inference", "{min: 2, max: 8}", "efa"), ("lab", "{min: 2, max: 4}", "lan")],
)
def test_other_pools_get_no_placement_group(stacks, workload: str, nodes: str, fabric: str) -> None:
    path = stacks.aws(
        EFA,
        f"""
        node_pools:
          pool:
            workload: {workload}
            instance_type: p5.48xlarge
            nodes: {nodes}
            fabric: {fabric}
        """,
        stacks.system_pool,
    )
    decision = pool(stacks.plan(path), "pool").source.placement
    assert (decision.strategy, decision.reason) == ("none", "single-node or non-training pool")


def test_explicit_partition_placement(stacks) -> None:
    path = stacks.aws(
        EFA,
        """
        node_pools:
          train:
            workload: training
            instance_type: p4d.24xlarge
            nodes: {min: 2, max: 12}
            fabric: efa
            placement: partition
        """,
        stacks.system_pool,
    )
    decision = pool(stacks.plan(path), "train").source.placement
    # EC2 partition groups have at most 7 partitions per zone.
    assert (decision.strategy, decision.reason, decision.partition_count) == ("partition", "set in the spec", 7)


# -- zones ------------------------------------------------------------------------------------


def test_zones_per_pool_kind(stacks) -> None:
    path = stacks.aws(
        EFA,
        """
        node_pools:
          serve:
            workload: inference
            instance_type: g6.12xlarge
            nodes: {min: 1, max: 4}
          serve-efa:
            workload: inference
            instance_type: g6.12xlarge
            nodes: {min: 1, max: 4}
            fabric: efa
          train-tcp:
            workload: training
            instance_type: g6.12xlarge
            nodes: {min: 1, max: 4}
            allow_non_rdma: true
          train-b:
            workload: training
            instance_type: p5.48xlarge
            nodes: {min: 2, max: 2}
            fabric: efa
            availability_zone: us-east-1b
          pinned:
            workload: inference
            instance_type: g6.xlarge
            nodes: {min: 1, max: 2}
            availability_zone: us-east-1b
          reserved:
            workload: inference
            instance_type: p5.48xlarge
            nodes: {min: 1, max: 1}
            capacity: {type: reservation, reservation_id: cr-0123456789abcdef0, availability_zone: us-east-1a}
        """,
        stacks.system_pool,
    )
    plan = stacks.plan(path)
    # Inference without EFA spreads over every network zone.
    assert pool(plan, "serve").source.zones == ("us-east-1a", "us-east-1b")
    assert len(pool(plan, "serve").source.zones) == 2
    # EFA traffic stays in one subnet, so EFA pools are single-zone, the first zone by default.
    assert pool(plan, "serve-efa").source.zones == ("us-east-1a",)
    # Training pools are single-zone even on TCP.
    assert pool(plan, "train-tcp").source.zones == ("us-east-1a",)
    assert pool(plan, "train-b").source.zones == ("us-east-1b",)
    assert pool(plan, "pinned").source.zones == ("us-east-1b",)
    # A reservation lives in one zone.
    assert pool(plan, "reserved").source.zones == ("us-east-1a",)


def test_existing_kubernetes_cluster_has_no_network(stacks) -> None:
    path = stacks.write(
        """
        cluster:
          name: onprem
          provider: kubernetes
          kubernetes_version: "1.33"
        node_pools:
          serve:
            workload: inference
            node_selector: {example.com/rack: r12}
            gpu: L4
            gpus_per_node: 4
            cpus_per_node: 64
            memory_gib_per_node: 512
            nodes: {min: 1, max: 2}
        """
    )
    plan = stacks.plan(path)
    assert plan.network is None
    serve = pool(plan, "serve")
    assert isinstance(plan.cluster.cloud, ExistingCluster) and plan.cluster.region is None
    assert serve.source == ExistingNodes({"example.com/rack": "r12"}, gpus_per_node=4, vcpus=64, memory_gib=512)
    assert serve.gpus_max == 8 and serve.labels == {"example.com/rack": "r12"}
    assert serve.node_kind == "example.com/rack=r12"


# -- labels and taints ---------------------------------------------------------------------------


def test_labels_and_taints(stacks) -> None:
    path = stacks.aws(
        EFA,
        """
        mig_plans:
          sevenths:
            gpu: H100
            layout: {1g.10gb: 7}
        node_pools:
          system:
            workload: system
            instance_type: m7i.xlarge
            nodes: {min: 1, max: 2}
          serve-mig:
            workload: inference
            instance_type: p5.48xlarge
            nodes: {min: 1, max: 2}
            mig: sevenths
            labels: {team: search}
          serve-full:
            workload: inference
            instance_type: p5.48xlarge
            nodes: {min: 1, max: 2}
          lab:
            workload: lab
            instance_type: g6.xlarge
            nodes: {min: 0, max: 2}
        """,
    )
    plan = stacks.plan(path)
    gpu_taint = Taint("nvidia.com/gpu", "true", "NoSchedule")

    system = pool(plan, "system")
    assert system.labels == {"gpufleet.io/pool": "system", "gpufleet.io/workload": "system"}
    assert system.taints == ()

    mig = pool(plan, "serve-mig")
    assert mig.labels == {
        "gpufleet.io/accelerator": "H100-80GB",
        "gpufleet.io/pool": "serve-mig",
        "gpufleet.io/workload": "inference",
        "nvidia.com/mig.config": "sevenths",
        "team": "search",
    }
    assert mig.taints == (gpu_taint,)

    # A MIG-capable GPU without a plan is pinned to whole GPUs explicitly.
    assert pool(plan, "serve-full").labels["nvidia.com/mig.config"] == "all-disabled"

    lab = pool(plan, "lab")
    assert "nvidia.com/mig.config" not in lab.labels  # L4 has no MIG
    assert lab.taints == (gpu_taint, Taint("gpufleet.io/workload", "lab"))


# -- subnets ----------------------------------------------------------------------------------------


TWO_TRAINING_POOLS = """
node_pools:
  {first}:
    workload: training
    instance_type: p5.48xlarge
    nodes: {{min: 2, max: 2}}
    fabric: efa
  {second}:
    workload: training
    instance_type: p5.48xlarge
    nodes: {{min: 2, max: 2}}
    fabric: efa
    availability_zone: us-east-1b
  serve:
    workload: inference
    instance_type: g6.xlarge
    nodes: {{min: 1, max: 2}}
  system:
    workload: system
    instance_type: m7i.xlarge
    nodes: {{min: 1, max: 2}}
"""


def test_network_layout(stacks) -> None:
    plan = stacks.plan(stacks.aws(EFA, TWO_TRAINING_POOLS.format(first="train-a", second="train-b")))
    network = plan.network
    assert network.vpc_cidr == IPv4Network("10.0.0.0/16")
    # Shared private subnets: /20s of the lower half; public: /23s of the top /20.
    assert [(s.zone, str(s.cidr)) for s in network.shared_private_subnets] == [
        ("us-east-1a", "10.0.0.0/20"),
        ("us-east-1b", "10.0.16.0/20"),
    ]
    assert [(s.zone, str(s.cidr)) for s in network.public_subnets] == [
        ("us-east-1a", "10.0.240.0/23"),
        ("us-east-1b", "10.0.242.0/23"),
    ]

    train_a, train_b, serve = pool(plan, "train-a"), pool(plan, "train-b"), pool(plan, "serve")
    # Training pools each get their own subnet in their own zone, sized to them: 2 nodes (GPU
    # pools update in place, no surge) x 50 addresses fits a /25; with no record yet, blocks go
    # out in name order.
    assert [(s.name, s.zone, str(s.cidr)) for s in train_a.source.subnets] == [("pool-train-a", "us-east-1a", "10.0.128.0/25")]
    assert [(s.name, s.zone, str(s.cidr)) for s in train_b.source.subnets] == [("pool-train-b", "us-east-1b", "10.0.128.128/25")]
    # Other pools use the shared subnet of each of their zones.
    assert serve.source.subnets == network.shared_private_subnets

    every = [*network.public_subnets, *network.shared_private_subnets, *network.pool_subnets]
    for one, other in combinations(every, 2):
        assert not one.cidr.overlaps(other.cidr), (one, other)
    for subnet in every:
        assert subnet.cidr.subnet_of(network.vpc_cidr)


# -- storage ----------------------------------------------------------------------------------------


def test_storage_protection_flags(stacks) -> None:
    path = stacks.aws(
        """
        storage:
          keep-bucket: {kind: s3}
          temp-bucket: {kind: s3, allow_deletion: true}
          keep-fs: {kind: fsx-lustre, deployment: PERSISTENT_2, capacity_tib: 2.4, throughput_per_tib: 250}
          temp-fs: {kind: fsx-lustre, deployment: PERSISTENT_1, capacity_tib: 1.2, throughput_per_tib: 50, allow_deletion: true}
          scratch-fs: {kind: fsx-lustre, deployment: SCRATCH_2, capacity_tib: 1.2, throughput_per_tib: 200}
          cache: {kind: local-nvme}
        node_pools:
        """,
        stacks.system_pool,
    )
    plan = stacks.plan(path)
    protected = {tier.name: tier.protected for tier in plan.storage}
    assert protected == {
        "cache": False,
        "keep-bucket": True,
        "keep-fs": True,
        "scratch-fs": False,  # scratch file systems hold nothing to lose
        "temp-bucket": False,
        "temp-fs": False,
    }
    assert plan.storage_tier("keep-fs").throughput_mbs == pytest.approx(2.4 * 640)
    assert plan.storage_tier("scratch-fs").throughput_mbs == pytest.approx(1.2 * 200)


def test_file_system_sits_where_most_of_its_clients_run(stacks) -> None:
    path = stacks.aws(
        EFA,
        """
        storage:
          scratch: {kind: fsx-lustre, capacity_tib: 2.4, throughput_per_tib: 250}
        node_pools:
          train-x:
            workload: training
            instance_type: p5.48xlarge
            nodes: {min: 2, max: 2}
            fabric: efa
            availability_zone: us-east-1b
            storage: [scratch]
          train-y:
            workload: training
            instance_type: p5.48xlarge
            nodes: {min: 2, max: 2}
            fabric: efa
            availability_zone: us-east-1b
            storage: [scratch]
          train-z:
            workload: training
            instance_type: p5.48xlarge
            nodes: {min: 2, max: 2}
            fabric: efa
            storage: [scratch]
        """,
        stacks.system_pool,
    )
    plan = stacks.plan(path)
    tier = plan.storage_tier("scratch")
    assert tier.subnet is not None and tier.subnet.zone == "us-east-1b"
    # Pools see the placed tier, not a copy without its subnet.
    assert pool(plan, "train-z").storage[0].subnet == tier.subnet


# -- MIG in the plan --------------------------------------------------------------------------


def test_mig_per_device_layouts(stacks) -> None:
    path = stacks.aws(
        """
        mig_plans:
          mixed:
            gpu: H100
            devices:
              - {devices: [0, 1], layout: {7g.80gb: 1}}
              - {devices: [2, 3, 4, 5, 6, 7], layout: {1g.10gb: 7}}
        node_pools:
          serve:
            workload: inference
            instance_type: p5.48xlarge
            nodes: {min: 1, max: 2}
            mig: mixed
        """,
        stacks.system_pool,
    )
    plan = stacks.plan(path)
    layouts = pool(plan, "serve").mig.device_layouts
    assert [(d.devices, d.layout) for d in layouts] == [((0, 1), {"7g.80gb": 1}), ((2, 3, 4, 5, 6, 7), {"1g.10gb": 7})]


def test_mig_demand_plan_resolves(stacks) -> None:
    path = stacks.aws(
        """
        mig_plans:
          auto:
            gpu: H100
            demand:
              - {name: chat, memory_gib: 18, replicas: 5}
        node_pools:
          serve:
            workload: inference
            instance_type: p5.48xlarge
            nodes: {min: 1, max: 2}
            mig: auto
        """,
        stacks.system_pool,
    )
    plan = stacks.plan(path)
    layouts = pool(plan, "serve").mig.device_layouts
    # Five instances of one profile that holds 18 GiB, on as few GPUs as fit them.
    counts = [count for layout in layouts for count in (layout.layout or {}).values()]
    assert sum(counts) == 5
    assert all(device < 8 for layout in layouts for device in layout.devices)
