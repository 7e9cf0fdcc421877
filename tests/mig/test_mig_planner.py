"""Automatic plans: profile choice per replica, packing, lower bounds, identical-node pools."""

from __future__ import annotations

import random
import re
from collections import Counter

import pytest

from gpufleet.catalog import load_catalog
from gpufleet.mig import DemandError, ServiceDemand, check_device_plan, check_layout, plan_demand, plan_node_pool
from gpufleet.mig.planner import choose_profile

CATALOG = load_catalog()


def service(name: str, memory_gib: float, share: float | None = None, replicas: int = 1) -> ServiceDemand:
    return ServiceDemand(name=name, memory_gib=memory_gib, compute_share=share, replicas=replicas)


@pytest.mark.parametrize(
    ("gpu", "memory", "share", "profile"),
    [
        ("H100-80GB", 9.75, None, "1g.10gb"),
        # The name says 10gb but only 9.75 GiB are usable: the next size up is chosen.
        ("H100-80GB", 9.9, None, "1g.20gb"),
        ("H100-80GB", 5, 0.3, "3g.40gb"),
        ("H100-80GB", 5, 0.25, "2g.20gb"),
        ("H100-80GB", 40, None, "7g.80gb"),
        ("A100-40GB", 8, None, "1g.10gb"),
        ("A30-24GB", 10, None, "2g.12gb"),
        ("RTX-PRO-6000-96GB", 30, None, "2g.48gb"),
    ],
)
def test_each_service_gets_the_smallest_plain_profile_that_holds_it(gpu, memory, share, profile):
    geometry = CATALOG.mig[gpu]
    assert choose_profile(geometry, service("s", memory, share)).name == profile


def test_a_service_bigger_than_the_gpu_is_an_error_naming_the_largest_profile():
    with pytest.raises(
        DemandError, match=r"'huge' needs 90 GiB, more than any H100-80GB profile offers \(largest: 7g.80gb, 79.25 GiB"
    ):
        plan_demand(CATALOG.mig["H100-80GB"], [service("huge", 90)])
    with pytest.raises(DemandError, match="repeated: a"):
        plan_demand(CATALOG.mig["H100-80GB"], [service("a", 1), service("a", 2)])


def test_compute_heavy_mix_reaches_the_lower_bound_where_pairing_large_first_would_not():
    # 3g+3g per GPU strands a compute slice; 3g + 4 x 1g uses all 7.
    plan = plan_demand(CATALOG.mig["H100-80GB"], [service("small", 5, replicas=2000), service("big", 35, replicas=300)])
    assert plan.bounds == {"compute_slices": 415, "memory_slices": 400, "exclusive_instances": 0}
    assert plan.gpus_used == plan.lower_bound == 415
    layouts = Counter(tuple(sorted(gpu.layout.items())) for gpu in plan.gpus)
    assert layouts[(("1g.10gb", 4), ("3g.40gb", 1))] == 300


def test_instances_too_big_to_share_a_gpu_set_the_bound():
    plan = plan_demand(CATALOG.mig["H100-80GB"], [service("wide", 10, share=0.5, replicas=5)])
    assert plan.profile_choice == {"wide": "4g.40gb"}
    assert plan.bounds["exclusive_instances"] == 5
    assert plan.gpus_used == plan.lower_bound == 5


@pytest.mark.parametrize("gpu", sorted(CATALOG.mig))
def test_random_demand_is_packed_validly_and_near_the_bound(gpu):
    geometry = CATALOG.mig[gpu]
    largest = max(profile.usable_gib for profile in geometry.plain_profiles)
    rng = random.Random(gpu)
    services = [
        service(
            f"svc-{index:03d}",
            round(largest * rng.choice([0.05, 0.1, 0.2, 0.3, 0.45]), 2),
            rng.choice([None, None, 0.14, 0.3]),
            rng.choice([1, 1, 2, 3]),
        )
        for index in range(120)
    ]
    plan = plan_demand(CATALOG.mig[gpu], services)
    placed = Counter((i.service, i.replica) for gpu_layout in plan.gpus for i in gpu_layout.instances)
    assert placed == Counter({(s.name, r): 1 for s in services for r in range(s.replicas)})
    for gpu_layout in plan.gpus:
        check = check_layout(CATALOG, gpu, gpu_layout.layout)
        assert check.feasible
        assert sorted((i.profile, i.start) for i in gpu_layout.instances) == sorted((p.profile, p.start) for p in check.placement)
        for instance in gpu_layout.instances:
            assert instance.profile == plan.profile_choice[instance.service]
    assert plan.lower_bound <= plan.gpus_used <= plan.lower_bound + max(1, plan.lower_bound // 100)
    assert plan == plan_demand(CATALOG.mig[gpu], list(reversed(services)))


def test_node_pool_gives_every_node_the_same_config_and_holds_all_replicas():
    services = [service("small", 5, replicas=20), service("big", 35, replicas=3)]
    pool = plan_node_pool(CATALOG.mig["H100-80GB"], services, gpus_per_node=8)
    assert pool.nodes == 1
    assert check_device_plan(CATALOG, "H100-80GB", pool.devices, device_count=8).feasible
    per_node = Counter()
    for layout in pool.per_node_layouts:
        per_node.update(layout)
    assert per_node["1g.10gb"] * pool.nodes >= 20 and per_node["3g.40gb"] * pool.nodes >= 3

    spread = plan_node_pool(CATALOG.mig["H100-80GB"], [service("big", 35, replicas=9)], gpus_per_node=2)
    assert spread.nodes == 3
    # Three nodes of three 3g each; the second GPU of a node only needs one.
    assert [d.model_dump() for d in spread.devices] == [
        {"devices": (0,), "layout": {"3g.40gb": 2}},
        {"devices": (1,), "layout": {"3g.40gb": 1}},
    ]
    uniform = plan_node_pool(CATALOG.mig["H100-80GB"], [service("big", 35, replicas=8)], gpus_per_node=2)
    assert (uniform.nodes, [d.model_dump() for d in uniform.devices]) == (2, [{"devices": "all", "layout": {"3g.40gb": 2}}])


def test_node_pool_refuses_demand_that_no_identical_node_can_carry():
    services = [service("a", 70), service("b", 35, share=0.5), service("c", 35)]
    with pytest.raises(DemandError, match=re.escape("One of each of 7g.80gb, 4g.40gb, 3g.40gb needs 2 GPUs but a node has 1")):
        plan_node_pool(CATALOG.mig["H100-80GB"], services, gpus_per_node=1)
    assert plan_node_pool(CATALOG.mig["H100-80GB"], services, gpus_per_node=2).nodes == 1
