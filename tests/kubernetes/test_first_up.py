"""The first `pulumi up` finishes: the deployer reaches the Kubernetes API and is allowed in (issue 23, #1 and #2)."""

from __future__ import annotations

from pathlib import Path

import pytest

from gpufleet.model.plan import AwsCloud
from gpufleet.stack import StackInvalid
from tests.kubernetes.conftest import REPO, rendered
from tests.program.conftest import HEAD, preview_file

INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
SYSTEM = "node_pools:\n  sys: {workload: system, instance_type: m7i.xlarge, nodes: {min: 1, max: 2}}\n"


def problems(stacks, text: str) -> list[tuple[str, str, str]]:
    path = stacks.write(text)
    with pytest.raises(StackInvalid) as caught:
        stacks.plan(path)
    return [(f.rule_id, f.field, f.message) for f in caught.value.findings]


def head(endpoint: str, cluster_extra: str = "") -> str:
    return HEAD.replace("  endpoint: {deploy_from: in-vpc}\n", endpoint + cluster_extra)


@pytest.mark.parametrize(
    ("endpoint", "refused"),
    [
        ("", "nothing says where pulumi up runs"),
        ("  endpoint: {deploy_from: public}\n", "needs the deployer's addresses in public_cidrs"),
        (
            "  endpoint: {deploy_from: connected, public_cidrs: [198.51.100.0/24]}\n",
            "needs the deployer's network in private_cidrs",
        ),
    ],
)
def test_a_deployer_that_cannot_reach_the_api_is_refused(stacks, endpoint: str, refused: str) -> None:
    """EKS UG cluster-endpoint, private-only access: "All traffic to your cluster API server must
    come from within your cluster's VPC or a connected network", and for a connected network "You
    must ensure that your Amazon EKS control plane security group contains rules to allow ingress
    traffic on port 443 from your connected network." pulumi up's Kubernetes provider calls that
    API from wherever it runs: a stack that says nothing of where that is, or names a path it
    gives no addresses for, is refused at cluster.endpoint (GF-K8S-008)."""
    [(rule, field, message)] = problems(stacks, head(endpoint) + SYSTEM)
    assert (rule, field) == ("GF-K8S-008", "cluster.endpoint")
    assert refused in message


def test_each_stated_path_is_decided_with_its_reason(stacks) -> None:
    paths = {
        "  endpoint: {public_cidrs: [198.51.100.0/24]}\n": ("public", "198.51.100.0/24"),
        "  endpoint: {private_cidrs: [10.99.0.0/16]}\n": ("connected", "must route to the VPC"),
        "  endpoint: {deploy_from: in-vpc}\n": ("in-vpc", "--exclude-dependents"),
    }
    for endpoint, (value, said) in paths.items():
        plan = stacks.plan(stacks.write(head(endpoint) + SYSTEM))
        assert isinstance(plan.cluster.cloud, AwsCloud)
        decided = plan.cluster.cloud.eks.summary()["deploy_path"]
        assert decided["value"] == value and said in decided["reason"], endpoint


def test_a_connected_network_reaches_the_private_endpoint_on_443_only(tmp_path: Path) -> None:
    """The same rule, rendered: one ingress rule on the cluster security group (the one EKS
    creates, ``vpcConfig.clusterSecurityGroupId``) per connected network, TCP 443 only."""
    path = tmp_path / "connected.yaml"
    path.write_text(head("  endpoint: {private_cidrs: [10.99.0.0/16, 172.31.0.0/16]}\n") + SYSTEM, encoding="utf-8")
    result = preview_file(path)
    (cluster,) = result.of_type("aws:eks/cluster:Cluster")
    assert cluster.inputs["vpcConfig"]["endpointPublicAccess"] is False
    cluster_group = cluster.outputs["vpcConfig"]["clusterSecurityGroupId"]
    from_networks = {
        rule.inputs["cidrIpv4"]: rule.inputs
        for rule in result.of_type(INGRESS)
        if rule.inputs["securityGroupId"] == cluster_group and rule.inputs.get("cidrIpv4")
    }
    assert set(from_networks) == {"10.99.0.0/16", "172.31.0.0/16"}
    for rule in from_networks.values():
        assert (rule["ipProtocol"], rule["fromPort"], rule["toPort"]) == ("tcp", 443, 443)


def test_the_deployer_must_be_one_of_the_admins(stacks) -> None:
    """EKS UG: with ``bootstrapClusterCreatorAdminPermissions: false`` "you need to create an access
    entry for at least one IAM principal, or no IAM principals will have access to Kubernetes
    objects on the cluster"; gpufleet turns it off when admins are listed, so the principal that
    runs pulumi up must be one of them (GF-K8S-009), located where the fix goes."""
    admins = '  admins: ["arn:aws:iam::123456789012:role/ops"]\n'
    unnamed = problems(stacks, head("  endpoint: {deploy_from: in-vpc}\n", admins) + SYSTEM)
    assert [(rule, field) for rule, field, _ in unnamed] == [("GF-K8S-009", "cluster.admins")]
    other = admins + '  deployer: "arn:aws:iam::123456789012:role/ci"\n'
    [(rule, field, message)] = problems(stacks, head("  endpoint: {deploy_from: in-vpc}\n", other) + SYSTEM)
    assert (rule, field) == ("GF-K8S-009", "cluster.deployer") and "role/ci is not listed" in message
    listed = admins + '  deployer: "arn:aws:iam::123456789012:role/ops"\n'
    assert stacks.plan(stacks.write(head("  endpoint: {deploy_from: in-vpc}\n", listed) + SYSTEM))


def test_every_kubernetes_object_waits_for_the_admins_access() -> None:
    """Every object reaches the API through the cluster's Kubernetes provider; the provider waits
    for each admin's access policy association, so no object is sent before EKS lets the
    deployer in (else 401/403). Checked on prod over the recorded dependency graph."""
    _, result = rendered("prod", str(REPO / "stacks"))
    by_urn = {resource.urn: resource for resource in result.resources}
    associations = {r.urn for r in result.of_type("aws:eks/accessPolicyAssociation:AccessPolicyAssociation")}
    assert associations

    closure: dict[str, set[str]] = {}

    def waits_for(urn: str) -> set[str]:
        """Everything ``urn`` waits for: its dependencies and its provider, transitively."""
        if urn not in closure:
            closure[urn] = set()
            resource = by_urn.get(urn)
            direct = (
                [*resource.depends_on, *([resource.provider.rsplit("::", 1)[0]] if resource.provider else [])] if resource else []
            )
            closure[urn] = set(direct).union(*(waits_for(dependency) for dependency in direct))
        return closure[urn]

    objects = [r for r in result.resources if r.custom and r.type.startswith("kubernetes:")]
    assert len(objects) > 20
    for resource in objects:
        assert associations <= waits_for(resource.urn), resource.name
