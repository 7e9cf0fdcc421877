"""The Pulumi program under mocks: assert on the inputs of the resources it registers."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
import yaml

from gpufleet.preview import render_resources_json
from tests.program.conftest import children_of, preview_file

REPO = Path(__file__).resolve().parents[2]
LT = "aws:ec2/launchTemplate:LaunchTemplate"
NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"
PLACEMENT_GROUP = "aws:ec2/placementGroup:PlacementGroup"

TRAINING_FLEET = """\
node_pools:
  sys:
    workload: system
    instance_type: m7i.xlarge
    nodes: {min: 1, max: 2}
  p5:
    workload: training
    instance_type: p5.48xlarge
    nodes: {min: 2, max: 2}
    fabric: rdma
  p5en:
    workload: training
    instance_type: p5en.48xlarge
    nodes: {min: 2, max: 2}
    fabric: rdma
  b200:
    workload: training
    instance_type: p6-b200.48xlarge
    nodes: {min: 2, max: 2}
    fabric: rdma
  b300:
    workload: training
    instance_type: p6-b300.48xlarge
    nodes: {min: 2, max: 2}
    fabric: rdma
  l40s:
    workload: training
    instance_type: g6e.48xlarge
    nodes: {min: 2, max: 4}
    fabric: rdma
  serve:
    workload: inference
    instance_type: g6e.12xlarge
    nodes: {min: 1, max: 6}
    fabric: tcp
"""


@pytest.fixture(scope="module")
def training_fleet(tmp_path_factory: pytest.TempPathFactory):
    from tests.program.conftest import HEAD

    path = tmp_path_factory.mktemp("fleet") / "fleet.yaml"
    path.write_text(HEAD + TRAINING_FLEET, encoding="utf-8")
    return preview_file(path)


def interfaces(result, pool: str) -> list[tuple[int, int, str]]:
    template = result.named(LT, f"{pool}-template")
    return [
        (nic.get("networkCardIndex", 0), nic["deviceIndex"], nic.get("interfaceType", "interface"))
        for nic in template.inputs["networkInterfaces"]
    ]


@pytest.mark.parametrize(
    ("pool", "efa_count", "cards"),
    [("p5", 32, 32), ("p5en", 16, 16), ("b200", 8, 8), ("l40s", 4, 4)],
)
def test_efa_layout_follows_current_aws_guidance(training_fleet, pool, efa_count, cards):
    nics = interfaces(training_fleet, pool)
    assert nics[0] == (0, 0, "interface"), "the primary is an ENA interface at card 0, device 0"
    assert nics[1] == (0, 1, "efa-only"), "card 0 takes its EFA as efa-only at device 1"
    assert nics[2:] == [(card, 0, "efa-only") for card in range(1, cards)]
    assert sum(1 for _, _, kind in nics if kind != "interface") == efa_count


def test_p6_b300_keeps_card_zero_ena_only(training_fleet):
    nics = interfaces(training_fleet, "b300")
    assert nics[0] == (0, 0, "interface")
    assert [nic for nic in nics if nic[0] == 0] == [(0, 0, "interface")]
    assert nics[1:] == [(card, 0, "efa-only") for card in range(1, 17)]


def test_efa_interfaces_carry_no_public_ip_and_the_fabric_security_group(training_fleet):
    fabric_group = children_of(training_fleet, "gpufleet:aws:Fabric", "rdma")
    group_id = next(r for r in fabric_group if r.type == "aws:ec2/securityGroup:SecurityGroup").id
    for nic in training_fleet.named(LT, "p5-template").inputs["networkInterfaces"]:
        assert group_id in nic["securityGroups"]
        assert nic["associatePublicIpAddress"] == "false"
        assert "subnetId" not in nic, "EKS managed node groups reject subnets inside the template"


def test_efa_security_group_allows_all_traffic_to_and_from_itself_only(training_fleet):
    children = children_of(training_fleet, "gpufleet:aws:Fabric", "rdma")
    group = next(r for r in children if r.type == "aws:ec2/securityGroup:SecurityGroup")
    rules = [r for r in children if r.type.startswith("aws:vpc/securityGroup")]
    assert sorted(r.type.split(":")[-1] for r in rules) == ["SecurityGroupEgressRule", "SecurityGroupIngressRule"]
    for rule in rules:
        assert rule.inputs["ipProtocol"] == "-1"
        assert rule.inputs["securityGroupId"] == group.id
        assert rule.inputs["referencedSecurityGroupId"] == group.id
        assert "cidrIpv4" not in rule.inputs
    assert "ingress" not in group.inputs and "egress" not in group.inputs


def test_multi_node_training_gets_one_cluster_placement_group_in_one_subnet(training_fleet):
    for pool in ("p5", "p5en", "b200", "b300", "l40s"):
        groups = [r for r in children_of(training_fleet, "gpufleet:aws:NodePool", pool) if r.type == PLACEMENT_GROUP]
        assert [g.inputs["strategy"] for g in groups] == ["cluster"]
        template = training_fleet.named(LT, f"{pool}-template")
        assert template.inputs["placement"]["groupName"] == groups[0].outputs["name"]
        assert len(training_fleet.named(NODE_GROUP, f"{pool}-nodes").inputs["subnetIds"]) == 1


def test_training_pools_get_subnets_of_their_own(training_fleet):
    subnets = {
        tuple(training_fleet.named(NODE_GROUP, f"{pool}-nodes").inputs["subnetIds"])
        for pool in ("p5", "p5en", "b200", "b300", "l40s", "serve")
    }
    assert len(subnets) == 6
    serve_subnets = set(training_fleet.named(NODE_GROUP, "serve-nodes").inputs["subnetIds"])
    for pool in ("p5", "p5en", "b200", "b300", "l40s"):
        assert not serve_subnets & set(training_fleet.named(NODE_GROUP, f"{pool}-nodes").inputs["subnetIds"])


def test_inference_pool_has_no_efa_no_placement_group_and_spans_every_zone(training_fleet):
    assert interfaces(training_fleet, "serve") == [(0, 0, "interface")]
    assert not [r for r in children_of(training_fleet, "gpufleet:aws:NodePool", "serve") if r.type == PLACEMENT_GROUP]
    assert "placement" not in training_fleet.named(LT, "serve-template").inputs
    subnet_ids = training_fleet.named(NODE_GROUP, "serve-nodes").inputs["subnetIds"]
    zones = {r.inputs["availabilityZone"] for r in training_fleet.of_type("aws:ec2/subnet:Subnet") if r.id in subnet_ids}
    assert zones == {"us-east-1a", "us-east-1b", "us-east-1c"}


def test_every_launch_template_is_hardened(training_fleet):
    templates = training_fleet.of_type(LT)
    assert len(templates) == 7
    for template in templates:
        inputs = template.inputs
        assert inputs["metadataOptions"]["httpTokens"] == "required"
        assert [m["ebs"]["encrypted"] for m in inputs["blockDeviceMappings"]] == ["true"]
        assert all(nic["associatePublicIpAddress"] == "false" for nic in inputs["networkInterfaces"])
        assert "iamInstanceProfile" not in inputs and "vpcSecurityGroupIds" not in inputs
    for subnet in training_fleet.of_type("aws:ec2/subnet:Subnet"):
        assert subnet.inputs["mapPublicIpOnLaunch"] is False


def test_node_groups_carry_labels_taints_and_the_accelerated_ami(training_fleet):
    group = training_fleet.named(NODE_GROUP, "p5-nodes").inputs
    assert group["labels"]["gpufleet.io/pool"] == "p5"
    assert group["labels"]["gpufleet.io/accelerator"] == "H100-80GB"
    assert {(t["key"], t["effect"]) for t in group["taints"]} == {
        ("nvidia.com/gpu", "NO_SCHEDULE"),
        ("gpufleet.io/workload", "NO_SCHEDULE"),
    }
    assert (
        "taints" not in training_fleet.named(NODE_GROUP, "sys-nodes").inputs
        or not training_fleet.named(NODE_GROUP, "sys-nodes").inputs["taints"]
    )
    user_data = base64.b64decode(training_fleet.named(LT, "p5-template").inputs["userData"]).decode()
    assert "kind: NodeConfig" in user_data and "vm.nr_hugepages = 5128" in user_data
    assert "vm.nr_hugepages" not in base64.b64decode(training_fleet.named(LT, "serve-template").inputs["userData"]).decode()


def test_capacity_block_and_reservation_pools_have_no_placement_group(preview_stack):
    result = preview_stack(
        """\
        node_pools:
          block:
            workload: training
            instance_type: p5.48xlarge
            nodes: {min: 4, max: 4}
            fabric: rdma
            capacity: {type: capacity-block, reservation_id: cr-0123456789abcdef0, availability_zone: us-east-1b}
          odcr:
            workload: training
            instance_type: p4d.24xlarge
            nodes: {min: 2, max: 2}
            fabric: rdma
            capacity: {type: reservation, reservation_id: cr-0123456789abcdef1, availability_zone: us-east-1a}
          sys:
            workload: system
            instance_type: m7i.xlarge
            nodes: {min: 1, max: 2}
        """
    )
    assert not result.of_type(PLACEMENT_GROUP)
    block = result.named(LT, "block-template").inputs
    assert block["instanceMarketOptions"] == {"marketType": "capacity-block"}
    assert (
        block["capacityReservationSpecification"]["capacityReservationTarget"]["capacityReservationId"] == "cr-0123456789abcdef0"
    )
    assert result.named(NODE_GROUP, "block-nodes").inputs["capacityType"] == "CAPACITY_BLOCK"
    odcr = result.named(LT, "odcr-template").inputs
    assert "instanceMarketOptions" not in odcr
    assert (
        odcr["capacityReservationSpecification"]["capacityReservationTarget"]["capacityReservationId"] == "cr-0123456789abcdef1"
    )
    assert result.named(NODE_GROUP, "odcr-nodes").inputs["capacityType"] == "ON_DEMAND"
    block_subnet = result.named(NODE_GROUP, "block-nodes").inputs["subnetIds"]
    zones = {r.inputs["availabilityZone"] for r in result.of_type("aws:ec2/subnet:Subnet") if r.id in block_subnet}
    assert zones == {"us-east-1b"}, "a capacity block only launches in its own zone"


def test_stateful_storage_is_protected_unless_deletion_is_allowed(preview_stack):
    result = preview_stack(
        """\
        storage:
          data: {kind: s3}
          throwaway: {kind: s3, allow_deletion: true}
          fast: {kind: fsx-lustre, deployment: PERSISTENT_2, capacity_tib: 4.8, throughput_per_tib: 500, import_from: data}
          scratch: {kind: fsx-lustre, deployment: SCRATCH_2, capacity_tib: 2.4, throughput_per_tib: 200}
        node_pools:
          train:
            workload: training
            instance_type: p5.48xlarge
            nodes: {min: 1, max: 1}
            storage: [fast]
          sys:
            workload: system
            instance_type: m7i.xlarge
            nodes: {min: 1, max: 2}
        """
    )
    buckets = {r.parent.split("::")[-1]: r for r in result.of_type("aws:s3/bucket:Bucket")}
    assert buckets["data"].protect and buckets["data"].retain_on_delete and buckets["data"].inputs["forceDestroy"] is False
    assert not buckets["throwaway"].protect and buckets["throwaway"].inputs["forceDestroy"] is True
    file_systems = {r.name: r for r in result.of_type("aws:fsx/lustreFileSystem:LustreFileSystem")}
    fast = file_systems["fast-fs"]
    assert fast.protect and fast.retain_on_delete
    assert fast.inputs["deploymentType"] == "PERSISTENT_2"
    assert fast.inputs["storageCapacity"] == 4800
    assert fast.inputs["perUnitStorageThroughput"] == 500
    assert fast.inputs["kmsKeyId"].startswith("arn:aws:kms:")
    assert not file_systems["scratch-fs"].protect, "scratch file systems hold nothing worth keeping"
    association = result.named("aws:fsx/dataRepositoryAssociation:DataRepositoryAssociation", "fast-import").inputs
    assert association["dataRepositoryPath"] == "s3://" + buckets["data"].outputs["bucket"]
    for block in result.of_type("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"):
        assert all(
            block.inputs[key] is True
            for key in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
        )


def test_renaming_one_pool_leaves_every_other_resource_unchanged(tmp_path):
    from tests.program.conftest import HEAD

    # One stack edited in place: the second preview reads the subnet record the first wrote.
    stack = tmp_path / "s.yaml"
    stack.write_text(HEAD + TRAINING_FLEET, encoding="utf-8")
    old = {r.urn: r.inputs for r in preview_file(stack).resources}
    stack.write_text(HEAD + TRAINING_FLEET.replace("  p5en:\n", "  h200-next:\n"), encoding="utf-8")
    new = {r.urn: r.inputs for r in preview_file(stack).resources}
    gone = {urn for urn in old if urn not in new}
    assert gone and all("p5en" in urn for urn in gone)
    for urn, inputs in old.items():
        if "p5en" not in urn and urn.split("::")[-1] != "network":
            if "$kubernetes:" in urn and "p5en" in json.dumps(inputs):
                continue  # a ClusterQueue lists the pool's flavor by name: updated in place, not replaced
            assert new[urn] == inputs, urn


def test_resources_json_is_byte_identical_across_runs(tmp_path):
    first = render_resources_json(preview_file(REPO / "stacks" / "prod.yaml"))
    second = render_resources_json(preview_file(REPO / "stacks" / "prod.yaml"))
    assert first == second
    document = json.loads(first)
    urns = [r["urn"] for r in document["resources"]]
    assert urns == sorted(urns)


def test_pulumi_yaml_points_at_the_program_the_tests_run():
    project = yaml.safe_load((REPO / "Pulumi.yaml").read_text())
    assert project["runtime"]["name"] == "python"
    main = REPO / project["main"] / "__main__.py"
    source = main.read_text()
    assert "from gpufleet.program import run" in source and "\nrun()" in source


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_stack_config_region_matches_the_spec(env):
    config = yaml.safe_load((REPO / f"Pulumi.{env}.yaml").read_text())["config"]
    spec = yaml.safe_load((REPO / "stacks" / f"{env}.yaml").read_text())
    assert config["aws:region"] == spec["cluster"]["region"]


def test_region_mismatch_between_config_and_spec_is_an_error():
    with pytest.raises(Exception, match=r"aws:region is eu-west-1 but .* says cluster\.region us-east-1"):
        preview_file(REPO / "stacks" / "prod.yaml", region="eu-west-1")


def test_vpc_cni_older_than_efa_only_support_is_refused():
    # Issue 8: versions are pinned in the catalog, so the check is the model's (GF-AWS-009).
    from gpufleet.model.aws import vpc_cni_supports_efa_only

    assert vpc_cni_supports_efa_only("v1.19.2-eksbuild.1", "1.18.5")
    assert vpc_cni_supports_efa_only("v1.18.5-eksbuild.3", "1.18.5")
    assert not vpc_cni_supports_efa_only("v1.18.3-eksbuild.1", "1.18.5")


def test_efa_fleet_pins_a_vpc_cni_recent_enough_for_efa_only(training_fleet):
    addon = training_fleet.named("aws:eks/addon:Addon", "fleet-vpc-cni").inputs
    version = tuple(int(p) for p in addon["addonVersion"].lstrip("v").split("-")[0].split("."))
    assert version >= (1, 18, 5)


def test_admins_get_cluster_admin_through_access_entries():
    result = preview_file(REPO / "stacks" / "prod.yaml")
    (entry,) = result.of_type("aws:eks/accessEntry:AccessEntry")
    assert entry.inputs["principalArn"] == "arn:aws:iam::123456789012:role/platform-admin"
    assert entry.inputs["type"] == "STANDARD"
    (association,) = result.of_type("aws:eks/accessPolicyAssociation:AccessPolicyAssociation")
    assert association.inputs["policyArn"] == "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"
    assert association.inputs["accessScope"] == {"type": "cluster"}
    cluster = result.named("aws:eks/cluster:Cluster", "ai-prod-eks").inputs
    assert cluster["accessConfig"]["authenticationMode"] == "API"
    assert cluster["encryptionConfig"]["resources"] == ["secrets"]


def test_lustre_accepts_lnet_traffic_from_nodes_only():
    result = preview_file(REPO / "stacks" / "prod.yaml")
    children = children_of(result, "gpufleet:aws:StorageTier", "scratch")
    group = next(r for r in children if r.type == "aws:ec2/securityGroup:SecurityGroup")
    # Issue 8: each node class has its own group; the training nodes are this tier's clients.
    clients = [result.named("aws:ec2/securityGroup:SecurityGroup", "network-nodes-training").id]
    ingress = [r.inputs for r in children if r.type == "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"]
    assert {(i["fromPort"], i["toPort"], i["referencedSecurityGroupId"]) for i in ingress} == {
        (low, high, peer) for low, high in ((988, 988), (1018, 1023)) for peer in (*clients, group.id)
    }
    assert all(i["ipProtocol"] == "tcp" and "cidrIpv4" not in i for i in ingress)
    (file_system,) = result.of_type("aws:fsx/lustreFileSystem:LustreFileSystem")
    assert file_system.inputs["securityGroupIds"] == [group.id]
