"""Resolving a stack against the catalog: one test per semantic error class, each with its
exact message and line:column.

``stacks.aws(...)`` writes the 8-line AWS head of conftest (cluster, region us-east-1,
network 10.0.0.0/16 over us-east-1a/b), so the parts below start at line 9. The comments
number the lines that matter.
"""

from __future__ import annotations

import pytest

from gpufleet.model.plan import ExistingNodes

CB_ELIGIBLE = (
    "p4d.24xlarge, p4de.24xlarge, p5.48xlarge, p5.4xlarge, p5e.48xlarge, p5en.48xlarge, "
    "p6-b200.48xlarge, p6-b300.48xlarge, trn1.32xlarge, trn2.3xlarge, trn2.48xlarge"
)
NO_RDMA = (
    "it needs an RDMA fabric (efa or infiniband), or allow_non_rdma: true to accept TCP here; gpufleet check still "
    "fails it (policy training-on-rdma-fabric, mandatory) unless its policy config makes that advisory"
)


# -- unknown catalog names --------------------------------------------------------------------


def test_unknown_instance_type_with_did_you_mean(stacks) -> None:
    path = stacks.aws(
        """
        node_pools:
          train-h200:
            workload: inference
            instance_type: p5e.48xl
            nodes: {min: 1, max: 2}
        """,
        stacks.system_pool,
    )
    # Line 12 "    instance_type: p5e.48xl": the value at column 20.
    assert stacks.resolve_problems(path) == [
        (12, 20, "node_pools.train-h200.instance_type", "unknown instance type 'p5e.48xl' (did you mean 'p5e.48xlarge'?)"),
    ]
    assert stacks.rules == ["GF-POOL-001"]


def test_unknown_instance_type_without_a_close_match(stacks) -> None:
    path = stacks.aws(
        """
        node_pools:
          big:
            workload: inference
            instance_type: quantum.9000
            nodes: {min: 1, max: 2}
        """,
        stacks.system_pool,
    )
    assert stacks.resolve_problems(path) == [(12, 20, "node_pools.big.instance_type", "unknown instance type 'quantum.9000'")]
    assert stacks.rules == ["GF-POOL-001"]


def test_unknown_instance_type_still_checks_references(stacks) -> None:
    path = stacks.aws(
        """
        node_pools:
          big:
            workload: inference
            instance_type: p5.48xl
            nodes: {min: 1, max: 2}
            fabric: efa
        """,
        stacks.system_pool,
    )
    assert stacks.resolve_problems(path) == [
        (12, 20, "node_pools.big.instance_type", "unknown instance type 'p5.48xl' (did you mean 'p5.48xlarge'?)"),
        (14, 13, "node_pools.big.fabric", "unknown fabric 'efa' (the stack defines none)"),
    ]
    assert stacks.rules == ["GF-POOL-001", "GF-REF-001"]


def test_general_purpose_type_only_for_system_pools(stacks) -> None:
    path = stacks.aws(
        """
        node_pools:
          serve:
            workload: inference
            instance_type: m7i.xlarge
            nodes: {min: 1, max: 2}
        """
    )
    assert stacks.resolve_problems(path) == [
        (12, 20, "node_pools.serve.instance_type", "m7i.xlarge has no accelerator; only system pools may use it"),
    ]
    assert stacks.rules == ["GF-POOL-002"]


def test_unknown_gpu_in_a_mig_plan(stacks) -> None:
    path = stacks.aws(
        """
        mig_plans:
          slices:
            gpu: H100-80G
            layout: {1g.10gb: 7}
        node_pools:
        """,
        stacks.system_pool,
    )
    # Line 11 "    gpu: H100-80G": the value at column 10.
    assert stacks.resolve_problems(path) == [
        (11, 10, "mig_plans.slices.gpu", "unknown GPU 'H100-80G' (did you mean 'H100-80GB'?)"),
    ]
    assert stacks.rules == ["GF-MIG-001"]


# -- dangling references ---------------------------------------------------------------------------


def test_dangling_fabric_storage_and_mig_references(stacks) -> None:
    path = stacks.aws(
        """
        fabrics:
          train-efa: {kind: efa}
        storage:
          datasets: {kind: s3}
        mig_plans:
          halves:
            gpu: H100
            layout: {3g.40gb: 2}
        node_pools:
          serve:
            workload: inference
            instance_type: p5.48xlarge
            nodes: {min: 1, max: 2}
            fabric: train-efs
            storage: [datasets, dataset]
            mig: halfs
        """,
        stacks.system_pool,
    )
    # 22 "    fabric: train-efs"        value at column 13
    # 23 "    storage: [datasets, dataset]"  'dataset' at column 25
    # 24 "    mig: halfs"               value at column 10
    assert stacks.resolve_problems(path) == [
        (22, 13, "node_pools.serve.fabric", "unknown fabric 'train-efs' (did you mean 'train-efa'?)"),
        (23, 25, "node_pools.serve.storage.1", "unknown storage tier 'dataset' (did you mean 'datasets'?)"),
        (24, 10, "node_pools.serve.mig", "unknown MIG plan 'halfs' (did you mean 'halves'?)"),
    ]
    assert stacks.rules == ["GF-REF-001", "GF-REF-003", "GF-REF-002"]


def test_dangling_reference_with_nothing_defined(stacks) -> None:
    path = stacks.aws(
        """
        node_pools:
          serve:
            workload: inference
            instance_type: p5.48xlarge
            nodes: {min: 1, max: 2}
            mig: halves
        """,
        stacks.system_pool,
    )
    assert stacks.resolve_problems(path) == [
        (14, 10, "node_pools.serve.mig", "unknown MIG plan 'halves' (the stack defines none)")
    ]
    assert stacks.rules == ["GF-REF-002"]


def test_dangling_reference_lists_the_known_names(stacks) -> None:
    path = stacks.aws(
        """
        fabrics:
          east: {kind: efa}
          west: {kind: ethernet}
        node_pools:
          serve:
            workload: inference
            instance_type: p5.48xlarge
            nodes: {min: 1, max: 2}
            fabric: zzz
        """,
        stacks.system_pool,
    )
    assert stacks.resolve_problems(path) == [
        (17, 13, "node_pools.serve.fabric", "unknown fabric 'zzz' (known: east, west)"),
    ]
    assert stacks.rules == ["GF-REF-001"]


def test_storage_tier_listed_twice(stacks) -> None:
    path = stacks.aws(
        """
        storage:
          datasets: {kind: s3}
        node_pools:
          serve:
            workload: inference
            instance_type: g6.xlarge
            nodes: {min: 1, max: 2}
            storage: [datasets, datasets]
        """,
        stacks.system_pool,
    )
    # Line 16 "    storage: [datasets, datasets]": the second at column 25.
    assert stacks.resolve_problems(path) == [
        (16, 25, "node_pools.serve.storage.1", "storage tier 'datasets' is listed twice"),
    ]
    assert stacks.rules == ["GF-REF-003"]


# -- duplicate names -----------------------------------------------------------------------------


def test_duplicate_availability_zones(stacks) -> None:
    text = stacks.head.replace("[us-east-1a, us-east-1b]", "[us-east-1a, us-east-1b, us-east-1a]")
    path = stacks.write(text, "node_pools:\n", stacks.system_pool)
    # Line 8 "  availability_zones: [...]": a list is located at its key (column 3).
    assert stacks.resolve_problems(path) == [
        (8, 3, "network.availability_zones", "availability zones are listed more than once"),
    ]
    assert stacks.rules == ["GF-NET-001"]


# -- fabrics -------------------------------------------------------------------------------------


def test_infiniband_on_aws(stacks) -> None:
    path = stacks.aws(
        """
        fabrics:
          ib: {kind: infiniband}
        node_pools:
        """,
        stacks.system_pool,
    )
    # Line 10 "  ib: {kind: infiniband}": the kind at column 14.
    assert stacks.resolve_problems(path) == [
        (10, 14, "fabrics.ib.kind", "AWS offers no InfiniBand; its RDMA fabric is EFA (kind: efa)"),
    ]
    assert stacks.rules == ["GF-FAB-001"]


def test_infiniband_on_an_existing_kubernetes_cluster_is_fine(stacks) -> None:
    path = stacks.write(
        """
        cluster:
          name: onprem
          provider: kubernetes
          kubernetes_version: "1.33"
        fabrics:
          ib: {kind: infiniband}
        node_pools:
          train:
            workload: training
            node_selector: {example.com/fabric: ib}
            gpu: H100
            gpus_per_node: 8
            cpus_per_node: 64
            memory_gib_per_node: 512
            nodes: {min: 2, max: 4}
            fabric: ib
        """
    )
    plan = stacks.plan(path)
    assert plan.pools[0].fabric.kind == "infiniband"
    assert isinstance(plan.pools[0].source, ExistingNodes), "no EFA layout: existing nodes have none"


def test_efa_on_an_instance_without_efa(stacks) -> None:
    path = stacks.aws(
        """
        fabrics:
          efa: {kind: efa}
        node_pools:
          serve:
            workload: inference
            instance_type: g6.xlarge
            nodes: {min: 1, max: 2}
            fabric: efa
        """,
        stacks.system_pool,
    )
    # Line 16 "    fabric: efa": the value at column 13. The hint lists the family's EFA sizes
    # smallest first (g6.8xlarge and up have MaximumEfaInterfaces 1 in the catalog).
    assert stacks.resolve_problems(path) == [
        (
            16,
            13,
            "node_pools.serve.fabric",
            "g6.xlarge does not support EFA (EFA-capable g6 sizes: g6.8xlarge, g6.12xlarge, g6.16xlarge, g6.24xlarge, g6.48xlarge)",
        ),
    ]
    assert stacks.rules == ["GF-EFA-001"]


def test_efa_on_a_family_without_any_efa_size(stacks) -> None:
    path = stacks.aws(
        """
        fabrics:
          efa: {kind: efa}
        node_pools:
          serve:
            workload: inference
            instance_type: inf2.48xlarge
            nodes: {min: 1, max: 2}
            fabric: efa
        """,
        stacks.system_pool,
    )
    # Line 14 is also refused: a Neuron pool (GF-K8S-010).
    assert stacks.resolve_problems(path)[1:] == [(16, 13, "node_pools.serve.fabric", "inf2.48xlarge does not support EFA")]
    assert stacks.rules == ["GF-K8S-010", "GF-EFA-001"]


# -- zones ------------------------------------------------------------------------------------------


def test_zones_outside_the_region(stacks) -> None:
    text = stacks.head.replace("[us-east-1a, us-east-1b]", "[us-east-1a, us-west-2b, us-east-1ab]")
    path = stacks.write(text, "node_pools:\n", stacks.system_pool)
    # Line 8 "  availability_zones: [us-east-1a, us-west-2b, us-east-1ab]":
    # 'us-west-2b' at column 36, 'us-east-1ab' at column 48.
    expected = "(expected 'us-east-1a', 'us-east-1b', ...)"
    assert stacks.resolve_problems(path) == [
        (8, 36, "network.availability_zones.1", f"zone 'us-west-2b' is not in region 'us-east-1' {expected}"),
        (8, 48, "network.availability_zones.2", f"zone 'us-east-1ab' is not in region 'us-east-1' {expected}"),
    ]
    assert stacks.rules == ["GF-NET-003", "GF-NET-003"]


def test_too_many_zones_is_reported_not_a_crash(stacks) -> None:
    zones = ", ".join(f"us-east-1{letter}" for letter in "abcdefghi")
    text = stacks.head.replace("[us-east-1a, us-east-1b]", f"[{zones}]")
    path = stacks.write(
        text,
        """
        node_pools:
          serve:
            workload: inference
            instance_type: g6.xlarge
            nodes: {min: 1, max: 2}
        """,
        stacks.system_pool,
    )
    assert stacks.resolve_problems(path) == [(8, 3, "network.availability_zones", "at most 8 availability zones")]
    assert stacks.rules == ["GF-NET-002"]


def test_pool_zone_not_in_the_network(stacks) -> None:
    path = stacks.aws(
        """
        node_pools:
          serve:
            workload: inference
            instance_type: g6.xlarge
            nodes: {min: 1, max: 2}
            availability_zone: us-east-1c
        """,
        stacks.system_pool,
    )
    # Line 14 "    availability_zone: us-east-1c": the value at column 24.
    assert stacks.resolve_problems(path) == [
        (
            14,
            24,
            "node_pools.serve.availability_zone",
            "zone 'us-east-1c' is not one of the network's zones: us-east-1a, us-east-1b",
        ),
    ]
    assert stacks.rules == ["GF-ZONE-002"]


# -- capacity and placement ------------------------------------------------------------------------


def test_capacity_block_on_an_ineligible_type(stacks) -> None:
    path = stacks.aws(
        """
        node_pools:
          serve:
            workload: inference
            instance_type: g6e.48xlarge
            nodes: {min: 2, max: 2}
            capacity: {type: capacity-block, reservation_id: cr-0123456789abcdef0, availability_zone: us-east-1a}
        """,
        stacks.system_pool,
    )
    # Line 14 "    capacity: {type: capacity-block, ...}": the type at column 22.
    assert stacks.resolve_problems(path) == [
        (14, 22, "node_pools.serve.capacity.type", f"g6e.48xlarge cannot run in a capacity block (eligible: {CB_ELIGIBLE})"),
    ]
    assert stacks.rules == ["GF-CAP-001"]


def test_capacity_block_on_trn1n_is_refused(stacks) -> None:
    # trn1n.32xlarge has EFA but no capacity-block usage class in DescribeInstanceTypes.
    path = stacks.aws(
        """
        fabrics:
          efa: {kind: efa}
        node_pools:
          train:
            workload: training
            instance_type: trn1n.32xlarge
            nodes: {min: 4, max: 4}
            fabric: efa
            capacity: {type: capacity-block, reservation_id: cr-0123456789abcdef0, availability_zone: us-east-1a}
        """,
        stacks.system_pool,
    )
    assert stacks.resolve_problems(path)[1:] == [
        (17, 22, "node_pools.train.capacity.type", f"trn1n.32xlarge cannot run in a capacity block (eligible: {CB_ELIGIBLE})"),
    ]
    assert stacks.rules == ["GF-K8S-010", "GF-CAP-001"]


def test_capacity_block_needs_min_zero_or_max(stacks) -> None:
    path = stacks.aws(
        """
        fabrics:
          efa: {kind: efa}
        node_pools:
          train:
            workload: training
            instance_type: p5.48xlarge
            nodes: {min: 2, max: 4}
            fabric: efa
            capacity: {type: capacity-block, reservation_id: cr-0123456789abcdef0, availability_zone: us-east-1a}
        """,
        stacks.system_pool,
    )
    # Line 15 "    nodes: ..." is a mapping: located at its key, column 5.
    assert stacks.resolve_problems(path) == [
        # Issue 8: min 0 is allowed too (EKS creates capacity-block groups at 0 before the block starts).
        (
            15,
            5,
            "node_pools.train.nodes",
            "a capacity block holds a fixed number of instances: set min to 0 (recommended) or to max",
        ),
    ]
    assert stacks.rules == ["GF-CAP-002"]


def test_cluster_placement_with_a_capacity_block(stacks) -> None:
    path = stacks.aws(
        """
        fabrics:
          efa: {kind: efa}
        node_pools:
          train:
            workload: training
            instance_type: p5.48xlarge
            nodes: {min: 4, max: 4}
            fabric: efa
            placement: cluster
            capacity: {type: capacity-block, reservation_id: cr-0123456789abcdef0, availability_zone: us-east-1a}
        """,
        stacks.system_pool,
    )
    # Line 17 "    placement: cluster": the value at column 16.
    assert stacks.resolve_problems(path) == [
        (
            17,
            16,
            "node_pools.train.placement",
            "a capacity block is already co-located in an EC2 UltraCluster; a cluster placement group on top of it "
            "makes launches fail with InsufficientInstanceCapacity: drop placement",
        ),
    ]
    assert stacks.rules == ["GF-PLACE-001"]


def test_cluster_placement_with_a_reservation(stacks) -> None:
    path = stacks.aws(
        """
        fabrics:
          efa: {kind: efa}
        node_pools:
          train:
            workload: training
            instance_type: p5.48xlarge
            nodes: {min: 2, max: 4}
            fabric: efa
            placement: cluster
            capacity: {type: reservation, reservation_id: cr-0123456789abcdef0, availability_zone: us-east-1a}
        """,
        stacks.system_pool,
    )
    assert stacks.resolve_problems(path) == [
        (
            17,
            16,
            "node_pools.train.placement",
            # Issue 8: the reservation may now name the group it was created in, so the message says how.
            "a targeted capacity reservation created in a cluster placement group only launches into that "
            "group: name it in capacity.placement_group (or drop placement)",
        ),
    ]
    assert stacks.rules == ["GF-PLACE-002"]


def test_spread_placement_limit(stacks) -> None:
    path = stacks.aws(
        """
        node_pools:
          serve:
            workload: inference
            instance_type: g6.xlarge
            nodes: {min: 1, max: 15}
            placement: spread
        """,
        stacks.system_pool,
    )
    # Two zones hold at most 2 x 7 = 14 spread instances.
    assert stacks.resolve_problems(path) == [
        (
            14,
            16,
            "node_pools.serve.placement",
            "a spread placement group holds at most 7 running instances per zone; this pool may have 15 in 2 zone(s)",
        ),
    ]
    assert stacks.rules == ["GF-PLACE-003"]


# -- MIG ----------------------------------------------------------------------------------------


def test_mig_plan_on_a_gpu_without_mig(stacks) -> None:
    path = stacks.aws(
        """
        mig_plans:
          slices:
            gpu: L4
            layout: {1g.10gb: 7}
        node_pools:
          serve:
            workload: inference
            instance_type: g6.xlarge
            nodes: {min: 1, max: 2}
            mig: slices
        """,
        stacks.system_pool,
    )
    # The plan itself is wrong (line 11, the gpu value at column 10); the pool's reference
    # to it is not reported a second time.
    [(line, column, field, message)] = stacks.resolve_problems(path)
    assert (line, column, field) == (11, 10, "mig_plans.slices.gpu")
    assert message.startswith("L4-24GB does not support MIG (MIG-capable: A100-40GB, A100-80GB, A30-24GB,")
    assert "H100-80GB" in message and "L4-24GB," not in message
    assert stacks.rules == ["GF-MIG-002"]


def test_mig_plan_for_another_gpu_than_the_pools(stacks) -> None:
    path = stacks.aws(
        """
        mig_plans:
          halves:
            gpu: H100
            layout: {3g.40gb: 2}
        node_pools:
          serve:
            workload: inference
            instance_type: p4de.24xlarge
            nodes: {min: 1, max: 2}
            mig: halves
        """,
        stacks.system_pool,
    )
    # Line 18 "    mig: halves": the value at column 10.
    assert stacks.resolve_problems(path) == [
        (18, 10, "node_pools.serve.mig", "MIG plan 'halves' is for H100-80GB, but p4de.24xlarge carries A100-80GB"),
    ]
    assert stacks.rules == ["GF-MIG-007"]


def test_mig_plan_on_a_pool_without_gpu(stacks) -> None:
    path = stacks.aws(
        """
        mig_plans:
          halves:
            gpu: H100
            layout: {3g.40gb: 2}
        node_pools:
          system:
            workload: system
            instance_type: m7i.xlarge
            nodes: {min: 1, max: 2}
            mig: halves
        """
    )
    assert stacks.resolve_problems(path) == [
        (18, 10, "node_pools.system.mig", "MIG plan 'halves' is for H100-80GB, but m7i.xlarge carries no GPU"),
    ]
    assert stacks.rules == ["GF-MIG-007"]


def test_infeasible_mig_layout_is_located_at_the_layout(stacks) -> None:
    path = stacks.aws(
        """
        mig_plans:
          greedy:
            gpu: H100
            layout: {3g.40gb: 3}
        node_pools:
        """,
        stacks.system_pool,
    )
    [(line, column, field, message)] = stacks.resolve_problems(path)
    assert (line, column, field) == (12, 5, "mig_plans.greedy.layout")
    # H100 has 7 compute slices and allows two 3g.40gb instances.
    assert message.startswith("infeasible on H100-80GB: ")
    assert "3g.40gb" in message
    assert stacks.rules == ["GF-MIG-006"]


def test_infeasible_mig_demand_is_reported_not_a_crash(stacks) -> None:
    path = stacks.aws(
        """
        mig_plans:
          huge:
            gpu: H100
            demand:
              - {name: giant, memory_gib: 100}
        node_pools:
        """,
        stacks.system_pool,
    )
    # No H100 profile holds 100 GiB: a located problem at the plan's demand (line 12).
    [(line, column, field, message)] = stacks.resolve_problems(path)
    assert (line, column) == (12, 5)
    assert field.startswith("mig_plans.huge.demand")
    assert "giant" in message and "100 GiB" in message
    assert stacks.rules == ["GF-MIG-004"]


# -- training fabric ----------------------------------------------------------------------------


def test_multi_node_training_without_a_fabric(stacks) -> None:
    path = stacks.aws(
        """
        node_pools:
          train:
            workload: training
            instance_type: p5.48xlarge
            nodes: {min: 2, max: 4}
        """,
        stacks.system_pool,
    )
    # No fabric line to point at: the pool itself (line 10, column 3).
    assert stacks.resolve_problems(path) == [
        (10, 3, "node_pools.train", f"multi-node training (up to 4 nodes) has no fabric; {NO_RDMA}"),
    ]
    assert stacks.rules == ["GF-TRAIN-001"]


def test_multi_node_training_on_ethernet(stacks) -> None:
    path = stacks.aws(
        """
        fabrics:
          lan: {kind: ethernet}
        node_pools:
          train:
            workload: training
            instance_type: p5.48xlarge
            nodes: {min: 1, max: 2}
            fabric: lan
        """,
        stacks.system_pool,
    )
    assert stacks.resolve_problems(path) == [
        (16, 13, "node_pools.train.fabric", f"multi-node training (up to 2 nodes) has fabric 'lan' (ethernet); {NO_RDMA}"),
    ]
    assert stacks.rules == ["GF-TRAIN-001"]


def test_multi_node_training_with_allow_non_rdma_is_accepted(stacks) -> None:
    path = stacks.aws(
        """
        node_pools:
          train:
            workload: training
            instance_type: g6.12xlarge
            nodes: {min: 2, max: 4}
            allow_non_rdma: true
        """,
        stacks.system_pool,
    )
    plan = stacks.plan(path)
    pool = next(p for p in plan.pools if p.name == "train")
    assert pool.fabric is None and pool.source.efa is None
    # Without an RDMA fabric there is nothing to co-locate for.
    assert pool.source.placement.strategy == "none"


def test_single_node_training_needs_no_fabric(stacks) -> None:
    path = stacks.aws(
        """
        node_pools:
          finetune:
            workload: training
            instance_type: p5.48xlarge
            nodes: {min: 0, max: 1}
        """,
        stacks.system_pool,
    )
    assert stacks.plan(path).pools[0].fabric is None


# -- storage -----------------------------------------------------------------------------------


def test_fsx_throughput_capacity_and_import_errors(stacks) -> None:
    path = stacks.aws(
        """
        storage:
          cache: {kind: local-nvme}
          scratch:
            kind: fsx-lustre
            deployment: PERSISTENT_2
            capacity_tib: 3.6
            throughput_per_tib: 200
            import_from: cache
          archive:
            kind: fsx-lustre
            deployment: PERSISTENT_1
            capacity_tib: 2.4
            throughput_per_tib: 100
            import_from: bucket
        node_pools:
        """,
        stacks.system_pool,
    )
    # 14 "    capacity_tib: 3.6"         value at column 19
    # 15 "    throughput_per_tib: 200"   value at column 25
    # 16 "    import_from: cache"        value at column 18
    # 22 "    import_from: bucket"       value at column 18
    assert stacks.resolve_problems(path) == [
        (14, 19, "storage.scratch.capacity_tib", "FSx for Lustre PERSISTENT_2 takes 1.2, 2.4 or a multiple of 2.4 TiB, not 3.6"),
        (15, 25, "storage.scratch.throughput_per_tib", "PERSISTENT_2 accepts 125, 250, 500, 1000 MB/s per TiB, not 200"),
        (16, 18, "storage.scratch.import_from", "import_from must name an s3 tier; 'cache' is local-nvme"),
        (22, 18, "storage.archive.import_from", "unknown s3 tier 'bucket' (the stack defines none)"),
    ]
    assert stacks.rules == ["GF-FSX-002", "GF-FSX-001", "GF-REF-004", "GF-REF-004"]


@pytest.mark.parametrize(
    ("deployment", "capacity", "throughput", "ok"),
    [
        ("SCRATCH_2", "1.2", 200, True),
        ("SCRATCH_2", "4.8", 200, True),
        ("SCRATCH_2", "2.4", 125, False),
        ("PERSISTENT_1", "2.4", 50, True),
        ("PERSISTENT_1", "2.4", 125, False),
        ("PERSISTENT_2", "9.6", 500, True),
        ("PERSISTENT_2", "1.8", 500, False),
        ("PERSISTENT_2", "0.6", 500, False),
    ],
)
def test_fsx_combinations(stacks, deployment: str, capacity: str, throughput: int, ok: bool) -> None:
    path = stacks.aws(
        f"""
        storage:
          scratch:
            kind: fsx-lustre
            deployment: {deployment}
            capacity_tib: {capacity}
            throughput_per_tib: {throughput}
        node_pools:
        """,
        stacks.system_pool,
    )
    if ok:
        tier = stacks.plan(path).storage_tier("scratch")
        assert tier.fsx.storage_capacity_gib == round(float(capacity) * 1000)
    else:
        problems = stacks.resolve_problems(path)
        assert problems and all(field.startswith("storage.scratch.") for _, _, field, _ in problems)
        rule = {"throughput_per_tib": "GF-FSX-001", "capacity_tib": "GF-FSX-002"}
        assert stacks.rules == [rule[field.rsplit(".", 1)[1]] for _, _, field, _ in problems]


def test_local_nvme_tier_on_an_instance_without_nvme(stacks) -> None:
    path = stacks.aws(
        """
        storage:
          cache: {kind: local-nvme}
        node_pools:
          serve:
            workload: inference
            instance_type: inf2.xlarge
            nodes: {min: 1, max: 2}
            storage: [cache]
        """,
        stacks.system_pool,
    )
    # inf2 has no instance store in DescribeInstanceTypes. Line 16, '[cache]' item at column 15.
    assert stacks.resolve_problems(path)[1:] == [
        (16, 15, "node_pools.serve.storage.0", "inf2.xlarge has no local NVMe disks for tier 'cache'"),
    ]
    assert stacks.rules == ["GF-K8S-010", "GF-NVME-001"]


# -- one run, every problem ---------------------------------------------------------------------


def test_every_semantic_problem_in_one_run_sorted_by_line(stacks) -> None:
    path = stacks.aws(
        """
        fabrics:
          ib: {kind: infiniband}
          efa: {kind: efa}
        node_pools:
          train:
            workload: training
            instance_type: p5e.48xl
            nodes: {min: 2, max: 2}
          serve:
            workload: inference
            instance_type: g6.xlarge
            nodes: {min: 2, max: 2}
            fabric: efa
            capacity: {type: capacity-block, reservation_id: cr-0123456789abcdef0, availability_zone: us-east-1a}
          lab:
            workload: training
            instance_type: g6.12xlarge
            nodes: {min: 1, max: 3}
        """,
        stacks.system_pool,
    )
    problems = stacks.resolve_problems(path)
    assert problems == [
        (10, 14, "fabrics.ib.kind", "AWS offers no InfiniBand; its RDMA fabric is EFA (kind: efa)"),
        (15, 20, "node_pools.train.instance_type", "unknown instance type 'p5e.48xl' (did you mean 'p5e.48xlarge'?)"),
        (
            21,
            13,
            "node_pools.serve.fabric",
            "g6.xlarge does not support EFA (EFA-capable g6 sizes: g6.8xlarge, g6.12xlarge, g6.16xlarge, g6.24xlarge, g6.48xlarge)",
        ),
        (22, 22, "node_pools.serve.capacity.type", f"g6.xlarge cannot run in a capacity block (eligible: {CB_ELIGIBLE})"),
        (23, 3, "node_pools.lab", f"multi-node training (up to 3 nodes) has no fabric; {NO_RDMA}"),
    ]
    assert problems == sorted(problems)
    assert stacks.rules == ["GF-FAB-001", "GF-POOL-001", "GF-EFA-001", "GF-CAP-001", "GF-TRAIN-001"]


# -- gaps found while testing (kept asserting the behaviour the issue implies) -------------------


def test_zone_suffix_must_be_a_lowercase_letter(stacks) -> None:
    text = stacks.head.replace("[us-east-1a, us-east-1b]", "[us-east-1a, us-east-1B]")
    path = stacks.write(text, "node_pools:\n", stacks.system_pool)
    # AWS zone names end in a lowercase letter; 'us-east-1B' is at column 36 of line 8.
    assert stacks.resolve_problems(path) == [
        (
            8,
            36,
            "network.availability_zones.1",
            "zone 'us-east-1B' is not in region 'us-east-1' (expected 'us-east-1a', 'us-east-1b', ...)",
        ),
    ]
    assert stacks.rules == ["GF-NET-003"]


def test_mig_devices_beyond_the_pools_gpus(stacks) -> None:
    path = stacks.aws(
        """
        mig_plans:
          mixed:
            gpu: H100
            devices:
              - {devices: [0, 5], layout: {7g.80gb: 1}}
        node_pools:
          serve:
            workload: inference
            instance_type: p5.4xlarge
            nodes: {min: 1, max: 2}
            mig: mixed
        """,
        stacks.system_pool,
    )
    # p5.4xlarge has one H100 (index 0): GPU 5 does not exist on its nodes. The pool's
    # reference (line 19, column 10) is where plan and instance meet.
    [(line, column, field, message)] = stacks.resolve_problems(path)
    assert (line, column, field) == (19, 10, "node_pools.serve.mig")
    assert "5" in message and "p5.4xlarge" in message
    assert stacks.rules == ["GF-MIG-008"]


def test_mig_demand_needing_more_nodes_than_the_pool_allows(stacks) -> None:
    path = stacks.aws(
        """
        mig_plans:
          auto:
            gpu: H100
            demand:
              - {name: chat, memory_gib: 9, replicas: 70}
        node_pools:
          serve:
            workload: inference
            instance_type: p5.48xlarge
            nodes: {min: 1, max: 1}
            mig: auto
        """,
        stacks.system_pool,
    )
    # A demand plan covers every replica the pool serves, packed onto identical nodes:
    # 70 x 1g.10gb at 7 per H100 needs 10 GPUs, so two 8-GPU nodes, and the pool allows one.
    [(line, column, field, message)] = stacks.resolve_problems(path)
    assert (line, column, field) == (19, 10, "node_pools.serve.mig")
    assert "needs 2 nodes of 8 GPUs" in message and "at most 1" in message
    assert stacks.rules == ["GF-MIG-009"]


def test_mig_demand_spread_over_identical_nodes(stacks) -> None:
    path = stacks.aws(
        """
        mig_plans:
          auto:
            gpu: H100
            demand:
              - {name: chat, memory_gib: 9, replicas: 70}
        node_pools:
          serve:
            workload: inference
            instance_type: p5.48xlarge
            nodes: {min: 2, max: 2}
            mig: auto
        """,
        stacks.system_pool,
    )
    plan = stacks.plan(path)
    (serve,) = [p for p in plan.pools if p.name == "serve"]
    per_node = sum(
        count * (len(entry.devices) if entry.devices != "all" else 8)
        for entry in serve.mig.device_layouts
        for count in (entry.layout or {}).values()
    )
    assert per_node * serve.nodes.max >= 70
    assert all(device < 8 for entry in serve.mig.device_layouts if entry.devices != "all" for device in entry.devices)


def test_mig_device_entries_must_not_overlap(stacks) -> None:
    path = stacks.aws(
        """
        mig_plans:
          mixed:
            gpu: H100
            devices:
              - {devices: [0, 1], layout: {7g.80gb: 1}}
              - {devices: [1, 2], layout: {1g.10gb: 7}}
        node_pools:
        """,
        stacks.system_pool,
    )
    # GPU 1 would get two layouts; the second entry (line 14) is the one in conflict.
    problems = stacks.resolve_problems(path)
    assert [(line, field) for line, _, field, _ in problems][:1] in (
        [(14, "mig_plans.mixed.devices.1")],
        [(14, "mig_plans.mixed.devices.1.devices")],
    )
    assert "1" in problems[0][3]
    assert stacks.rules == ["GF-MIG-005"]
