"""Each security policy on a violating and a compliant fixture, through the Analyzer protocol.

The compliant fixture is the example stack as rendered (or one change that fixes what it
lacks). The violating fixture is the same graph with one careless edit per policy, each to a
different resource, sent to the pack in one preview's worth of calls (``broken``).
"""

from __future__ import annotations

import json

import pytest

from tests.policy.conftest import added, changed, messages, of_rule, removed

DENY_PLAIN_HTTP = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": "*",
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        }
    ],
}
WILDCARD = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": ["s3:*", "ec2:DescribeInstances"], "Resource": "*"}],
}


def _loosen_imds(inputs):
    inputs["metadataOptions"].update(httpTokens="optional", httpPutResponseHopLimit=3)


def _plain_volume(inputs):
    inputs["blockDeviceMappings"][0]["ebs"]["encrypted"] = "false"


def _public_nic(inputs):
    inputs["networkInterfaces"][0]["associatePublicIpAddress"] = "true"


def _set(**values):
    return lambda inputs: inputs.update(values)


def _drop(key):
    return lambda inputs: inputs.pop(key)


def _open_to(cidr_key, cidr):
    def change(inputs):
        inputs.pop("referencedSecurityGroupId")
        inputs[cidr_key] = cidr

    return change


def _leak(inputs):
    inputs["tags"]["token"] = "AKIAIOSFODNN7EXAMPLE"


CHANGES = [
    ("train-h200-template", _loosen_imds),  # GF-SEC-001
    ("serve-h100-template", _plain_volume),  # GF-SEC-002
    ("scratch-fs", _drop("kmsKeyId")),  # GF-SEC-002
    ("datasets-public-access", _set(blockPublicPolicy=False)),  # GF-SEC-003
    ("lab-l4-template", _public_nic),  # GF-SEC-005
    ("network-public-us-east-1a", _set(mapPublicIpOnLaunch=True)),  # GF-SEC-005
    ("network-nodes-training-self", _open_to("cidrIpv4", "0.0.0.0/0")),  # GF-SEC-006
    ("train-efa-efa-ingress-self", _open_to("cidrIpv4", "10.40.0.0/16")),  # GF-SEC-007
    ("ai-prod-eks", _set(enabledClusterLogTypes=["api"])),  # GF-SEC-010
    ("scratch-key", _set(enableKeyRotation=False)),  # GF-SEC-011
    ("datasets-bucket", _leak),  # GF-SEC-012
]


@pytest.fixture(scope="module")
def broken(analyze_prod, prod_resources):
    fixture = prod_resources
    for name, change in CHANGES:
        fixture = changed(fixture, name, change)
    fixture = removed(fixture, "datasets-encryption")  # GF-SEC-002
    fixture = added(
        fixture,
        "scratch-lustre-ingress-988-training",
        "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
        "scratch-lustre-v6",
        {"cidrIpv6": "::/0", "ipProtocol": "tcp", "fromPort": 988, "toPort": 988, "securityGroupId": "sg-1"},
    )  # GF-SEC-006
    fixture = added(
        fixture,
        "ai-prod-nodes-lab-AmazonEKSWorkerNodePolicy",
        "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
        "ai-prod-nodes-admin",
        {"policyArn": "arn:aws:iam::aws:policy/AdministratorAccess", "role": "ai-prod-nodes-lab"},
    )  # GF-SEC-008
    fixture = added(
        fixture,
        "ai-prod-nodes-lab",
        "aws:iam/rolePolicy:RolePolicy",
        "ai-prod-nodes-s3",
        {"role": "ai-prod-nodes-lab", "policy": json.dumps(WILDCARD)},
    )
    return analyze_prod(fixture)


def test_example_stacks_have_no_mandatory_violation(prod_baseline, dev_baseline):
    for findings in (prod_baseline, dev_baseline):
        assert [str(f.finding) for f in findings if f.mandatory] == []


def test_imdsv2_required_with_a_low_hop_limit(broken, prod_baseline):
    text = messages(broken, "GF-SEC-001", "node_pools.train-h200")
    assert "pool train-h200: train-h200-template allows IMDSv1; set metadataOptions.httpTokens to 'required'." in text
    assert "httpPutResponseHopLimit 3; set it to 2" in text
    assert all(f.mandatory for f in of_rule(broken, "GF-SEC-001"))
    assert of_rule(prod_baseline, "GF-SEC-001") == []


def test_imdsv2_hop_limit_is_configurable(analyze_prod, prod_resources):
    two_hops = changed(
        prod_resources, "serve-h100-template", lambda inputs: inputs["metadataOptions"].update(httpPutResponseHopLimit=2)
    )
    assert of_rule(analyze_prod(two_hops), "GF-SEC-001") == [], "the default limit is 2"
    findings = of_rule(analyze_prod(two_hops, {"imdsv2-required": {"max_hop_limit": 1}}), "GF-SEC-001")
    assert {f.finding.field for f in findings} == {"node_pools.serve-h100"}


def test_every_volume_file_system_and_bucket_encrypted_with_kms(broken, prod_baseline):
    assert "serve-h100-template volume /dev/xvda is not encrypted" in messages(broken, "GF-SEC-002", "node_pools.serve-h100")
    assert "FSx file system scratch-fs uses FSx's default key" in messages(broken, "GF-SEC-002", "storage.scratch")
    assert "bucket datasets-bucket has no default encryption with KMS" in messages(broken, "GF-SEC-002", "storage.datasets")
    assert of_rule(prod_baseline, "GF-SEC-002") == []


def test_s3_public_access_blocked(broken, prod_baseline):
    assert "does not block public access (blockPublicPolicy)" in messages(broken, "GF-SEC-003", "storage.datasets")
    assert of_rule(prod_baseline, "GF-SEC-003") == []


def test_s3_tls_only(analyze_prod, prod_resources, prod_baseline):
    plain = analyze_prod(removed(prod_resources, "datasets-tls-only"))
    assert "bucket datasets-bucket accepts plain HTTP" in messages(plain, "GF-SEC-004", "storage.datasets")
    assert all(f.mandatory for f in of_rule(plain, "GF-SEC-004"))
    assert of_rule(prod_baseline, "GF-SEC-004") == [], "the renderer adds the TLS-only bucket policy"


def test_no_public_ip_on_node_interfaces_or_subnets(broken, prod_baseline):
    assert "lab-l4-template gives interface 0/0 a public IP" in messages(broken, "GF-SEC-005", "node_pools.lab-l4")
    assert "subnet network-public-us-east-1a gives every instance launched in it a public IP" in messages(
        broken, "GF-SEC-005", "network"
    )
    assert of_rule(prod_baseline, "GF-SEC-005") == []


def test_no_ingress_from_the_whole_internet(broken, prod_baseline):
    assert "network-nodes-training-self admits traffic from 0.0.0.0/0" in messages(broken, "GF-SEC-006", "network")
    assert "scratch-lustre-v6 admits traffic from ::/0" in messages(broken, "GF-SEC-006", "storage.scratch")
    assert of_rule(prod_baseline, "GF-SEC-006") == []


def test_efa_security_group_references_itself_only(broken, prod_baseline):
    text = messages(broken, "GF-SEC-007", "fabrics.train-efa")
    assert "train-efa-efa-ingress-self lets traffic cross the EFA security group's boundary" in text
    assert "has no all-traffic ingress rule from itself" in text
    assert of_rule(prod_baseline, "GF-SEC-007") == []


def test_roles_get_no_admin_or_wildcard_actions(broken, prod_baseline):
    text = messages(broken, "GF-SEC-008", "cluster")
    assert "ai-prod-nodes-admin attaches AdministratorAccess" in text and "ai-prod-nodes-s3 allows s3:*" in text
    assert of_rule(prod_baseline, "GF-SEC-008") == []


def test_production_endpoint_not_open_to_the_internet(prod_baseline, analyze_prod, prod_resources, dev_baseline):
    assert of_rule(prod_baseline, "GF-SEC-009") == [], "prod lists its public access CIDRs"
    opened = changed(prod_resources, "ai-prod-eks", lambda inputs: inputs["vpcConfig"].pop("publicAccessCidrs"))
    findings = of_rule(analyze_prod(opened), "GF-SEC-009")
    # The finding sits on the field to change (the public CIDRs), not on `cluster:`.
    assert "the Kubernetes API (ai-prod-eks) is open to the whole internet" in messages(
        findings, "GF-SEC-009", "cluster.endpoint.public_cidrs"
    )
    assert all(f.mandatory for f in findings)
    private = changed(opened, "ai-prod-eks", lambda inputs: inputs["vpcConfig"].update(endpointPublicAccess=False))
    assert of_rule(analyze_prod(private), "GF-SEC-009") == []
    assert of_rule(dev_baseline, "GF-SEC-009") == [], "dev is not a production stack"


def test_control_plane_audit_logging_on(broken, prod_baseline):
    assert "ai-prod-eks does not log audit, authenticator" in messages(broken, "GF-SEC-010", "cluster.log_types")
    assert of_rule(prod_baseline, "GF-SEC-010") == []


def test_kms_keys_rotated(broken, prod_baseline):
    assert "KMS key scratch-key is not rotated" in messages(broken, "GF-SEC-011", "storage.scratch")
    assert of_rule(prod_baseline, "GF-SEC-011") == []


def test_no_credential_in_resource_inputs(broken, prod_baseline):
    assert "datasets-bucket carries a credential in its inputs" in messages(broken, "GF-SEC-012", "storage.datasets")
    assert of_rule(prod_baseline, "GF-SEC-012") == []
