"""The EKS control plane, the roles nodes run as, pinned core add-ons, and a Kubernetes provider."""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping, Sequence
from importlib import resources

import jinja2
import pulumi
import pulumi_kubernetes as k8s

from gpufleet.model import security
from gpufleet.model.aws import AddonPin
from gpufleet.model.plan import AwsCloud, ClusterPlan, Pool
from gpufleet.render.aws.iam import role_of
from gpufleet.render.aws.policies import eks_access_policy_arn, policy
from gpufleet.render.aws.security import rules_of
from gpufleet.render.aws.tags import tags
from gpufleet.render.resources import Registered

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
        cloud: AwsCloud,
        subnet_ids: Sequence[pulumi.Input[str]],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("gpufleet:aws:Cluster", name, None, opts)
        plan = cloud.eks
        self._name = name
        self._plan = plan
        self._cloud = cloud
        self._tags = tags(name)
        child = pulumi.ResourceOptions(parent=self)
        control_plane_role, granted = role_of(cloud.roles.control_plane, self._tags, child)
        secrets_key = Registered(
            "aws:kms/key:Key",
            f"{name}-secrets",
            {
                "description": f"{name} Kubernetes secrets envelope encryption",
                "enableKeyRotation": True,
                "policy": policy(cloud.roles.secrets_key),
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
            pulumi.ResourceOptions(parent=self, depends_on=granted),
            outputs=("arn", "endpoint", "certificateAuthority"),
        )
        self.node_roles: dict[str, Registered] = {}
        self.node_role_ready: list[pulumi.Resource] = []
        for node_class, node_role_plan in cloud.roles.nodes.items():
            node_role, ready = role_of(node_role_plan, tags(name, **{"gpufleet:workload": node_class}), child)
            self.node_roles[node_class] = node_role
            self.node_role_ready += ready
        self.addons = {pin.name: self._addon(pin) for pin in plan.cluster_addons if not pin.needs_nodes}
        cluster_name = self.eks.output("name")
        self.access_ready: list[pulumi.Resource] = []
        """The admins' access policy associations: what the deployer's Kubernetes access waits for."""
        for entry in plan.admins:
            access = Registered(
                "aws:eks/accessEntry:AccessEntry",
                f"{name}-admin-{entry.key}",
                {"clusterName": cluster_name, "principalArn": entry.principal, "type": "STANDARD"},
                child,
            )
            self.access_ready.append(
                Registered(
                    "aws:eks/accessPolicyAssociation:AccessPolicyAssociation",
                    f"{name}-admin-{entry.key}",
                    {
                        "clusterName": cluster_name,
                        "principalArn": access.output("principalArn"),
                        "policyArn": eks_access_policy_arn(entry.access_policy),
                        "accessScope": {"type": "cluster"},
                    },
                    child,
                )
            )
        self.cluster_security_group_id = self.eks.output("vpcConfig")["clusterSecurityGroupId"]
        self._bootstrap = pulumi.Output.all(
            cluster_name, self.eks.output("endpoint"), self.eks.output("certificateAuthority")["data"]
        )
        self.kubeconfig = self._bootstrap.apply(lambda args: kubeconfig(*args))
        # Every Kubernetes object goes through this provider, so each waits for the deployer's access
        # (an admin's entry and policy association): without it EKS answers 401/403.
        self.provider = k8s.Provider(
            f"{name}-k8s",
            kubeconfig=self.kubeconfig,
            enable_server_side_apply=True,
            opts=pulumi.ResourceOptions(parent=self, depends_on=self.access_ready),
        )
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
        pod_role, granted = role_of(self._cloud.roles.addons[pin.name], self._tags, child, trusted_arn=self.eks.output("arn"))
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
            pulumi.ResourceOptions(parent=self, depends_on=granted),
        )

    def add_node_addons(self, nodes: Sequence[pulumi.Resource]) -> None:
        """Add-ons whose pods need a node (CoreDNS) wait for the node groups, or they time out DEGRADED."""
        for pin in self._plan.cluster_addons:
            if pin.needs_nodes:
                self.addons[pin.name] = self._addon(pin, nodes)

    def allow_nodes(self, node_security_groups: Mapping[str, pulumi.Input[str]]) -> None:
        """The plan's rules between the control plane and each node class (EKS security group guide)."""
        groups = {security.nodes(node_class): group for node_class, group in node_security_groups.items()}
        groups[security.CONTROL_PLANE] = self.cluster_security_group_id
        rules_of(self._cloud.security.owned_by("cluster"), groups, pulumi.ResourceOptions(parent=self))

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
