"""Issue 8: stacks that used to validate and that AWS or EKS would refuse or deploy wrong, each
refused (or warned about) with its rule id and location; and the AWS decisions with reasons.

``stacks.aws(...)`` writes conftest's 8-line head (us-east-1, zones a and b), parts from line 9.
"""

from __future__ import annotations

import pytest

from gpufleet.catalog import load_catalog
from gpufleet.model import resolve
from gpufleet.stack import StackInvalid, load_stack


def findings(stacks, path):
    with pytest.raises(StackInvalid) as caught:
        resolve(load_stack(path), load_catalog())
    return [(f.rule_id, f.line, f.column, f.field, f.message) for f in caught.value.findings]


def warnings(stacks, path):
    return [(f.rule_id, f.line, f.column, f.field, f.message) for f in stacks.plan(path).findings if f.severity == "warning"]


def test_one_zone_network_is_refused_but_a_one_zone_pool_is_fine(stacks):
    path = stacks.write(stacks.head.replace("[us-east-1a, us-east-1b]", "[us-east-1a]"), "node_pools:\n", stacks.system_pool)
    assert findings(stacks, path) == [
        (
            "GF-AWS-001",
            8,
            3,
            "network.availability_zones",
            "EKS needs cluster subnets in at least 2 Availability Zones; us-east-1a is 1",
        ),
    ]


def test_control_plane_zone_eks_does_not_support(stacks):
    path = stacks.write(
        stacks.head.replace("[us-east-1a, us-east-1b]", "[use1-az3, use1-az4]"), "node_pools:\n", stacks.system_pool
    )
    assert findings(stacks, path) == [
        (
            "GF-AWS-002",
            8,
            24,
            "network.availability_zones.0",
            "EKS does not place control planes in use1-az3 (unsupported: use1-az3, usw1-az2, cac1-az3)",
        ),
    ]


def test_zone_id_of_another_region(stacks):
    path = stacks.write(
        stacks.head.replace("[us-east-1a, us-east-1b]", "[use1-az1, usw2-az1]"), "node_pools:\n", stacks.system_pool
    )
    assert findings(stacks, path) == [
        (
            "GF-AWS-013",
            8,
            34,
            "network.availability_zones.1",
            "zone id 'usw2-az1' is not in region 'us-east-1' (its zone ids start use1-az)",
        ),
    ]


def test_every_pool_tainted_leaves_coredns_nowhere(stacks):
    path = stacks.aws(
        """
        node_pools:
          serve:
            workload: inference
            instance_type: g6.xlarge
            nodes: {min: 1, max: 2}
          sys:
            workload: system
            instance_type: m7i.xlarge
            nodes: {min: 0, max: 2}
        """
    )
    ((rule, line, column, field, message),) = findings(stacks, path)
    assert (rule, line, column, field) == ("GF-AWS-003", 9, 1, "node_pools")
    assert "CoreDNS has nowhere to run" in message and "nodes.min >= 1" in message


def test_kubernetes_version_without_pins(stacks):
    path = stacks.write(stacks.head.replace('"1.33"', '"1.29"'), "node_pools:\n", stacks.system_pool)
    assert findings(stacks, path) == [
        (
            "GF-AWS-004",
            5,
            23,
            "cluster.kubernetes_version",
            "the catalog pins no add-on versions or AMI release for Kubernetes 1.29 (pinned: 1.32, 1.33)",
        ),
    ]


def test_region_the_catalog_does_not_know(stacks):
    misspelt = stacks.write(stacks.head.replace("us-east-1", "us-eats-1"), "node_pools:\n", stacks.system_pool)
    (region,) = [f for f in findings(stacks, misspelt) if f[0] == "GF-AWS-014"]
    assert region[1:] == (4, 11, "cluster.region", "unknown AWS region 'us-eats-1' (did you mean 'us-east-1'?)")
    made_up = stacks.write(stacks.head.replace("us-east-1", "xx-fake-9"), "node_pools:\n", stacks.system_pool)
    assert [f[0] for f in findings(stacks, made_up)] == ["GF-AWS-014"]


def test_admin_listed_twice_is_located_at_the_second_entry(stacks):
    admins = '  admins: ["arn:aws:iam::123456789012:role/ops", "arn:aws:iam::123456789012:role/dev", "arn:aws:iam::123456789012:role/OPS"]\n'
    head = stacks.head.replace('  kubernetes_version: "1.33"\n', '  kubernetes_version: "1.33"\n' + admins)
    head = head.replace("  endpoint:", '  deployer: "arn:aws:iam::123456789012:role/ops"\n  endpoint:')
    path = stacks.write(head, "node_pools:\n", stacks.system_pool)
    assert findings(stacks, path) == [
        (
            "GF-AWS-015",
            6,
            88,
            "cluster.admins.2",
            "admin 'arn:aws:iam::123456789012:role/OPS' is listed twice ('arn:aws:iam::123456789012:role/ops' differs only in case; IAM names ignore case)",
        ),
    ]


def test_pinned_zone_that_does_not_offer_the_type(stacks):
    path = stacks.aws(
        """
        fabrics: {efa: {kind: efa}}
        node_pools:
          train:
            workload: training
            instance_type: p5en.48xlarge
            nodes: {min: 2, max: 2}
            fabric: efa
            availability_zone: us-east-1b
        """,
        stacks.system_pool,
    )
    assert findings(stacks, path) == [
        (
            "GF-AWS-005",
            16,
            24,
            "node_pools.train.availability_zone",
            "us-east-1b does not offer p5en.48xlarge (checked by zone name, as AWS published it for one account); "
            "us-east-1 offers it in us-east-1a, us-east-1c (ids use1-az2, use1-az6)",
        ),
    ]


def test_training_pool_goes_to_a_zone_that_offers_its_type(stacks):
    head = stacks.head.replace("[us-east-1a, us-east-1b]", "[us-east-1b, us-east-1c]")
    path = stacks.write(
        head,
        "fabrics: {efa: {kind: efa}}\nnode_pools:\n  train: {workload: training, instance_type: p5en.48xlarge, nodes: {min: 2, max: 2}, fabric: efa}\n",
        stacks.system_pool,
    )
    train = next(pool for pool in stacks.plan(path).pools if pool.name == "train")
    assert train.source.zones == ("us-east-1c",), "us-east-1b, the first zone, does not offer p5en"
    assert (
        train.source.zone_reason
        == "the first network zone that offers p5en.48xlarge, checked by zone name, as AWS published it for one account"
    )


def test_zone_ids_are_checked_exactly(stacks):
    head = stacks.head.replace("[us-east-1a, us-east-1b]", "[use1-az1, use1-az6]")
    path = stacks.write(
        head,
        "fabrics: {efa: {kind: efa}}\nnode_pools:\n  train: {workload: training, instance_type: p5en.48xlarge, nodes: {min: 2, max: 2}, fabric: efa}\n",
        stacks.system_pool,
    )
    plan = stacks.plan(path)
    train = next(pool for pool in plan.pools if pool.name == "train")
    assert train.source.zones == ("use1-az6",) and train.source.zone_reason.endswith("checked by zone id, exactly")
    assert {subnet.zone for subnet in plan.network.shared_private_subnets} == {"use1-az1", "use1-az6"}


def test_bootstrap_admin_and_an_open_endpoint_are_warnings(stacks):
    head = stacks.head.replace(
        '  kubernetes_version: "1.33"\n  endpoint: {deploy_from: in-vpc}\n',
        '  kubernetes_version: "1.33"\n  bootstrap_admin: true\n  endpoint: {public_cidrs: [0.0.0.0/0]}\n  admins: [arn:aws:iam::123456789012:role/a]\n',
    )
    path = stacks.write(head, "node_pools:\n", stacks.system_pool)
    found = warnings(stacks, path)
    assert [(rule, line, field) for rule, line, _, field, _ in found] == [
        ("GF-AWS-007", 6, "cluster.bootstrap_admin"),
        ("GF-AWS-008", 7, "cluster.endpoint.public_cidrs.0"),
    ]
    assert "409" in found[0][4] and "whole internet" in found[1][4]


def test_reservation_names_its_placement_group(stacks):
    path = stacks.aws(
        """
        fabrics: {efa: {kind: efa}}
        node_pools:
          odcr:
            workload: training
            instance_type: p4d.24xlarge
            nodes: {min: 2, max: 2}
            fabric: efa
            placement: cluster
            capacity: {type: reservation, reservation_id: cr-0123456789abcdef0, availability_zone: us-east-1a, placement_group: odcr-pg}
        """,
        stacks.system_pool,
    )
    odcr = next(pool for pool in stacks.plan(path).pools if pool.name == "odcr")
    assert (odcr.source.placement.strategy, odcr.source.placement.existing_group) == ("cluster", "odcr-pg")
    assert "created in cluster placement group odcr-pg" in odcr.source.placement.reason
    assert odcr.source.update.strategy == "MINIMAL", "a reservation sized exactly to its pool leaves no room for surge"


def test_reservation_placement_group_with_another_strategy(stacks):
    path = stacks.aws(
        """
        node_pools:
          odcr:
            workload: inference
            instance_type: p4d.24xlarge
            nodes: {min: 2, max: 2}
            placement: spread
            capacity: {type: reservation, reservation_id: cr-0123456789abcdef0, availability_zone: us-east-1a, placement_group: odcr-pg}
        """,
        stacks.system_pool,
    )
    assert findings(stacks, path) == [
        (
            "GF-AWS-010",
            14,
            16,
            "node_pools.odcr.placement",
            "capacity.placement_group names a cluster placement group, not spread",
        ),
    ]


def test_capacity_block_with_a_minimum_warns(stacks):
    path = stacks.aws(
        """
        node_pools:
          block:
            workload: training
            instance_type: p5.48xlarge
            nodes: {min: 1, max: 1}
            capacity: {type: capacity-block, reservation_id: cr-0123456789abcdef0, availability_zone: us-east-1a}
        """,
        stacks.system_pool,
    )
    ((rule, line, column, field, message),) = [w for w in warnings(stacks, path) if w[0] == "GF-AWS-011"]
    assert (rule, line, column, field) == ("GF-AWS-011", 13, 18, "node_pools.block.nodes.min")
    assert "use min: 0" in message


def test_scratch_file_system_takes_no_backups(stacks):
    path = stacks.aws(
        """
        storage:
          quick: {kind: fsx-lustre, deployment: SCRATCH_2, capacity_tib: 1.2, throughput_per_tib: 200, backup_retention_days: 3}
        node_pools:
        """,
        stacks.system_pool,
    )
    ((rule, line, _, field, _),) = findings(stacks, path)
    assert (rule, line, field) == ("GF-AWS-012", 10, "storage.quick.backup_retention_days")


def test_service_cidr_moves_off_a_vpc_that_overlaps_it(stacks):
    path = stacks.write(stacks.head.replace("10.0.0.0/16", "172.20.0.0/16"), "node_pools:\n", stacks.system_pool)
    decision = stacks.plan(path).cluster.cloud.eks.service_cidr
    assert decision.value == "10.100.0.0/16"
    assert decision.reason.startswith("172.20.0.0/16 overlaps the VPC 172.20.0.0/16")
    usual = stacks.plan(
        stacks.write(stacks.head, "node_pools:\n", stacks.system_pool, name="usual.yaml")
    ).cluster.cloud.eks.service_cidr
    assert usual.value == "172.20.0.0/16"
