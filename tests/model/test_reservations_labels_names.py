"""Checks on reserved-capacity zones, user labels and names listed twice."""

from __future__ import annotations


def test_reserved_capacity_pins_the_pool_to_the_reservations_zone(stacks) -> None:
    path = stacks.aws(
        """
        node_pools:
          serve:
            workload: inference
            instance_type: p5.48xlarge
            nodes: {min: 2, max: 2}
            capacity: {type: reservation, reservation_id: cr-0123456789abcdef0, availability_zone: us-east-1b}
        """,
        stacks.system_pool,
    )
    serve = next(pool for pool in stacks.plan(path).pools if pool.name == "serve")
    assert serve.source.zones == ("us-east-1b",)
    assert [s.zone for s in serve.source.subnets] == ["us-east-1b"]


def test_reservation_zone_outside_the_network(stacks) -> None:
    path = stacks.aws(
        """
        node_pools:
          serve:
            workload: inference
            instance_type: p5.48xlarge
            nodes: {min: 2, max: 2}
            capacity: {type: reservation, reservation_id: cr-0123456789abcdef0, availability_zone: us-east-1d}
        """,
        stacks.system_pool,
    )
    # Line 14; the zone value sits at column 92.
    assert stacks.resolve_problems(path) == [
        (
            14,
            92,
            "node_pools.serve.capacity.availability_zone",
            "zone 'us-east-1d' is not one of the network's zones: us-east-1a, us-east-1b",
        ),
    ]
    assert stacks.rules == ["GF-ZONE-002"]


def test_pool_zone_that_contradicts_its_reservation(stacks) -> None:
    path = stacks.aws(
        """
        node_pools:
          serve:
            workload: inference
            instance_type: p5.48xlarge
            nodes: {min: 2, max: 2}
            availability_zone: us-east-1a
            capacity: {type: reservation, reservation_id: cr-0123456789abcdef0, availability_zone: us-east-1b}
        """,
        stacks.system_pool,
    )
    assert stacks.resolve_problems(path) == [
        (
            14,
            24,
            "node_pools.serve.availability_zone",
            "zone 'us-east-1a' differs from the zone of cr-0123456789abcdef0 (us-east-1b)",
        ),
    ]
    assert stacks.rules == ["GF-ZONE-001"]


def test_reserved_capacity_without_a_zone_is_refused_when_read(stacks) -> None:
    path = stacks.aws(
        """
        node_pools:
          serve:
            workload: inference
            instance_type: p5.48xlarge
            nodes: {min: 2, max: 2}
            capacity: {type: capacity-block, reservation_id: cr-0123456789abcdef0}
        """
    )
    assert stacks.load_problems(path) == [
        (
            14,
            5,
            "node_pools.serve.capacity",
            "capacity type capacity-block needs availability_zone: a reservation lives in one zone",
        ),
    ]
    assert stacks.rules == ["GF-STACK-004"]


def test_a_region_given_as_a_zone(stacks) -> None:
    text = stacks.head.replace("[us-east-1a, us-east-1b]", "[us-east-1a, us-east-1]")
    path = stacks.write(text, "node_pools:\n", stacks.system_pool)
    assert stacks.resolve_problems(path) == [
        (8, 36, "network.availability_zones.1", "'us-east-1' is the region; zones are 'us-east-1a', 'us-east-1b', ..."),
    ]
    assert stacks.rules == ["GF-NET-003"]


def test_user_labels_cannot_take_gpufleets_own_keys(stacks) -> None:
    path = stacks.aws(
        """
        node_pools:
          serve:
            workload: inference
            instance_type: g6.xlarge
            nodes: {min: 1, max: 2}
            labels: {team: search, gpufleet.io/pool: other, nvidia.com/mig.config: all-1g.10gb}
        """,
        stacks.system_pool,
    )
    problems = stacks.resolve_problems(path)
    assert [(line, field, message) for line, _, field, message in problems] == [
        (
            14,
            "node_pools.serve.labels.gpufleet.io/pool",
            "label 'gpufleet.io/pool' is set by gpufleet itself; choose another key",
        ),
        (
            14,
            "node_pools.serve.labels.nvidia.com/mig.config",
            "label 'nvidia.com/mig.config' is set by gpufleet itself; choose another key",
        ),
    ]
    assert stacks.rules == ["GF-LABEL-001", "GF-LABEL-001"]


def test_label_keys_and_values_follow_kubernetes_syntax(stacks) -> None:
    path = stacks.aws(
        """
        node_pools:
          serve:
            workload: inference
            instance_type: g6.xlarge
            nodes: {min: 1, max: 2}
            labels: {"bad key!": x, team: "no spaces"}
        """
    )
    fields = [field for _, _, field, _ in stacks.load_problems(path)]
    assert fields == ["node_pools.serve.labels.bad key!", "node_pools.serve.labels.team"]
    assert stacks.rules == ["GF-STACK-005", "GF-STACK-004"]


def test_service_and_model_names_listed_twice(stacks) -> None:
    path = stacks.aws(
        """
        mig_plans:
          auto:
            gpu: H100
            demand:
              - {name: chat, memory_gib: 9}
              - {name: chat, memory_gib: 18}
        node_pools:
          serve:
            workload: inference
            instance_type: p5.48xlarge
            nodes: {min: 1, max: 2}
            models:
              - {name: llama, parameters_b: 8}
              - {name: llama, parameters_b: 70}
        """,
        stacks.system_pool,
    )
    assert [(line, field, message) for line, _, field, message in stacks.resolve_problems(path)] == [
        (14, "mig_plans.auto.demand.1.name", "service 'chat' is listed twice"),
        (22, "node_pools.serve.models.1.name", "model 'llama' is listed twice"),
    ]
    assert stacks.rules == ["GF-MIG-003", "GF-POOL-003"]
