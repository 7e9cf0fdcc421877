"""The EKS control plane, the roles nodes run as, core add-ons, and a Kubernetes provider."""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from importlib import resources

import jinja2
import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from gpufleet.render.aws.tags import tags
from gpufleet.model.plan import ClusterPlan

SERVICE_CIDR = "172.20.0.0/16"
CORE_ADDONS = ("vpc-cni", "kube-proxy", "coredns", "eks-pod-identity-agent")
NODE_POLICIES = (
    "AmazonEKSWorkerNodePolicy",
    "AmazonEKS_CNI_Policy",
    "AmazonEC2ContainerRegistryReadOnly",
    "AmazonSSMManagedInstanceCore",
)


_templates = jinja2.Environment(
    loader=jinja2.FunctionLoader(lambda name: resources.files("gpufleet.render.aws").joinpath("templates", name).read_text("utf-8")),
    undefined=jinja2.StrictUndefined,
    keep_trailing_newline=True,
    autoescape=False,
)


def node_user_data(cluster_name: str, endpoint: str, certificate_authority: str, local_nvme_mount: str | None, hugepages: int | None) -> str:
    """AL2023 nodeadm configuration, as the MIME document EKS merges its own part into."""
    return _templates.get_template("user_data.mime.j2").render(
        cluster_name=cluster_name,
        endpoint=endpoint,
        certificate_authority=certificate_authority,
        service_cidr=SERVICE_CIDR,
        local_nvme_mount=local_nvme_mount,
        hugepages=hugepages,
    )


def assume_role_policy(service: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": {"Service": service}, "Action": ["sts:AssumeRole", "sts:TagSession"]}],
        },
        sort_keys=True,
    )


class GpuCluster(pulumi.ComponentResource):
    """An EKS cluster in API authentication mode, with secrets encrypted by its own KMS key."""

    def __init__(
        self,
        name: str,
        spec: ClusterPlan,
        subnet_ids: Sequence[pulumi.Input[str]],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("gpufleet:aws:Cluster", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        partition = aws.get_partition_output().partition
        control_plane_role = aws.iam.Role(f"{name}-control-plane", assume_role_policy=assume_role_policy("eks.amazonaws.com"), tags=tags(name), opts=child)
        attachment = aws.iam.RolePolicyAttachment(
            f"{name}-control-plane-policy",
            role=control_plane_role.name,
            policy_arn=partition.apply(lambda p: f"arn:{p}:iam::aws:policy/AmazonEKSClusterPolicy"),
            opts=child,
        )
        secrets_key = aws.kms.Key(
            f"{name}-secrets",
            description=f"{name} Kubernetes secrets envelope encryption",
            enable_key_rotation=True,
            tags=tags(name),
            opts=child,
        )
        self.eks = aws.eks.Cluster(
            f"{name}-eks",
            name=spec.name,
            version=spec.kubernetes_version,
            role_arn=control_plane_role.arn,
            vpc_config=aws.eks.ClusterVpcConfigArgs(subnet_ids=list(subnet_ids), endpoint_private_access=True, endpoint_public_access=True),
            access_config=aws.eks.ClusterAccessConfigArgs(authentication_mode="API", bootstrap_cluster_creator_admin_permissions=True),
            kubernetes_network_config=aws.eks.ClusterKubernetesNetworkConfigArgs(service_ipv4_cidr=SERVICE_CIDR),
            encryption_config=aws.eks.ClusterEncryptionConfigArgs(resources=["secrets"], provider=aws.eks.ClusterEncryptionConfigProviderArgs(key_arn=secrets_key.arn)),
            enabled_cluster_log_types=["api", "audit", "authenticator"],
            tags=tags(name),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[attachment]),
        )
        self.node_role = aws.iam.Role(f"{name}-nodes", assume_role_policy=assume_role_policy("ec2.amazonaws.com"), tags=tags(name), opts=child)
        node_policies = [
            aws.iam.RolePolicyAttachment(
                f"{name}-nodes-{policy}",
                role=self.node_role.name,
                policy_arn=partition.apply(lambda p, policy=policy: f"arn:{p}:iam::aws:policy/{policy}"),
                opts=child,
            )
            for policy in NODE_POLICIES
        ]
        self.node_role_ready = node_policies
        for addon in CORE_ADDONS:
            version = aws.eks.get_addon_version_output(addon_name=addon, kubernetes_version=spec.kubernetes_version, most_recent=True).version
            if addon == "vpc-cni" and spec.vpc_cni_min_version:
                version = version.apply(lambda found: require_version("vpc-cni", found, spec.vpc_cni_min_version, spec.vpc_cni_reason))
            aws.eks.Addon(
                f"{name}-{addon}",
                cluster_name=self.eks.name,
                addon_name=addon,
                addon_version=version,
                resolve_conflicts_on_create="OVERWRITE",
                resolve_conflicts_on_update="OVERWRITE",
                tags=tags(name),
                opts=child,
            )
        for index, principal in enumerate(spec.admins):
            entry = aws.eks.AccessEntry(f"{name}-admin-{index}", cluster_name=self.eks.name, principal_arn=principal, type="STANDARD", opts=child)
            aws.eks.AccessPolicyAssociation(
                f"{name}-admin-{index}",
                cluster_name=self.eks.name,
                principal_arn=entry.principal_arn,
                policy_arn=partition.apply(lambda p: f"arn:{p}:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"),
                access_scope=aws.eks.AccessPolicyAssociationAccessScopeArgs(type="cluster"),
                opts=child,
            )
        self.cluster_security_group_id = self.eks.vpc_config.cluster_security_group_id
        self.kubeconfig = pulumi.Output.all(self.eks.name, self.eks.endpoint, self.eks.certificate_authority.data).apply(
            lambda args: kubeconfig(*args)
        )
        self._bootstrap = pulumi.Output.all(self.eks.name, self.eks.endpoint, self.eks.certificate_authority.data)
        self._user_data: dict[tuple[str | None, int | None], pulumi.Output[str]] = {}
        self.provider = k8s.Provider(f"{name}-k8s", kubeconfig=self.kubeconfig, enable_server_side_apply=True, opts=child)
        self.register_outputs({"name": self.eks.name, "endpoint": self.eks.endpoint})

    def node_user_data(self, *, local_nvme_mount: str | None, hugepages: int | None) -> pulumi.Output[str]:
        """Base64 user data, rendered once per distinct node setup rather than once per pool."""
        key = (local_nvme_mount, hugepages)
        if key not in self._user_data:
            self._user_data[key] = self._bootstrap.apply(
                lambda args: base64.b64encode(node_user_data(*args, local_nvme_mount, hugepages).encode()).decode()
            )
        return self._user_data[key]


def require_version(addon: str, found: str, minimum: str, reason: str) -> str:
    """EKS add-on versions read ``v1.19.2-eksbuild.1``; refuse one older than ``minimum``."""

    def numbers(version: str) -> tuple[int, ...]:
        return tuple(int(part) for part in version.lstrip("v").split("-", 1)[0].split("."))

    if numbers(found) < numbers(minimum):
        raise ValueError(f"{addon} {found} is older than {minimum}: {reason}")
    return found


def kubeconfig(cluster_name: str, endpoint: str, certificate_authority: str) -> str:
    """A kubeconfig that asks the AWS CLI for a token, so no credential is stored in state."""
    return json.dumps(
        {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": cluster_name, "cluster": {"server": endpoint, "certificate-authority-data": certificate_authority}}],
            "contexts": [{"name": cluster_name, "context": {"cluster": cluster_name, "user": cluster_name}}],
            "current-context": cluster_name,
            "users": [
                {
                    "name": cluster_name,
                    "user": {
                        "exec": {
                            "apiVersion": "client.authentication.k8s.io/v1beta1",
                            "command": "aws",
                            "args": ["eks", "get-token", "--cluster-name", cluster_name, "--output", "json"],
                        }
                    },
                }
            ],
        },
        sort_keys=True,
    )
