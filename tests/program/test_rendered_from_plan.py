"""Renderers decide nothing: every security-group rule, IAM role and policy and FSx option the AWS
backend registers is one the plan holds, and the Kubernetes backend reaches AWS only through
the cloud-neutral handle."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gpufleet.catalog import load_catalog
from gpufleet.model import resolve
from gpufleet.model.plan import AwsCloud, LustreTier
from gpufleet.render.aws.policies import written
from gpufleet.stack import load_stack
from tests.program.conftest import preview_file
from tests.program.test_aws_hardening import FLEET

RENDER = Path(__file__).resolve().parents[2] / "infra" / "gpufleet" / "render"
RULES = ("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule", "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule")
# What the mocks answer for the caller identity and the partition (preview/mocks.py).
DEPLOYED = {"account": "123456789012", "partition": "aws"}


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory):
    path = tmp_path_factory.mktemp("from-plan") / "fleet.yaml"
    path.write_text(FLEET, encoding="utf-8")
    plan = resolve(load_stack(path), load_catalog())
    assert isinstance(plan.cluster.cloud, AwsCloud)
    return plan, plan.cluster.cloud, preview_file(path)


def test_every_security_group_rule_is_the_plans(fleet) -> None:
    """EKS's security group guide: nodes must accept the control plane on 443 and 10250 (and, for
    webhooks and metrics served by pods, 1025-65535), and reach the API on 443; the rest of the
    matrix (classes apart, LNet on 988 and 1018-1023 as FSx documents, EFA within its group) is
    gpufleet's choice. Each registered rule is one planned rule, with the same ports, protocol,
    description and peer, and no planned rule is missing."""
    _, cloud, result = fleet
    rendered = {r.name: r for token in RULES for r in result.of_type(token)}
    planned = {rule.name: rule for rule in cloud.security.rules}
    assert set(rendered) == set(planned)
    for name, rule in planned.items():
        inputs = rendered[name].inputs
        assert rendered[name].type == RULES[rule.direction == "egress"], name
        low, high = rule.ports if rule.ports else (None, None)
        assert (inputs["ipProtocol"], inputs.get("fromPort"), inputs.get("toPort")) == (rule.protocol, low, high), name
        assert inputs["description"] == rule.description
        assert inputs.get("cidrIpv4") == rule.cidr
        assert ("referencedSecurityGroupId" in inputs) == (rule.peer is not None), name
    kubelet = [rule for rule in cloud.security.rules if rule.peer == "control-plane" and rule.ports == (10250, 10250)]
    assert {rule.group for rule in kubelet} == {
        f"nodes:{node_class}" for node_class in ("inference", "lab", "system", "training")
    }


def test_every_role_and_policy_is_the_plans(fleet) -> None:
    """IAM evaluates a role's trust policy to decide who may assume it and its attached and inline
    policies to decide what it may do; each registered one is written from the plan's document,
    with only the account, partition and guarded ARN filled in."""
    _, cloud, result = fleet
    roles = cloud.roles
    planned = [roles.control_plane, roles.flow_logs, *roles.nodes.values(), *roles.addons.values()]
    planned += [service.role for service in cloud.services]
    by_name = {role.name: role for role in planned}
    rendered_roles = {r.name: r for r in result.of_type("aws:iam/role:Role")}
    assert set(rendered_roles) == set(by_name)
    attachments = {r.name: r.inputs["policyArn"] for r in result.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")}
    assert attachments == {
        name: f"arn:aws:iam::aws:policy/{managed}"
        if not managed.startswith("AmazonEBS")
        else f"arn:aws:iam::aws:policy/service-role/{managed}"
        for role in planned
        for name, managed in role.attachments
    }
    for name, role in by_name.items():
        trust = json.loads(rendered_roles[name].inputs["assumeRolePolicy"])
        arn_condition = trust["Statement"][0].get("Condition", {}).get("StringEquals", {}).get("aws:RequestTag/eks-cluster-arn")
        expected = json.loads(written(role.trust, {**DEPLOYED, "arn": arn_condition}))
        assert trust == expected, name
    nodes = roles.nodes["training"]
    assert [managed for _, managed in nodes.attachments] == ["AmazonEKSWorkerNodePolicy", "AmazonEC2ContainerRegistryReadOnly"]


def test_every_fsx_option_is_the_plans(fleet) -> None:
    """FSx API (CreateFileSystemLustreConfiguration): PerUnitStorageThroughput is "required with
    PERSISTENT_1 and PERSISTENT_2 deployment types"; the metadata configuration is "for an Amazon
    FSx for Lustre file system using a PERSISTENT_2 deployment type"; scratch file systems are
    encrypted with a key FSx manages, persistent ones with the KMS key given. The registered
    file system carries exactly the plan's ``FsxOptions``, for each deployment type."""
    plan, _, result = fleet
    tiers = [tier for tier in plan.storage if isinstance(tier, LustreTier)]
    assert {tier.fsx.deployment_type for tier in tiers} == {"SCRATCH_2", "PERSISTENT_1", "PERSISTENT_2"}
    for tier in tiers:
        inputs = result.named("aws:fsx/lustreFileSystem:LustreFileSystem", f"{tier.name}-fs").inputs
        fsx = tier.fsx
        assert inputs["deploymentType"] == fsx.deployment_type
        assert inputs["storageCapacity"] == fsx.storage_capacity_gib
        assert inputs.get("perUnitStorageThroughput") == fsx.per_unit_throughput
        assert inputs.get("automaticBackupRetentionDays") == fsx.backup_retention_days
        assert inputs.get("copyTagsToBackups") == fsx.copy_tags_to_backups
        assert (inputs.get("metadataConfiguration") or {}).get("mode") == fsx.metadata_mode
        assert (inputs["fileSystemTypeVersion"], inputs["dataCompressionType"]) == (
            fsx.file_system_type_version,
            fsx.data_compression,
        )
        assert ("kmsKeyId" in inputs) == (fsx.key_policy is not None) == tier.persistent, tier.name


def test_the_kubernetes_backend_names_no_cloud() -> None:
    """The AWS pieces Kubernetes components need (Pod Identity roles, the EBS CSI add-on, the
    Auto Scaling group tags) are the cloud backend's to render: the Kubernetes backend registers
    no ``aws:`` resource and imports nothing of ``render.aws``."""
    for source in [*sorted((RENDER / "kubernetes").glob("*.py")), RENDER / "contract.py"]:
        text = source.read_text(encoding="utf-8")
        assert '"aws:' not in text and "from gpufleet.render.aws" not in text, source.name


@pytest.mark.parametrize(
    "decided",
    ["10250", "1025", '"-1"', "AmazonEKS", "sts:AssumeRole", "kms:", "PERSISTENT", "SCRATCH", "ON_DEMAND", "LZ4"],
)
def test_no_renderer_spells_a_decision(decided: str) -> None:
    """Ports, protocols, managed policies, policy actions, deployment types and capacity types
    are the plan's words: a renderer that spelled one would be deciding it."""
    spelled = [path.name for path in sorted(RENDER.rglob("*.py")) if decided in path.read_text(encoding="utf-8")]
    assert spelled == []
