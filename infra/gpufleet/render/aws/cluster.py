"""The EKS control plane, the roles nodes run as, pinned core add-ons, and a Kubernetes provider."""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping, Sequence
from importlib import resources

import jinja2
import pulumi
import pulumi_kubernetes as k8s

from gpufleet.model.aws import AddonPin
from gpufleet.model.plan import ClusterPlan, Pool
from gpufleet.render.aws.iam import attach_policy, role
from gpufleet.render.aws.policies import ec2_trust_policy, key_policy, managed_policy_arn, partition, trust_policy
from gpufleet.render.aws.security import allow_from_group
from gpufleet.render.aws.tags import tags
from gpufleet.render.resources import Registered

# Only what a node itself needs: join the cluster and pull images. The VPC CNI's
# AmazonEKS_CNI_Policy lives on the CNI's own Pod Identity role, and SSM is not granted at all.
NODE_POLICIES = ("AmazonEKSWorkerNodePolicy", "AmazonEC2ContainerRegistryReadOnly")
ADDON_POLICIES = {"vpc-cni": "AmazonEKS_CNI_Policy"}


_templates = jinja2.Environment(
    loader=jinja2.FunctionLoader(
        lambda name: resources.files("gpufleet.render.aws").joinpath("templates", name).read_text("utf-8")
    ),
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
        control_plane_role = role(f"{name}-control-plane", trust_policy("eks.amazonaws.com"), self._tags, child)
        attachment = attach_policy(
            f"{name}-control-plane-policy", control_plane_role, managed_policy_arn("AmazonEKSClusterPolicy"), child
        )
        secrets_key = Registered(
            "aws:kms/key:Key",
            f"{name}-secrets",
            {
                "description": f"{name} Kubernetes secrets envelope encryption",
                "enableKeyRotation": True,
                "policy": key_policy("eks", region),
                "tags": self._tags,
            },
            child,
            outputs=("arn",),
        )
        public = list(plan.public_access_cidrs)
        self.eks = Registered(
            "aws:eks/cluster:Cluster",
            f"{name}-eks",
            {
                "name": spec.name,
                "version": spec.kubernetes_version,
                "roleArn": control_plane_role.output("arn"),
                "vpcConfig": {
                    "subnetIds": list(subnet_ids),
                    "endpointPrivateAccess": True,
                    "endpointPublicAccess": bool(public),
                    "publicAccessCidrs": public or None,
                },
                "accessConfig": {
                    "authenticationMode": "API",
                    "bootstrapClusterCreatorAdminPermissions": plan.bootstrap_admin.value == "true",
                },
                "kubernetesNetworkConfig": {"serviceIpv4Cidr": plan.service_cidr.value},
                "encryptionConfig": {"resources": ["secrets"], "provider": {"keyArn": secrets_key.output("arn")}},
                "enabledClusterLogTypes": list(plan.log_types),
                "tags": self._tags,
            },
            pulumi.ResourceOptions(parent=self, depends_on=[attachment]),
            outputs=("arn", "endpoint", "certificateAuthority"),
        )
        self.node_roles: dict[str, Registered] = {}
        self.node_role_ready: list[pulumi.Resource] = []
        for node_class in node_classes:
            node_role = role(
                f"{name}-nodes-{node_class}", ec2_trust_policy(), tags(name, **{"gpufleet:workload": node_class}), child
            )
            self.node_roles[node_class] = node_role
            self.node_role_ready += [
                attach_policy(f"{name}-nodes-{node_class}-{policy}", node_role, managed_policy_arn(policy), child)
                for policy in NODE_POLICIES
            ]
        self.addons = {pin.name: self._addon(pin) for pin in plan.addons if not pin.needs_nodes}
        cluster_name = self.eks.output("name")
        for entry in plan.admins:
            access = Registered(
                "aws:eks/accessEntry:AccessEntry",
                f"{name}-admin-{entry.key}",
                {"clusterName": cluster_name, "principalArn": entry.principal, "type": "STANDARD"},
                child,
            )
            Registered(
                "aws:eks/accessPolicyAssociation:AccessPolicyAssociation",
                f"{name}-admin-{entry.key}",
                {
                    "clusterName": cluster_name,
                    "principalArn": access.output("principalArn"),
                    "policyArn": partition().apply(
                        lambda p: f"arn:{p}:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"
                    ),
                    "accessScope": {"type": "cluster"},
                },
                child,
            )
        self.cluster_security_group_id = self.eks.output("vpcConfig")["clusterSecurityGroupId"]
        self._bootstrap = pulumi.Output.all(
            cluster_name, self.eks.output("endpoint"), self.eks.output("certificateAuthority")["data"]
        )
        self.kubeconfig = self._bootstrap.apply(lambda args: kubeconfig(*args))
        self.provider = k8s.Provider(f"{name}-k8s", kubeconfig=self.kubeconfig, enable_server_side_apply=True, opts=child)
        self.register_outputs({"name": cluster_name, "endpoint": self.eks.output("endpoint")})

    def _addon(self, pin: AddonPin, depends_on: Sequence[pulumi.Resource] = ()) -> Registered:
        """A pinned add-on; one that calls AWS gets its own least-privilege Pod Identity role first."""
        needs = list(depends_on)
        if pin.service_account is not None:
            needs.append(self._pod_identity(pin))
        return Registered(
            "aws:eks/addon:Addon",
            f"{self._name}-{pin.name}",
            {
                "clusterName": self.eks.output("name"),
                "addonName": pin.name,
                "addonVersion": pin.version,
                "configurationValues": pin.configuration,
                "resolveConflictsOnCreate": "OVERWRITE",
                "resolveConflictsOnUpdate": "PRESERVE",
                "tags": self._tags,
            },
            pulumi.ResourceOptions(parent=self, depends_on=needs),
        )

    def _pod_identity(self, pin: AddonPin) -> Registered:
        assert pin.service_account is not None
        namespace, service_account = pin.service_account
        child = pulumi.ResourceOptions(parent=self)
        pod_role = role(
            f"{self._name}-{pin.name}-pod-identity",
            trust_policy("pods.eks.amazonaws.com", self.eks.output("arn")),
            self._tags,
            child,
        )
        attachment = attach_policy(
            f"{self._name}-{pin.name}-pod-identity", pod_role, managed_policy_arn(ADDON_POLICIES[pin.name]), child
        )
        return Registered(
            "aws:eks/podIdentityAssociation:PodIdentityAssociation",
            f"{self._name}-{pin.name}",
            {
                "clusterName": self.eks.output("name"),
                "namespace": namespace,
                "serviceAccount": service_account,
                "roleArn": pod_role.output("arn"),
                "tags": self._tags,
            },
            pulumi.ResourceOptions(parent=self, depends_on=[attachment]),
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
                f"{self._name}-api-from-{node_class}",
                self.cluster_security_group_id,
                group,
                f"Kubernetes API from {node_class} nodes",
                child,
                ports=(443, 443),
            )
            for low, high, what in (
                (443, 443, "webhooks on 443"),
                (10250, 10250, "kubelet"),
                (1025, 65535, "webhooks and metrics on pods"),
            ):
                allow_from_group(
                    f"{self._name}-{node_class}-from-api-{low}",
                    group,
                    self.cluster_security_group_id,
                    f"control plane to {node_class} nodes: {what}",
                    child,
                    ports=(low, high),
                )

    def node_user_data(self, pool: Pool, *, local_nvme_mount: str | None, hugepages: int | None) -> pulumi.Output[str]:
        """Base64 user data: per pool, since each registers with its own labels and taints."""
        flags = kubelet_flags(pool)
        service_cidr = self._plan.service_cidr.value

        def encoded(bootstrap: list[str]) -> str:
            cluster_name, endpoint, authority = bootstrap
            text = node_user_data(cluster_name, endpoint, authority, service_cidr, flags, local_nvme_mount, hugepages)
            return base64.b64encode(text.encode()).decode()

        return self._bootstrap.apply(encoded)


def kubeconfig(cluster_name: str, endpoint: str, certificate_authority: str) -> str:
    """A kubeconfig that asks the AWS CLI for a token, so no credential is stored in state."""
    return json.dumps(
        {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {"name": cluster_name, "cluster": {"server": endpoint, "certificate-authority-data": certificate_authority}}
            ],
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
