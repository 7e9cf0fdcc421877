"""Pool subnets: the addresses a node takes, the surge an update adds, the rules on what cannot
be placed or kept, and the subnet record read through the one reader with located errors."""

from __future__ import annotations

import pytest

from gpufleet.catalog import load_catalog
from gpufleet.model import resolve
from gpufleet.model.aws import NodeUpdate
from gpufleet.model.decisions import efa_layout
from gpufleet.model.subnets import node_addresses, record_drift, smallest_prefix, surge_nodes
from gpufleet.stack import StackInvalid, load_stack
from gpufleet.stack.record import RecordInvalid, SubnetRecord

CATALOG = load_catalog()


def addresses(instance_type: str, efa: bool):
    instance = CATALOG.instance_types[instance_type]
    return node_addresses(instance, efa_layout(instance) if efa else None, CATALOG)


def test_an_efa_node_holds_what_its_default_card_leaves_the_vpc_cni():
    # p5e: card 0 has two slots, the ENA primary and an EFA-only interface (no address), so
    # the CNI has the primary's 49 secondaries, though nodeadm's maxPods is 2 x 49 + 2.
    p5e = addresses("p5e.48xlarge", efa=True)
    assert (p5e.interfaces, p5e.cni_interfaces, p5e.pod_ips, p5e.max_pods, p5e.total) == (1, 0, 49, 100, 50)
    # p4d: 15 slots on card 0, one EFA-only: 14 interfaces of 49 pod addresses, 13 of them added by the CNI.
    p4d = addresses("p4d.24xlarge", efa=True)
    assert (p4d.interfaces, p4d.cni_interfaces, p4d.pod_ips, p4d.max_pods, p4d.total) == (1, 13, 686, 737, 700)


def test_a_node_without_efa_fills_every_slot_of_its_default_card():
    m7i = addresses("m7i.xlarge", efa=False)  # 4 interfaces of 15 addresses: maxPods 4 x 14 + 2
    assert (m7i.interfaces, m7i.cni_interfaces, m7i.pod_ips, m7i.max_pods, m7i.total) == (1, 3, 56, 58, 60)


def test_an_update_surges_by_twice_the_zones_or_max_unavailable_and_minimal_not_at_all():
    assert surge_nodes(NodeUpdate("DEFAULT", ""), 1, CATALOG) == 2
    assert surge_nodes(NodeUpdate("DEFAULT", ""), 3, CATALOG) == 6
    assert surge_nodes(NodeUpdate("DEFAULT", "", max_unavailable=9), 3, CATALOG) == 9
    assert surge_nodes(NodeUpdate("MINIMAL", ""), 3, CATALOG) == 0


def reserved_p4d(name: str, nodes: int) -> str:
    return (
        f"  {name}:\n    workload: training\n    instance_type: p4d.24xlarge\n    nodes: {{min: 1, max: {nodes}}}\n"
        "    capacity: {type: reservation, reservation_id: cr-0123456789abcdef0, availability_zone: us-east-1a}\n"
        "    allow_non_rdma: true\n"
    )


def test_a_pool_larger_than_the_pool_space_is_a_located_error(stacks):
    # (64 + 2) x 750 addresses (no EFA: all 15 slots of card 0 carry pods): more than the /18
    # the pool space holds at most.
    path = stacks.aws("node_pools:\n", stacks.system_pool, reserved_p4d("huge", 64))
    [(line, _column, field, message)] = stacks.resolve_problems(path)
    assert stacks.rules == ["GF-NET-005"]
    assert (line, field) == (17, "node_pools.huge.nodes.max")
    assert message.startswith(
        "needs a /16 for 48000 addresses ((64 nodes + 0 surge of a MINIMAL update) x 750 addresses per node"
    )
    assert message.endswith("the largest block of the pool space is 10.0.128.0/18 (16379 usable)")


def test_a_pool_that_finds_no_free_block_left_is_a_located_error(stacks):
    # (19 + 2) x 750 = 15750 addresses: a /18 each, and the pool space has one.
    path = stacks.aws("node_pools:\n", stacks.system_pool, reserved_p4d("first", 19), reserved_p4d("second", 19))
    [(line, _, field, message)] = stacks.resolve_problems(path)
    assert stacks.rules == ["GF-NET-005"]
    assert (line, field) == (23, "node_pools.second.nodes.max")
    assert message.endswith("no free block of that size is left beside the other pools' subnets")


def test_removed_control_plane_zones_below_the_eks_minimum_are_an_error(stacks):
    path = stacks.write(
        stacks.head.replace("[us-east-1a, us-east-1b]", "[us-east-1a, us-east-1c]"), "node_pools:\n", stacks.system_pool
    )
    path.with_name("stack.subnets.lock").write_text("control_plane_zones: [us-east-1a, us-east-1b]\npool_subnets: {}\n")
    [(line, _, field, message)] = stacks.resolve_problems(path)
    assert stacks.rules == ["GF-NET-008"]
    assert (line, field) == (8, "network.availability_zones")
    assert "the cluster was created in us-east-1a, us-east-1b" in message and "1 of them remain" in message


def test_an_added_zone_is_a_note_and_stays_out_of_the_control_plane(stacks):
    path = stacks.write(
        stacks.head.replace("[us-east-1a, us-east-1b]", "[us-east-1a, us-east-1b, us-east-1c]"),
        "node_pools:\n",
        stacks.system_pool,
    )
    path.with_name("stack.subnets.lock").write_text("control_plane_zones: [us-east-1a, us-east-1b]\npool_subnets: {}\n")
    plan = stacks.plan(path)
    [note] = [f for f in plan.findings if f.rule_id == "GF-NET-007"]
    assert note.severity == "info" and note.field == "network.availability_zones.2"
    assert [s.zone for s in plan.network.control_plane_subnets] == ["us-east-1a", "us-east-1b"]
    assert [s.zone for s in plan.network.shared_private_subnets] == ["us-east-1a", "us-east-1b", "us-east-1c"]
    assert plan.network.record.control_plane_zones == ("us-east-1a", "us-east-1b")


@pytest.mark.parametrize(
    ("text", "rule", "where", "says"),
    [
        ("- a list\n", "GF-SUBNET-001", (1, 1), "a subnet record must be a YAML mapping"),
        ("pool_subnets:\n  a: 167804928\n", "GF-STACK-004", (2, 6), "a subnet is a CIDR block written as text"),
        ("pool_subnet: {}\n", "GF-STACK-002", (1, 1), "pool_subnet"),
    ],
)
def test_a_broken_record_is_refused_located_in_the_record(stacks, text, rule, where, says):
    path = stacks.aws("node_pools:\n", stacks.system_pool)
    path.with_name("stack.subnets.lock").write_text(text)
    with pytest.raises(RecordInvalid) as caught:
        load_stack(path)
    [problem] = caught.value.findings
    assert problem.rule_id == rule
    assert problem.location.file.endswith("stack.subnets.lock")
    assert (problem.line, problem.column) == where
    assert says in problem.message


@pytest.mark.parametrize(
    ("blocks", "rule", "where", "says"),
    [
        ("  a: 10.0.128.0/24\n  b: 10.0.128.0/23\n", "GF-SUBNET-003", (4, 6), "10.0.128.0/23 overlaps a's 10.0.128.0/24"),
        ("  a: 10.0.0.0/24\n", "GF-SUBNET-002", (3, 6), "10.0.0.0/24 lies over the VPC's zone or public subnets"),
        ("  a: 10.0.250.0/24\n", "GF-SUBNET-002", (3, 6), "10.0.250.0/24 lies over the VPC's zone or public subnets"),
        ("  a: 192.168.0.0/24\n", "GF-SUBNET-002", (3, 6), "192.168.0.0/24 lies outside the VPC"),
    ],
)
def test_a_tampered_record_is_refused_at_its_line_in_the_record(stacks, blocks, rule, where, says):
    """gpufleet only records blocks of the pool space, apart from each other; taking any other
    block would move a pool to a new subnet (every node replaced) without saying so."""
    path = stacks.aws("node_pools:\n", stacks.system_pool)
    path.with_name("stack.subnets.lock").write_text("control_plane_zones: [us-east-1a]\npool_subnets:\n" + blocks)
    with pytest.raises(StackInvalid) as caught:
        resolve(load_stack(path), CATALOG)
    [problem] = [finding for finding in caught.value.findings if finding.rule_id.startswith("GF-SUBNET")]
    assert problem.rule_id == rule
    assert problem.location.file.endswith("stack.subnets.lock")
    assert (problem.line, problem.column) == where
    assert says in problem.message


def test_drift_names_each_difference():
    recorded = SubnetRecord(
        control_plane_zones=("us-east-1a", "us-east-1b"), pool_subnets={"a": "10.0.128.0/24", "gone": "10.0.129.0/24"}
    )
    planned = SubnetRecord(
        control_plane_zones=("us-east-1a", "us-east-1b"), pool_subnets={"a": "10.0.128.0/24", "new": "10.0.130.0/24"}
    )
    assert record_drift(recorded, planned) == [
        "pool gone: 10.0.129.0/24 recorded, no subnet planned",
        "pool new: not recorded recorded, 10.0.130.0/24 planned",
    ]
    assert record_drift(planned, planned) == []
    assert record_drift(None, planned) == ["the stack has no subnet record yet"]


def test_the_committed_records_are_current_for_the_repositorys_stacks(stacks):
    for name in ("dev", "staging", "prod"):
        loaded = load_stack(stacks.repo / "stacks" / f"{name}.yaml")
        plan = resolve(loaded, CATALOG)
        assert loaded.record is not None, name
        assert record_drift(loaded.record.record, plan.network.record) == [], name


def test_the_smallest_pool_subnet_is_awss_smallest_subnet() -> None:
    """AWS's VPC subnet-sizing page: an IPv4 subnet is at most a /28 (catalog eks.yaml)."""
    catalog = load_catalog()
    assert catalog.eks.node_addresses.smallest_subnet_prefix == 28
    assert smallest_prefix(1, catalog) == 28
    assert smallest_prefix(1019, catalog) == 22 and smallest_prefix(1020, catalog) == 21
