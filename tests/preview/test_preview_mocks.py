"""FleetMocks: deterministic, realistically shaped provider outputs and invokes."""

from __future__ import annotations

import base64
import re

import pytest
from pulumi.runtime.mocks import MockCallArgs, MockResourceArgs

from gpufleet.preview import ACCOUNT_ID, FleetMocks
from gpufleet.preview.mocks import zone_id_prefix

REGION = "eu-central-1"


@pytest.fixture
def mocks() -> FleetMocks:
    return FleetMocks(region=REGION)


def create(mocks: FleetMocks, token: str, logical_name: str, **inputs):
    return mocks.new_resource(MockResourceArgs(typ=token, name=logical_name, inputs=inputs, custom=True))


def invoke(mocks: FleetMocks, token: str, **args):
    result, failures = mocks.call(MockCallArgs(token=token, args=args, provider=""))
    assert failures is None
    return result


@pytest.mark.parametrize(
    ("token", "prefix"),
    [
        ("aws:ec2/vpc:Vpc", "vpc-"),
        ("aws:ec2/subnet:Subnet", "subnet-"),
        ("aws:ec2/securityGroup:SecurityGroup", "sg-"),
        ("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule", "sgr-"),
        ("aws:ec2/internetGateway:InternetGateway", "igw-"),
        ("aws:ec2/natGateway:NatGateway", "nat-"),
        ("aws:ec2/eip:Eip", "eipalloc-"),
        ("aws:ec2/routeTable:RouteTable", "rtb-"),
        ("aws:ec2/launchTemplate:LaunchTemplate", "lt-"),
        ("aws:fsx/lustreFileSystem:LustreFileSystem", "fs-"),
    ],
)
def test_ec2_style_ids_have_aws_prefixes_and_17_hex_digits(mocks, token, prefix):
    resource_id, _ = create(mocks, token, "main")
    assert re.fullmatch(re.escape(prefix) + "[0-9a-f]{17}", resource_id)


def test_ids_depend_only_on_type_and_name(mocks):
    first, _ = create(mocks, "aws:ec2/vpc:Vpc", "main", cidrBlock="10.0.0.0/16")
    again, _ = create(FleetMocks(region="us-west-2"), "aws:ec2/vpc:Vpc", "main", cidrBlock="10.1.0.0/16")
    other_name, _ = create(mocks, "aws:ec2/vpc:Vpc", "other")
    other_type, _ = create(mocks, "aws:ec2/subnet:Subnet", "main")
    assert first == again
    assert len({first, other_name, other_type.replace("subnet", "vpc")}) == 3


def test_outputs_echo_inputs_and_add_arns_in_the_configured_region(mocks):
    vpc_id, outputs = create(mocks, "aws:ec2/vpc:Vpc", "main", cidrBlock="10.0.0.0/16")
    assert outputs["cidrBlock"] == "10.0.0.0/16"
    assert outputs["arn"] == f"arn:aws:ec2:{REGION}:{ACCOUNT_ID}:vpc/{vpc_id}"
    assert outputs["defaultSecurityGroupId"].startswith("sg-")


def test_eks_cluster_outputs(mocks):
    subnet_id, _ = create(mocks, "aws:ec2/subnet:Subnet", "a", vpcId="vpc-0123456789abcdef0")
    name, outputs = create(mocks, "aws:eks/cluster:Cluster", "gpu", version="1.32", vpcConfig={"subnetIds": [subnet_id]})
    assert re.fullmatch(r"gpu-[0-9a-f]{7}", name) and outputs["name"] == name
    assert outputs["arn"] == f"arn:aws:eks:{REGION}:{ACCOUNT_ID}:cluster/{name}"
    assert re.fullmatch(rf"https://[0-9A-F]{{32}}\.gr7\.{REGION}\.eks\.amazonaws\.com", outputs["endpoint"])
    pem = base64.b64decode(outputs["certificateAuthority"]["data"]).decode()
    assert pem.startswith("-----BEGIN CERTIFICATE-----\n") and pem.endswith("-----END CERTIFICATE-----\n")
    assert outputs["version"] == "1.32"
    assert outputs["vpcConfig"]["clusterSecurityGroupId"].startswith("sg-")
    assert outputs["vpcConfig"]["vpcId"] == "vpc-0123456789abcdef0"
    issuer = outputs["identities"][0]["oidcs"][0]["issuer"]
    assert re.fullmatch(rf"https://oidc\.eks\.{REGION}\.amazonaws\.com/id/[0-9A-F]{{32}}", issuer)


def test_launch_template_starts_at_version_one(mocks):
    template_id, outputs = create(mocks, "aws:ec2/launchTemplate:LaunchTemplate", "p5", namePrefix="p5-")
    assert (outputs["latestVersion"], outputs["defaultVersion"]) == (1, 1)
    assert outputs["arn"] == f"arn:aws:ec2:{REGION}:{ACCOUNT_ID}:launch-template/{template_id}"
    assert re.fullmatch(r"p5-[0-9a-f]{7}", outputs["name"])


def test_iam_role_arn_is_global_and_uses_the_path(mocks):
    name, outputs = create(mocks, "aws:iam/role:Role", "nodes", name="gpu-nodes", path="/fleet/")
    assert name == "gpu-nodes"
    assert outputs["arn"] == f"arn:aws:iam::{ACCOUNT_ID}:role/fleet/gpu-nodes"


def test_lustre_file_system_outputs(mocks):
    fs_id, outputs = create(mocks, "aws:fsx/lustreFileSystem:LustreFileSystem", "scratch")
    assert outputs["dnsName"] == f"{fs_id}.fsx.{REGION}.amazonaws.com"
    assert re.fullmatch(r"[a-z2-7]{8}", outputs["mountName"])
    assert outputs["arn"] == f"arn:aws:fsx:{REGION}:{ACCOUNT_ID}:file-system/{fs_id}"


def test_bucket_names_are_lowercase_and_arns_are_global(mocks):
    bucket, outputs = create(mocks, "aws:s3/bucket:Bucket", "Datasets")
    assert bucket == outputs["bucket"] == bucket.lower()
    assert outputs["arn"] == f"arn:aws:s3:::{bucket}"
    assert outputs["bucketDomainName"] == f"{bucket}.s3.amazonaws.com"
    assert outputs["bucketRegionalDomainName"] == f"{bucket}.s3.{REGION}.amazonaws.com"


def test_node_group_placement_group_kms_and_eip(mocks):
    group_id, group = create(mocks, "aws:eks/nodeGroup:NodeGroup", "h100", clusterName="gpu", nodeGroupName="h100")
    assert (group_id, group["status"]) == ("gpu:h100", "ACTIVE")
    assert group["arn"].startswith(f"arn:aws:eks:{REGION}:{ACCOUNT_ID}:nodegroup/gpu/h100/")

    pg_id, pg = create(mocks, "aws:ec2/placementGroup:PlacementGroup", "ring", name="ring", strategy="cluster")
    assert (pg_id, pg["arn"]) == ("ring", f"arn:aws:ec2:{REGION}:{ACCOUNT_ID}:placement-group/ring")
    assert re.fullmatch(r"pg-[0-9a-f]{17}", pg["placementGroupId"])

    key_id, key = create(mocks, "aws:kms/key:Key", "scratch")
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", key_id)
    assert (key["keyId"], key["arn"]) == (key_id, f"arn:aws:kms:{REGION}:{ACCOUNT_ID}:key/{key_id}")

    allocation_id, eip = create(mocks, "aws:ec2/eip:Eip", "nat")
    assert eip["allocationId"] == allocation_id
    assert eip["publicIp"].startswith("203.0.113.")


def test_unlisted_aws_types_get_an_arn_in_their_service(mocks):
    resource_id, outputs = create(mocks, "aws:cloudwatch/logGroup:LogGroup", "audit")
    assert outputs["arn"] == f"arn:aws:cloudwatch:{REGION}:{ACCOUNT_ID}:log-group/{resource_id}"


def test_kubernetes_objects_get_metadata_names(mocks):
    object_id, outputs = create(mocks, "kubernetes:core/v1:ConfigMap", "spec", metadata={"namespace": "fleet"}, data={"a": "b"})
    name = outputs["metadata"]["name"]
    assert re.fullmatch(r"spec-[0-9a-f]{8}", name)
    assert object_id == f"fleet/{name}"
    assert outputs["data"] == {"a": "b"}

    _, named = create(mocks, "kubernetes:core/v1:Namespace", "ns", metadata={"name": "gpu-operator"})
    assert named["metadata"]["name"] == "gpu-operator"


def test_helm_release_reports_deployed_status(mocks):
    release_id, outputs = create(mocks, "kubernetes:helm.sh/v3:Release", "op", chart="gpu-operator", namespace="gpu")
    assert release_id == f"gpu/{outputs['name']}"
    assert outputs["status"]["status"] == "deployed"


def test_providers_get_uuid_ids_and_echo_inputs(mocks):
    provider_id, outputs = create(mocks, "pulumi:providers:kubernetes", "kube", kubeconfig="{}")
    assert re.fullmatch(r"[0-9a-f-]{36}", provider_id)
    assert outputs == {"kubeconfig": "{}"}


def test_components_echo_their_inputs(mocks):
    args = MockResourceArgs(typ="toy:fleet:Cluster", name="c", inputs={"size": 3}, custom=False)
    assert mocks.new_resource(args) == ("", {"size": 3})


@pytest.mark.parametrize(
    ("region", "prefix"),
    [
        ("us-east-1", "use1"),
        ("us-west-2", "usw2"),
        ("eu-central-1", "euc1"),
        ("ap-southeast-2", "apse2"),
        ("ap-northeast-1", "apne1"),
        ("us-gov-west-1", "usgw1"),
    ],
)
def test_zone_id_prefix_matches_aws_naming(region, prefix):
    assert zone_id_prefix(region) == prefix


def test_subnet_zone_id_follows_aws_naming_of_its_zone(mocks):
    _, subnet = create(mocks, "aws:ec2/subnet:Subnet", "a", availabilityZone="eu-central-1c")
    assert subnet["availabilityZoneId"] == "euc1-az3"


def test_ssm_eks_ami_parameter_returns_a_stable_ami(mocks):
    name = "/aws/service/eks/optimized-ami/1.33/amazon-linux-2023/x86_64/nvidia/recommended/image_id"
    parameter = invoke(mocks, "aws:ssm/getParameter:getParameter", name=name)
    assert re.fullmatch(r"ami-[0-9a-f]{17}", parameter["value"])
    assert parameter["value"] == invoke(FleetMocks(), "aws:ssm/getParameter:getParameter", name=name)["value"]
    assert parameter["arn"] == f"arn:aws:ssm:{REGION}::parameter{name}"
    other = invoke(mocks, "aws:ssm/getParameter:getParameter", name="/fleet/setting")
    assert not other["value"].startswith("ami-")


def test_identity_and_partition_invokes(mocks):
    identity = invoke(mocks, "aws:index/getCallerIdentity:getCallerIdentity")
    assert identity["accountId"] == ACCOUNT_ID and identity["arn"].startswith(f"arn:aws:iam::{ACCOUNT_ID}:")
    assert invoke(mocks, "aws:index/getPartition:getPartition")["dnsSuffix"] == "amazonaws.com"


def test_unknown_invokes_echo_and_are_remembered(mocks):
    assert invoke(mocks, "aws:ec2/getVpc:getVpc", id="vpc-1") == {"id": "vpc-1"}
    invoke(mocks, "aws:ec2/getVpc:getVpc", id="vpc-2")
    assert mocks.unknown_invokes == ("aws:ec2/getVpc:getVpc",)
