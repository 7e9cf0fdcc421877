"""IAM and KMS policies, decided once: who may assume each role, what it may do, who may use each key.

Trust policies name the account (``aws:SourceAccount``) and, where the caller is one resource,
that resource (``aws:SourceArn``), so no other account's service can assume the role (the
confused-deputy guard). EKS Pod Identity documents no ``aws:SourceArn`` value; its roles name the
cluster, namespace and service account through the session tags it adds to every ``AssumeRole``
(``aws:RequestTag/eks-cluster-arn`` and the others, ``pod_identity_trust``). Key policies let the account administer a key but use it for data
only through the one service that needs it (``kms:ViaService``). Node roles carry only what a
node itself needs; every controller that calls AWS gets its own role through EKS Pod Identity.

Values only a deployment knows (the account id, the partition, the ARN of the resource a
document guards) stay ``Ref``s here; the AWS backend fills them in and writes the document.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

RefName = Literal["account", "partition", "arn"]


@dataclass(frozen=True)
class Ref:
    """A value known only at deploy time: the account, the partition, or the guarded resource's ARN."""

    name: RefName


@dataclass(frozen=True)
class Text:
    """A string of literal parts and ``Ref``s, as ``arn:<partition>:iam::<account>:root``."""

    parts: tuple[str | Ref, ...]


Leaf = str | bool | int | Ref | Text
Node = Leaf | list["Node"] | dict[str, "Node"]
Statement = dict[str, Node]

ACCOUNT, PARTITION, ARN = Ref("account"), Ref("partition"), Ref("arn")
ACCOUNT_ROOT = Text(("arn:", PARTITION, ":iam::", ACCOUNT, ":root"))

KEY_ADMINISTRATION = (
    "kms:CancelKeyDeletion",
    "kms:Create*",
    "kms:Delete*",
    "kms:Describe*",
    "kms:Disable*",
    "kms:Enable*",
    "kms:Get*",
    "kms:List*",
    "kms:Put*",
    "kms:Revoke*",
    "kms:ScheduleKeyDeletion",
    "kms:TagResource",
    "kms:UntagResource",
    "kms:Update*",
)
KEY_USE = ("kms:CreateGrant", "kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey*", "kms:ReEncrypt*")
# Only what a node itself needs: join the cluster and pull images. The VPC CNI's
# AmazonEKS_CNI_Policy lives on the CNI's own Pod Identity role, and SSM is not granted at all.
NODE_POLICIES = ("AmazonEKSWorkerNodePolicy", "AmazonEC2ContainerRegistryReadOnly")
CONTROL_PLANE_POLICY = "AmazonEKSClusterPolicy"
# Add-ons that call AWS, with the one managed policy their own Pod Identity role carries.
ADDON_POLICIES = {"vpc-cni": "AmazonEKS_CNI_Policy"}
ADMIN_ACCESS_POLICY = "AmazonEKSClusterAdminPolicy"
POD_IDENTITY_PRINCIPAL = "pods.eks.amazonaws.com"


@dataclass(frozen=True)
class PolicyDocument:
    """An IAM or KMS policy: its statements, whose leaves may be ``Ref``s."""

    statements: tuple[Statement, ...] = field(hash=False)

    @property
    def refs(self) -> tuple[RefName, ...]:
        """The deploy-time values this document needs, in a fixed order."""
        found: set[RefName] = set()

        def walk(node: Node) -> None:
            if isinstance(node, Ref):
                found.add(node.name)
            elif isinstance(node, Text):
                found.update(part.name for part in node.parts if isinstance(part, Ref))
            elif isinstance(node, list):
                for item in node:
                    walk(item)
            elif isinstance(node, dict):
                for item in node.values():
                    walk(item)

        for statement in self.statements:
            walk(statement)
        return tuple(name for name in ("account", "partition", "arn") if name in found)


@dataclass(frozen=True)
class RolePlan:
    """An IAM role: who may assume it, the managed policies attached (each under its resource
    name) and the policy that lives on the role alone."""

    name: str
    trust: PolicyDocument
    attachments: tuple[tuple[str, str], ...] = ()
    """(resource name, managed policy name) pairs."""
    inline: PolicyDocument | None = None
    reason: str = ""


def trust(service: str) -> PolicyDocument:
    """A role only ``service`` may assume, and only on behalf of this account."""
    return PolicyDocument(
        (
            {
                "Effect": "Allow",
                "Principal": {"Service": service},
                "Action": ["sts:AssumeRole", "sts:TagSession"],
                "Condition": {"StringEquals": {"aws:SourceAccount": ACCOUNT}},
            },
        )
    )


def pod_identity_trust(namespace: str, service_account: str) -> PolicyDocument:
    """A role only EKS Pod Identity may assume, for one service account of one cluster (``ARN``:
    the cluster's). EKS adds the session tags ``eks-cluster-arn``, ``kubernetes-namespace`` and
    ``kubernetes-service-account`` to its ``AssumeRole`` call, which the trust policy may require."""
    return PolicyDocument(
        (
            {
                "Effect": "Allow",
                "Principal": {"Service": POD_IDENTITY_PRINCIPAL},
                "Action": ["sts:AssumeRole", "sts:TagSession"],
                "Condition": {
                    "StringEquals": {
                        "aws:SourceAccount": ACCOUNT,
                        "aws:RequestTag/eks-cluster-arn": ARN,
                        "aws:RequestTag/kubernetes-namespace": namespace,
                        "aws:RequestTag/kubernetes-service-account": service_account,
                    }
                },
            },
        )
    )


def ec2_trust() -> PolicyDocument:
    """EC2 assumes node roles for instances; AWS documents no source conditions for this principal."""
    return PolicyDocument(({"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": ["sts:AssumeRole"]},))


def key_policy(service: str, region: str) -> PolicyDocument:
    """The account administers the key; data operations only through ``service`` in ``region``."""
    return PolicyDocument(
        (
            {
                "Sid": "AccountAdministersKey",
                "Effect": "Allow",
                "Principal": {"AWS": ACCOUNT_ROOT},
                "Action": list(KEY_ADMINISTRATION),
                "Resource": "*",
            },
            {
                "Sid": f"UseThrough{service.capitalize()}",
                "Effect": "Allow",
                "Principal": {"AWS": ACCOUNT_ROOT},
                "Action": list(KEY_USE),
                "Resource": "*",
                "Condition": {
                    "StringEquals": {"kms:CallerAccount": ACCOUNT, "kms:ViaService": f"{service}.{region}.amazonaws.com"}
                },
            },
        )
    )


def deny_insecure_transport() -> PolicyDocument:
    """A bucket policy refusing every request that does not use TLS, to the bucket and its objects."""
    return PolicyDocument(
        (
            {
                "Sid": "DenyInsecureTransport",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": [ARN, Text((ARN, "/*"))],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            },
        )
    )


def flow_log_delivery() -> PolicyDocument:
    """What VPC Flow Logs needs to write into its one log group, and nothing more."""
    return PolicyDocument(
        (
            {
                "Effect": "Allow",
                "Action": ["logs:CreateLogStream", "logs:DescribeLogStreams", "logs:PutLogEvents"],
                "Resource": [ARN, Text((ARN, ":*"))],
            },
        )
    )


def scaling_policy(describe_actions: tuple[str, ...], scaling_actions: tuple[str, ...], owner_tag: str) -> PolicyDocument:
    """Reads anywhere; scaling calls only on Auto Scaling groups whose ``owner_tag`` says this cluster owns them."""
    return PolicyDocument(
        (
            {"Effect": "Allow", "Action": list(describe_actions), "Resource": "*"},
            {
                "Effect": "Allow",
                "Action": list(scaling_actions),
                "Resource": "*",
                "Condition": {"StringEquals": {f"aws:ResourceTag/{owner_tag}": "owned"}},
            },
        )
    )


def control_plane_role(cluster: str) -> RolePlan:
    return RolePlan(
        f"{cluster}-control-plane",
        trust("eks.amazonaws.com"),
        ((f"{cluster}-control-plane-policy", CONTROL_PLANE_POLICY),),
        reason="EKS manages the control plane's AWS resources with this role and nothing else",
    )


def node_role(cluster: str, node_class: str) -> RolePlan:
    """One role per workload class, carrying what a node itself needs and nothing a pod could borrow."""
    name = f"{cluster}-nodes-{node_class}"
    return RolePlan(
        name,
        ec2_trust(),
        tuple((f"{name}-{policy}", policy) for policy in NODE_POLICIES),
        reason="join the cluster and pull images; the VPC CNI has its own Pod Identity role and SSM is not granted",
    )


def addon_role(cluster: str, addon: str, service_account: tuple[str, str]) -> RolePlan:
    """An add-on that calls AWS gets its own role, assumable only by Pod Identity for its service account of this cluster."""
    name = f"{cluster}-{addon}-pod-identity"
    return RolePlan(
        name,
        pod_identity_trust(*service_account),
        ((name, ADDON_POLICIES[addon]),),
        reason=f"{addon} calls AWS: its own least-privilege role, not the node role",
    )


def flow_logs_role(network: str) -> RolePlan:
    name = f"{network}-flow-logs"
    return RolePlan(
        name,
        trust("vpc-flow-logs.amazonaws.com"),
        inline=flow_log_delivery(),
        reason="VPC Flow Logs writes to the fleet's log group and nowhere else",
    )
