"""run_preview: what it records, how it isolates runs, and how it reports failures."""

from __future__ import annotations

import asyncio
import json
import string

import pulumi
import pulumi_aws as aws
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from preview_programs import gpu_cluster_program
from pulumi.runtime.settings import get_root_resource

from gpufleet.preview import PreviewResult, run_preview

PROJECT = "gpufleet"
STACK = "dev"
CONFIG = {"aws:region": "us-west-2", "gpufleet:spec": "fleet.yaml"}
STACK_URN = f"urn:pulumi:{STACK}::{PROJECT}::pulumi:pulumi:Stack::{PROJECT}-{STACK}"
CLUSTER_URN = f"urn:pulumi:{STACK}::{PROJECT}::pulumi:pulumi:Stack$toy:fleet:Cluster::toy"
POOL_URN = f"urn:pulumi:{STACK}::{PROJECT}::toy:fleet:Cluster$toy:fleet:NodePool::toy-h100"


@pytest.fixture(scope="module")
def cluster_preview() -> PreviewResult:
    return run_preview(gpu_cluster_program, project=PROJECT, stack=STACK, config=CONFIG)


def single_vpc(name: str = "vpc") -> None:
    aws.ec2.Vpc(name, cidr_block="10.0.0.0/16")


def test_resources_are_sorted_by_urn_and_include_the_stack(cluster_preview):
    urns = [resource.urn for resource in cluster_preview.resources]
    assert urns == sorted(urns)
    assert cluster_preview.resource(STACK_URN).parent is None
    assert cluster_preview.stack_urn == STACK_URN


def test_component_urns_chain_parent_types(cluster_preview):
    cluster = cluster_preview.resource(CLUSTER_URN)
    pool = cluster_preview.resource(POOL_URN)
    template = cluster_preview.named("aws:ec2/launchTemplate:LaunchTemplate", "toy-h100-lt")

    assert (cluster.custom, cluster.type, cluster.parent) == (False, "toy:fleet:Cluster", STACK_URN)
    assert (pool.custom, pool.parent) == (False, CLUSTER_URN)
    assert template.custom and template.parent == POOL_URN
    assert template.urn == "urn:pulumi:dev::gpufleet::toy:fleet:NodePool$aws:ec2/launchTemplate:LaunchTemplate::toy-h100-lt"


def test_resource_options_are_recorded(cluster_preview):
    vpc = cluster_preview.named("aws:ec2/vpc:Vpc", "toy-vpc")
    lustre = cluster_preview.named("aws:fsx/lustreFileSystem:LustreFileSystem", "toy-scratch")
    bucket = cluster_preview.named("aws:s3/bucket:Bucket", "toy-datasets")
    nat = cluster_preview.named("aws:ec2/natGateway:NatGateway", "toy-nat")
    pool = cluster_preview.resource(POOL_URN)

    assert (vpc.protect, vpc.retain_on_delete) == (True, False)
    assert (lustre.protect, lustre.retain_on_delete) == (False, True)
    assert (bucket.protect, bucket.retain_on_delete) == (False, False)
    assert nat.urn in pool.depends_on


def test_explicit_provider_reference_points_at_the_provider_resource(cluster_preview):
    east = cluster_preview.named("pulumi:providers:aws", "east")
    replica = cluster_preview.named("aws:s3/bucket:Bucket", "replica")
    default_provider_bucket = cluster_preview.named("aws:s3/bucket:Bucket", "toy-datasets")

    assert east.custom and east.inputs["region"] == "us-east-1"
    assert replica.provider == f"{east.urn}::{east.id}"
    assert default_provider_bucket.provider is None


def test_inputs_are_resolved_camel_case_and_chain_outputs(cluster_preview):
    vpc = cluster_preview.named("aws:ec2/vpc:Vpc", "toy-vpc")
    subnets = cluster_preview.of_type("aws:ec2/subnet:Subnet")
    node_group = cluster_preview.named("aws:eks/nodeGroup:NodeGroup", "toy-h100-ng")
    template = cluster_preview.named("aws:ec2/launchTemplate:LaunchTemplate", "toy-h100-lt")

    assert vpc.inputs == {"cidrBlock": "10.0.0.0/16", "enableDnsHostnames": True}
    assert [s.inputs["availabilityZone"] for s in subnets] == ["us-west-2a", "us-west-2b"]
    assert {s.inputs["vpcId"] for s in subnets} == {vpc.id}
    assert node_group.inputs["scalingConfig"] == {"desiredSize": 2, "maxSize": 4, "minSize": 0}
    assert node_group.inputs["launchTemplate"] == {"id": template.id, "version": "1"}
    assert sorted(node_group.inputs["subnetIds"]) == sorted(s.id for s in subnets)
    json.dumps([r.inputs for r in cluster_preview.resources])  # every input is JSON-safe


def test_secret_inputs_are_revealed_with_their_paths(cluster_preview):
    config_map = cluster_preview.named("kubernetes:core/v1:ConfigMap", "fleet-spec")
    kube = cluster_preview.named("pulumi:providers:kubernetes", "kube")

    assert config_map.inputs["data"] == {"spec": "fleet.yaml", "token": "hunter2"}
    assert config_map.secret_paths == ("/data/token",)
    assert kube.secret_paths == ("/kubeconfig",)
    assert json.loads(kube.inputs["kubeconfig"])["clusters"][0]["name"].startswith("toy-eks-")


def test_stack_outputs_are_resolved_values(cluster_preview):
    outputs = cluster_preview.stack_outputs
    vpc = cluster_preview.named("aws:ec2/vpc:Vpc", "toy-vpc")

    assert outputs["region"] == "us-west-2"
    assert outputs["vpcId"] == vpc.id
    assert outputs["subnetCount"] == 2
    assert outputs["clusterEndpoint"].endswith(".gr7.us-west-2.eks.amazonaws.com")
    assert json.loads(outputs["kubeconfig"])["apiVersion"] == "v1"
    assert cluster_preview.resource(STACK_URN).outputs == outputs


def test_component_registered_outputs_are_kept(cluster_preview):
    node_group = cluster_preview.named("aws:eks/nodeGroup:NodeGroup", "toy-h100-ng")
    assert cluster_preview.resource(POOL_URN).outputs == {"nodeGroupArn": node_group.outputs["arn"]}


def test_config_is_visible_to_the_program_and_not_to_the_next_run():
    seen = []

    def read_config() -> None:
        seen.append((pulumi.Config("gpufleet").get("spec"), pulumi.Config("aws").get("region")))

    run_preview(read_config, project=PROJECT, stack=STACK, config=CONFIG)
    run_preview(read_config, project=PROJECT, stack=STACK)
    assert seen == [("fleet.yaml", "us-west-2"), (None, None)]


def test_project_stack_and_root_directory_reach_the_program(tmp_path):
    seen = []

    def read_settings() -> None:
        seen.append((pulumi.get_project(), pulumi.get_stack(), pulumi.get_root_directory()))

    run_preview(read_settings, project="other", stack="prod", root_directory=tmp_path)
    assert seen == [("other", "prod", str(tmp_path))]


def test_repeated_runs_record_identical_resources(cluster_preview):
    again = run_preview(gpu_cluster_program, project=PROJECT, stack=STACK, config=CONFIG)
    assert again.resources == cluster_preview.resources
    assert again.stack_outputs == cluster_preview.stack_outputs


def test_runs_leave_the_callers_runtime_untouched():
    pulumi.runtime.set_all_config({"gpufleet:spec": "caller.yaml"})
    try:
        run_preview(single_vpc, project=PROJECT, stack=STACK, config=CONFIG)
        assert pulumi.Config("gpufleet").get("spec") == "caller.yaml"
        assert pulumi.Config("aws").get("region") is None
        assert get_root_resource() is None
    finally:
        pulumi.runtime.set_all_config({})


def test_runs_from_inside_a_running_event_loop():
    async def caller() -> PreviewResult:
        return run_preview(single_vpc, project=PROJECT, stack=STACK)

    result = asyncio.run(caller())
    assert [r.type for r in result.resources if r.custom] == ["aws:ec2/vpc:Vpc"]


def test_program_exception_surfaces_with_its_message():
    def failing() -> None:
        single_vpc()
        raise ValueError("spec has no pools")

    with pytest.raises(ValueError, match="spec has no pools"):
        run_preview(failing, project=PROJECT, stack=STACK)


def test_exception_inside_apply_surfaces_with_its_message():
    def failing_apply() -> None:
        vpc = aws.ec2.Vpc("vpc", cidr_block="10.0.0.0/16")

        def explode(vpc_id: str) -> str:
            raise RuntimeError(f"cannot place subnets in {vpc_id}")

        aws.ec2.Subnet("subnet", vpc_id=vpc.id.apply(explode), cidr_block="10.0.1.0/24")

    with pytest.raises(RuntimeError, match=r"cannot place subnets in vpc-[0-9a-f]{17}"):
        run_preview(failing_apply, project=PROJECT, stack=STACK)


def test_exception_inside_a_component_constructor_surfaces():
    class Broken(pulumi.ComponentResource):
        def __init__(self, name: str) -> None:
            super().__init__("toy:fleet:Broken", name)
            raise KeyError("pool 'h100' refers to unknown fabric")

    with pytest.raises(KeyError, match="unknown fabric"):
        run_preview(lambda: Broken("broken"), project=PROJECT, stack=STACK)


def test_run_error_surfaces_as_run_error():
    def rejected() -> None:
        raise pulumi.RunError("invalid stack spec")

    with pytest.raises(pulumi.RunError, match="invalid stack spec"):
        run_preview(rejected, project=PROJECT, stack=STACK)


def test_duplicate_urn_is_rejected_like_the_engine_does():
    def duplicated() -> None:
        single_vpc("same")
        single_vpc("same")

    with pytest.raises(ValueError, match=r"Duplicate resource URN '.*aws:ec2/vpc:Vpc::same'"):
        run_preview(duplicated, project=PROJECT, stack=STACK)


def test_a_failed_run_does_not_poison_the_next_one():
    with pytest.raises(ZeroDivisionError):
        run_preview(lambda: [single_vpc(), 1 / 0], project=PROJECT, stack=STACK)
    result = run_preview(single_vpc, project=PROJECT, stack=STACK)
    assert len(result.of_type("aws:ec2/vpc:Vpc")) == 1


def test_read_resources_are_recorded_as_external():
    def reads() -> None:
        existing = aws.ec2.Vpc.get("shared", "vpc-0123456789abcdef0")
        aws.ec2.Subnet("subnet", vpc_id=existing.id, cidr_block="10.9.0.0/24")

    result = run_preview(reads, project=PROJECT, stack=STACK)
    shared = result.named("aws:ec2/vpc:Vpc", "shared")
    assert (shared.external, shared.id) == (True, "vpc-0123456789abcdef0")
    assert result.named("aws:ec2/subnet:Subnet", "subnet").inputs["vpcId"] == "vpc-0123456789abcdef0"


def test_unknown_invokes_echo_their_arguments_and_are_listed():
    def uses_unmocked_invoke() -> None:
        vpc = aws.ec2.get_vpc(id="vpc-0123456789abcdef0")
        pulumi.export("echoed", vpc.id)

    result = run_preview(uses_unmocked_invoke, project=PROJECT, stack=STACK)
    assert result.unknown_invokes == ("aws:ec2/getVpc:getVpc",)
    assert result.stack_outputs["echoed"] == "vpc-0123456789abcdef0"


def test_mocked_invokes_are_not_listed_as_unknown(cluster_preview):
    assert cluster_preview.unknown_invokes == ()
    template = cluster_preview.named("aws:ec2/launchTemplate:LaunchTemplate", "toy-h100-lt")
    assert template.inputs["imageId"].startswith("ami-")


def test_program_log_messages_become_diagnostics():
    def chatty() -> None:
        pulumi.log.warn("pool h100 has no capacity reservation")
        pulumi.log.info("resolved 3 pools")

    result = run_preview(chatty, project=PROJECT, stack=STACK)
    assert [(d.severity, d.message) for d in result.diagnostics] == [
        ("warning", "pool h100 has no capacity reservation"),
        ("info", "resolved 3 pools"),
    ]


def test_features_the_mock_engine_cannot_run_are_reported_as_warnings():
    def add_team_tag(args: pulumi.ResourceTransformArgs) -> pulumi.ResourceTransformResult:
        return pulumi.ResourceTransformResult(props={**args.props, "tags": {"team": "ml"}}, opts=args.opts)

    def uses_engine_side_features() -> None:
        pulumi.runtime.register_stack_transform(add_team_tag)
        aws.ec2.Vpc("tagged", cidr_block="10.0.0.0/16", opts=pulumi.ResourceOptions(transforms=[add_team_tag]))
        pulumi.ComponentResource("chart:index:Chart", "operator", {}, remote=True)

    result = run_preview(uses_engine_side_features, project=PROJECT, stack=STACK)
    warnings = {(d.urn, d.message.split(":")[0].split(";")[0]) for d in result.diagnostics}
    assert warnings == {
        (None, "stack transforms are not run offline"),
        (result.named("aws:ec2/vpc:Vpc", "tagged").urn, "resource transforms are not run offline"),
        (result.named("chart:index:Chart", "operator").urn, "remote (multi-language) component"),
    }
    assert "tags" not in result.named("aws:ec2/vpc:Vpc", "tagged").inputs


logical_names = st.text(alphabet=string.ascii_lowercase + string.digits + "-", min_size=1, max_size=12)


@settings(max_examples=15, deadline=None)
@given(names=st.lists(logical_names, min_size=1, max_size=4, unique=True), stack=st.sampled_from(["dev", "prod"]))
def test_generated_programs_get_engine_urns_and_repeat_exactly(names, stack):
    def program() -> None:
        group = pulumi.ComponentResource("toy:fleet:Group", "group")
        for index, name in enumerate(names):
            aws.ec2.Vpc(name, cidr_block=f"10.{index}.0.0/16", opts=pulumi.ResourceOptions(parent=group))

    first = run_preview(program, project=PROJECT, stack=stack)
    assert run_preview(program, project=PROJECT, stack=stack) == first
    group_urn = f"urn:pulumi:{stack}::{PROJECT}::pulumi:pulumi:Stack$toy:fleet:Group::group"
    for name in names:
        vpc = first.resource(f"urn:pulumi:{stack}::{PROJECT}::toy:fleet:Group$aws:ec2/vpc:Vpc::{name}")
        assert (vpc.name, vpc.parent) == (name, group_urn)
    assert len(first.resources) == len(names) + 2
