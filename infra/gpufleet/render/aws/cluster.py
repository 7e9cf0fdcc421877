"""The EKS control plane, the roles nodes run as, pinned core add-ons, and a Kubernetes provider."""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping, Sequence
from importlib import resources

import jinja2
import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from gpufleet.model.aws import AddonPin
from gpufleet.model.plan import ClusterPlan, Pool
from gpufleet.render.aws.security import allow_from_group
from gpufleet.render.aws.policies import ec2_trust_policy, key_policy, managed_policy_arn, partition, trust_policy
from gpufleet.render.aws.tags import tags

# Only what a node itself needs: join the cluster and pull images. The VPC CNI's
# AmazonEKS_CNI_Policy lives on the CNI's own Pod Identity role, and SSM is not granted at all.
NODE_POLICIES = ("AmazonEKSWorkerNodePolicy", "AmazonEC2ContainerRegistryReadOnly")
ADDON_POLICIES = {"vpc-cni": "AmazonEKS_CNI_Policy"}


_templates = jinja2.Environment(
    loader=jinja2.FunctionLoader(lambda name: resources.files("gpufleet.render.aws").joinpath("templates", name).read_text("utf-8")),
    undefined=jinja2.StrictUndefined,
    keep_trailing_newline=True,
    autoescape=False,
)


def kubelet_flags(pool: Pool) -> list[str]:
    """Labels and taints the kubelet registers the node with, so no pod lands before they exist."""
    labels = ",".join(f"{key}={value}" for key, value in sorted(pool.labels.items()))
    flags = [f"--node-labels={labels}"]
    if pool.taints:
        flags.append("--register-with-taints=" + ",".join(f"{t.key}={t.value}:{t.effect}" for t in pool.taints))
    return flags


def node_user_data(
    cluster_name: str,
    endpoint: str,
    certificate_authority: str,
    service_cidr: str,
    kubelet: Sequence[str],
    local_nvme_mount: str | None,
    hugepages: int | None,
) -> str:
    """AL2023 nodeadm configuration, as the MIME document EKS merges its own part into."""
    return _templates.get_template("user_data.mime.j2").render(
        cluster_name=cluster_name,
        endpoint=endpoint,
        certificate_authority=certificate_authority,
        service_cidr=service_cidr,
        kubelet_flags=list(kubelet),
        local_nvme_mount=local_nvme_mount,
        hugepages=hugepages,
    )


class GpuCluster(pulumi.ComponentResource):
    """An EKS cluster in API authentication mode, with secrets encrypted by its own KMS key.

    Every node class (workload) gets its own node role; the control plane reaches nodes only
    through the rules ``allow_nodes`` adds, since nodes do not carry the cluster security group.
    """

    def __init__(
        self,
        name: str,
        spec: ClusterPlan,
        subnet_ids: Sequence[pulumi.Input[str]],
        node_classes: Sequence[str],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("gpufleet:aws:Cluster", name, None, opts)
        assert spec.aws is not None, "an aws cluster plan carries its AWS choices"
        plan = spec.aws
        self._name = name
        self._plan = plan
        self._tags = tags(name)
        child = pulumi.ResourceOptions(parent=self)
        region = spec.region or ""
        control_plane_role = aws.iam.Role(f"{name}-control-plane", assume_role_policy=trust_policy("eks.amazonaws.com"), tags=self._tags, opts=child)
        attachment = aws.iam.RolePolicyAttachment(
            f"{name}-control-plane-policy", role=control_plane_role.name, policy_arn=managed_policy_arn("AmazonEKSClusterPolicy"), opts=child
        )
        secrets_key = aws.kms.Key(
            f"{name}-secrets",
            description=f"{name} Kubernetes secrets envelope encryption",
            enable_key_rotation=True,
            policy=key_policy("eks", region),
            tags=self._tags,
            opts=child,
        )
        public = list(plan.public_access_cidrs)
        self.eks = aws.eks.Cluster(
            f"{name}-eks",
            name=spec.name,
            version=spec.kubernetes_version,
            role_arn=control_plane_role.arn,
            vpc_config=aws.eks.ClusterVpcConfigArgs(
                subnet_ids=list(subnet_ids),
                endpoint_private_access=True,
                endpoint_public_access=bool(public),
                public_access_cidrs=public or None,
            ),
            access_config=aws.eks.ClusterAccessConfigArgs(authentication_mode="API", bootstrap_cluster_creator_admin_permissions=plan.bootstrap_admin.value == "true"),
            kubernetes_network_config=aws.eks.ClusterKubernetesNetworkConfigArgs(service_ipv4_cidr=plan.service_cidr.value),
            encryption_config=aws.eks.ClusterEncryptionConfigArgs(resources=["secrets"], provider=aws.eks.ClusterEncryptionConfigProviderArgs(key_arn=secrets_key.arn)),
            enabled_cluster_log_types=list(plan.log_types),
            tags=self._tags,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[attachment]),
        )
        self.node_roles: dict[str, aws.iam.Role] = {}
        self.node_role_ready: list[pulumi.Resource] = []
        for node_class in node_classes:
            role = aws.iam.Role(f"{name}-nodes-{node_class}", assume_role_policy=ec2_trust_policy(), tags=tags(name, **{"gpufleet:workload": node_class}), opts=child)
            self.node_roles[node_class] = role
            self.node_role_ready += [
                aws.iam.RolePolicyAttachment(f"{name}-nodes-{node_class}-{policy}", role=role.name, policy_arn=managed_policy_arn(policy), opts=child)
                for policy in NODE_POLICIES
            ]
        self.addons = {pin.name: self._addon(pin) for pin in plan.addons if not pin.needs_nodes}
        for entry in plan.admins:
            access = aws.eks.AccessEntry(f"{name}-admin-{entry.key}", cluster_name=self.eks.name, principal_arn=entry.principal, type="STANDARD", opts=child)
            aws.eks.AccessPolicyAssociation(
                f"{name}-admin-{entry.key}",
                cluster_name=self.eks.name,
                principal_arn=access.principal_arn,
                policy_arn=partition().apply(lambda p: f"arn:{p}:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"),
                access_scope=aws.eks.AccessPolicyAssociationAccessScopeArgs(type="cluster"),
                opts=child,
            )
        self.cluster_security_group_id = self.eks.vpc_config.cluster_security_group_id
        self.kubeconfig = pulumi.Output.all(self.eks.name, self.eks.endpoint, self.eks.certificate_authority.data).apply(
            lambda args: kubeconfig(*args)
        )
        self._bootstrap = pulumi.Output.all(self.eks.name, self.eks.endpoint, self.eks.certificate_authority.data)
        self.provider = k8s.Provider(f"{name}-k8s", kubeconfig=self.kubeconfig, enable_server_side_apply=True, opts=child)
        self.register_outputs({"name": self.eks.name, "endpoint": self.eks.endpoint})

    def _addon(self, pin: AddonPin, depends_on: Sequence[pulumi.Resource] = ()) -> aws.eks.Addon:
        """A pinned add-on; one that calls AWS gets its own least-privilege Pod Identity role first."""
        needs = list(depends_on)
        if pin.service_account is not None:
            needs.append(self._pod_identity(pin))
        return aws.eks.Addon(
            f"{self._name}-{pin.name}",
            cluster_name=self.eks.name,
            addon_name=pin.name,
            addon_version=pin.version,
            configuration_values=pin.configuration,
            resolve_conflicts_on_create="OVERWRITE",
            resolve_conflicts_on_update="PRESERVE",
            tags=self._tags,
            opts=pulumi.ResourceOptions(parent=self, depends_on=needs),
        )

    def _pod_identity(self, pin: AddonPin) -> aws.eks.PodIdentityAssociation:
        assert pin.service_account is not None
        namespace, service_account = pin.service_account
        child = pulumi.ResourceOptions(parent=self)
        role = aws.iam.Role(
            f"{self._name}-{pin.name}-pod-identity",
            assume_role_policy=trust_policy("pods.eks.amazonaws.com", self.eks.arn),
            tags=self._tags,
            opts=child,
        )
        attachment = aws.iam.RolePolicyAttachment(
            f"{self._name}-{pin.name}-pod-identity", role=role.name, policy_arn=managed_policy_arn(ADDON_POLICIES[pin.name]), opts=child
        )
        return aws.eks.PodIdentityAssociation(
            f"{self._name}-{pin.name}",
            cluster_name=self.eks.name,
            namespace=namespace,
            service_account=service_account,
            role_arn=role.arn,
            tags=self._tags,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[attachment]),
        )

    def add_node_addons(self, nodes: Sequence[pulumi.Resource]) -> None:
        """Add-ons whose pods need a node (CoreDNS) wait for the node groups, or they time out DEGRADED."""
        for pin in self._plan.addons:
            if pin.needs_nodes:
                self.addons[pin.name] = self._addon(pin, nodes)

    def allow_nodes(self, node_security_groups: Mapping[str, pulumi.Input[str]]) -> None:
        """What the control plane and nodes need of each other, and nothing more (EKS security group guide)."""
        child = pulumi.ResourceOptions(parent=self)
        for node_class, group in node_security_groups.items():
            allow_from_group(
                f"{self._name}-api-from-{node_class}", self.cluster_security_group_id, group, f"Kubernetes API from {node_class} nodes", child, ports=(443, 443)
            )
            for low, high, what in ((443, 443, "webhooks on 443"), (10250, 10250, "kubelet"), (1025, 65535, "webhooks and metrics on pods")):
                allow_from_group(
                    f"{self._name}-{node_class}-from-api-{low}", group, self.cluster_security_group_id, f"control plane to {node_class} nodes: {what}", child, ports=(low, high)
                )

    def node_user_data(self, pool: Pool, *, local_nvme_mount: str | None, hugepages: int | None) -> pulumi.Output[str]:
        """Base64 user data: per pool, since each registers with its own labels and taints."""
        flags = kubelet_flags(pool)
        service_cidr = self._plan.service_cidr.value
        return self._bootstrap.apply(
            lambda args: base64.b64encode(node_user_data(*args, service_cidr, flags, local_nvme_mount, hugepages).encode()).decode()
        )


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
