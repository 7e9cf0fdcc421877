"""AWS decisions that are the cluster's, not one pool's: pins, service CIDR, endpoint, admins, zones.

Each decision keeps its reason beside it, so ``validate --json`` and the preview can say why.
Renderers read these objects and decide nothing.
"""

from __future__ import annotations

import hashlib
import json
import re
import string
from collections.abc import Sequence
from dataclasses import dataclass, field
from ipaddress import IPv4Network

from gpufleet.catalog import Catalog
from gpufleet.catalog.eks import CORE_ADDONS, ZoneOffering, addon_version_numbers
from gpufleet.model.iam import PolicyDocument, RolePlan
from gpufleet.model.reasons import Decision
from gpufleet.stack.models import Capacity, ClusterSpec, EndpointAccessSpec, NetworkSpec, NodePoolSpec

ZONE_ID = re.compile(r"[a-z]{2,}[a-z]*[0-9]-az([0-9]+)\Z")
# Add-ons whose pods need a node to run on: created after the node groups, or they time out DEGRADED.
ADDONS_NEEDING_NODES = frozenset({"coredns"})
VPC_CNI_SERVICE_ACCOUNT = ("kube-system", "aws-node")


def is_zone_id(zone: str) -> bool:
    return ZONE_ID.match(zone) is not None


def zone_index(zone: str, region: str) -> int:
    """A zone's fixed place in the VPC's address plan: its letter (us-east-1c is 2) or id number
    (use1-az3 is 2). It depends on the zone alone, so adding, removing or reordering zones in the
    stack never moves another zone's subnets."""
    found = ZONE_ID.match(zone)
    if found:
        return int(found.group(1)) - 1
    suffix = zone.removeprefix(region)
    return ord(suffix) - ord("a") if len(suffix) == 1 and suffix in string.ascii_lowercase else -1


@dataclass(frozen=True)
class NodeUpdate:
    """How EKS replaces a pool's nodes when its launch template changes."""

    strategy: str
    """``DEFAULT`` launches a surge node before draining one; ``MINIMAL`` replaces nodes in place."""
    reason: str
    max_unavailable: int = 1
    """Nodes replaced at once: one, so a training job loses at most one node to an update."""
    after: str | None = None
    """The pool whose node group this one's waits for: accelerated pools roll one at a time."""

    @property
    def surges(self) -> bool:
        return self.strategy == "DEFAULT"


# EKS managed node groups take ON_DEMAND, SPOT or CAPACITY_BLOCK; a targeted reservation is
# on-demand capacity that the launch template points at.
NODE_GROUP_CAPACITY = {"on-demand": "ON_DEMAND", "spot": "SPOT", "capacity-block": "CAPACITY_BLOCK", "reservation": "ON_DEMAND"}


def decide_capacity_type(capacity: Capacity) -> Decision:
    """The node group's capacityType for the capacity the stack asks for."""
    value = NODE_GROUP_CAPACITY[capacity.type]
    if capacity.type == "reservation":
        return Decision(value, "a targeted reservation is on-demand capacity; the launch template names the reservation")
    return Decision(value, f"capacity {capacity.type}")


def decide_node_update(pool: NodePoolSpec, *, accelerated: bool, after: str | None = None) -> NodeUpdate:
    """How a pool's nodes are replaced, and (``after``) which pool's roll it waits for."""
    chained = f"; rolls after pool {after}'s, one accelerated pool at a time" if after else ""
    if pool.capacity.type == "capacity-block":
        return NodeUpdate(
            "MINIMAL",
            "a capacity block holds exactly its instances, so a surge node can never launch: nodes are replaced in "
            "place. At block start nothing launches by itself: raise desired (or let the autoscaler) up to the "
            "block's count; about 40 minutes before the end EKS scales the group to 0 and EC2 stops instances 30 "
            "minutes before it. pulumi up leaves desired size alone, so it never fights either. EKS asks for "
            "desired size 0 before a Capacity Block node group is upgraded: set it to 0 (aws eks "
            "update-nodegroup-config) before an edit that changes its nodes (AMI, Kubernetes version, labels)" + chained,
            after=after,
        )
    if pool.capacity.type == "reservation" and pool.nodes.min == pool.nodes.max:
        return NodeUpdate(
            "MINIMAL",
            "the reservation is sized exactly to the pool (min = max): a surge node would land outside it, so nodes "
            "are replaced in place" + chained,
            after=after,
        )
    if accelerated:
        return NodeUpdate(
            "MINIMAL",
            "accelerated nodes are replaced in place: a surge GPU node may not exist (and costs a whole node), and in "
            "a cluster placement group a capacity error fails the update" + chained,
            after=after,
        )
    return NodeUpdate("DEFAULT", "on-demand or spot capacity: a surge node joins before an old one drains")


@dataclass(frozen=True)
class AddonPin:
    name: str
    version: str
    needs_nodes: bool
    configuration: str | None = None
    service_account: tuple[str, str] | None = None
    """Namespace and service account that get the add-on's own Pod Identity role."""
    serves: str | None = None
    """The Kubernetes component the add-on is rendered beside (the EBS CSI driver: ``storage``);
    None: the cluster renders it."""


@dataclass(frozen=True)
class AdminEntry:
    principal: str
    key: str
    """Logical-name part derived from the principal alone: the list's order never re-points an entry."""
    access_policy: str = "AmazonEKSClusterAdminPolicy"
    """The EKS access policy the entry is associated with, cluster-wide."""


@dataclass(frozen=True)
class AwsRoles:
    """Every IAM role and key policy of the cluster itself (the tiers carry their own keys)."""

    control_plane: RolePlan
    nodes: dict[str, RolePlan] = field(hash=False)
    """Workload class -> its node role."""
    addons: dict[str, RolePlan] = field(hash=False)
    """Add-on -> its own Pod Identity role, for add-ons that call AWS."""
    flow_logs: RolePlan
    secrets_key: PolicyDocument


@dataclass(frozen=True)
class PodIdentityPlan:
    """A Kubernetes component's service account with its own IAM role through EKS Pod Identity."""

    serves: str
    """The Kubernetes component it belongs to, whose resources it is rendered beside."""
    role: RolePlan
    namespace: str
    service_account: str


@dataclass(frozen=True)
class ManagedAddonPlan:
    """An EKS add-on that runs a Kubernetes component's driver, with its own Pod Identity role."""

    serves: str
    pin: AddonPin
    role: RolePlan
    reason: str

    @property
    def addon(self) -> str:
        return self.pin.name


ClusterService = PodIdentityPlan | ManagedAddonPlan


@dataclass(frozen=True)
class NodeGroupTag:
    """A tag on the Auto Scaling group behind a pool's node group (EKS copies no labels there)."""

    serves: str
    """The Kubernetes component that reads it (the Cluster Autoscaler)."""
    pool: str
    key: str
    value: str


@dataclass(frozen=True)
class DeployPath:
    """How ``pulumi up`` reaches the Kubernetes API it creates objects through."""

    value: str
    """``public``, ``connected`` or ``in-vpc``."""
    reason: str
    refused: str | None = None
    """Set when the deployer could not reach the API: the message of the rule that refuses it."""


@dataclass(frozen=True)
class AwsCluster:
    service_cidr: Decision
    ami_release: Decision
    addons: tuple[AddonPin, ...]
    admins: tuple[AdminEntry, ...]
    bootstrap_admin: Decision
    public_access_cidrs: tuple[str, ...]
    log_types: tuple[str, ...]
    imds_hop_limit: Decision
    private_access_cidrs: tuple[str, ...] = ()
    """Connected networks the cluster security group admits on 443."""
    deploy_path: DeployPath = DeployPath("in-vpc", "")
    deployer: str | None = None
    """The principal that runs ``pulumi up``, when the stack names it."""

    @property
    def endpoint(self) -> str:
        reach = ["the VPC"]
        if self.private_access_cidrs:
            reach.append("connected networks " + ", ".join(self.private_access_cidrs))
        if not self.public_access_cidrs:
            return f"private (reachable from {' and '.join(reach)} only)"
        return f"private (from {' and '.join(reach)}) and public from " + ", ".join(self.public_access_cidrs)

    def addon(self, name: str) -> AddonPin:
        return next(pin for pin in self.addons if pin.name == name)

    @property
    def cluster_addons(self) -> tuple[AddonPin, ...]:
        """The add-ons the cluster itself renders; the others go beside the component they serve."""
        return tuple(pin for pin in self.addons if pin.serves is None)

    def summary(self) -> dict[str, object]:
        return {
            "service_cidr": {"value": self.service_cidr.value, "reason": self.service_cidr.reason},
            "ami_release": {"value": self.ami_release.value, "reason": self.ami_release.reason},
            "addons": {pin.name: pin.version for pin in self.addons},
            "endpoint": self.endpoint,
            "deploy_path": {"value": self.deploy_path.value, "reason": self.deploy_path.reason},
            "deployer": self.deployer,
            "log_types": list(self.log_types),
            "bootstrap_admin": {"value": self.bootstrap_admin.value, "reason": self.bootstrap_admin.reason},
            "admins": [entry.principal for entry in self.admins],
            "imds_hop_limit": {"value": self.imds_hop_limit.value, "reason": self.imds_hop_limit.reason},
        }


def choose_service_cidr(vpc: IPv4Network, catalog: Catalog) -> Decision:
    """The first of the ranges EKS itself picks from that misses the VPC."""
    candidates = catalog.eks.control_plane.service_cidrs
    for candidate in candidates:
        if not candidate.overlaps(vpc):
            default = candidate == candidates[0]
            why = "EKS's usual range" if default else f"{candidates[0]} overlaps the VPC {vpc}"
            return Decision(str(candidate), f"{why}; services must not share addresses with the VPC")
    raise ValueError(f"every service CIDR candidate overlaps {vpc}")  # a /16 cannot overlap two disjoint /16s


def admin_key(principal: str) -> str:
    """``role-platform-admin-1a2b3c``: readable, and unique per ARN (accounts and paths differ)."""
    kind, _, path = principal.split(":", 5)[5].partition("/")
    tail = re.sub(r"[^a-z0-9-]+", "-", path.rsplit("/", 1)[-1].lower()).strip("-")[:32]
    return f"{kind}-{tail}-{hashlib.sha256(principal.encode()).hexdigest()[:6]}"


def decide_bootstrap_admin(cluster: ClusterSpec) -> Decision:
    """EKS makes the deployer a cluster-admin only when the stack says so, or names no admin at all."""
    if cluster.bootstrap_admin is not None:
        return Decision(str(cluster.bootstrap_admin).lower(), "set in the stack (cluster.bootstrap_admin)")
    if cluster.admins:
        return Decision("false", "the admins listed are the only cluster-admins: none is hidden from the spec")
    return Decision(
        "true",
        "no admin is listed: the deployer becomes cluster-admin so someone can administer the cluster; list admins to turn it off",
    )


def decide_deploy_path(cluster: str, endpoint: EndpointAccessSpec) -> DeployPath:
    """Where ``pulumi up`` runs decides how its Kubernetes provider reaches the API (EKS UG
    cluster-endpoint): the public endpoint only from its CIDRs, the private one only from the VPC
    or a connected network whose CIDR the cluster security group admits on 443."""
    public, private = endpoint.public_cidrs, endpoint.private_cidrs
    chosen = endpoint.deploy_from
    stated = "set in the stack (cluster.endpoint.deploy_from)"
    if chosen is None:
        chosen = "public" if public else "connected" if private else None
        stated = f"{chosen} because cluster.endpoint.{'public' if public else 'private'}_cidrs are listed"
    if chosen is None:
        return DeployPath(
            "unreachable",
            "the endpoint is private and no connected network is listed",
            refused="the API endpoint is private to the VPC and nothing says where pulumi up runs: its Kubernetes "
            "objects would time out. List the deployer's addresses under public_cidrs, its connected network "
            "under private_cidrs, or set deploy_from: in-vpc",
        )
    if chosen == "public":
        if not public:
            return DeployPath(chosen, stated, refused="deploy_from: public needs the deployer's addresses in public_cidrs")
        return DeployPath(chosen, f"{stated}: pulumi up reaches the public endpoint from {', '.join(map(str, public))}")
    if chosen == "connected":
        if not private:
            return DeployPath(chosen, stated, refused="deploy_from: connected needs the deployer's network in private_cidrs")
        return DeployPath(
            chosen,
            f"{stated}: the cluster security group admits {', '.join(map(str, private))} on 443; that network must "
            "route to the VPC (VPN, Direct Connect, peering or Transit Gateway, which gpufleet does not create) "
            "before the Kubernetes objects deploy",
        )
    return DeployPath(
        chosen,
        f"{stated}: pulumi up runs inside the VPC, which a new stack has not created yet: create the AWS side "
        f"first from anywhere, leaving out the Kubernetes provider {cluster}-k8s and what depends on it (pulumi up "
        "--exclude <its URN> --exclude-dependents), then run pulumi up from inside",
    )


def vpc_cni_configuration(catalog: Catalog) -> str:
    """A small warm pool instead of a whole spare interface of addresses per node."""
    cni = catalog.eks.vpc_cni
    env = {"MINIMUM_IP_TARGET": str(cni.minimum_ip_target), "WARM_IP_TARGET": str(cni.warm_ip_target)}
    return json.dumps({"env": env}, sort_keys=True)


def plan_aws_cluster(cluster: ClusterSpec, network: NetworkSpec, catalog: Catalog) -> AwsCluster | None:
    """None when the catalog pins nothing for the Kubernetes version (a rule reports it)."""
    pins = catalog.eks.kubernetes_versions.get(cluster.kubernetes_version)
    if pins is None:
        return None
    if cluster.ami_release is not None:
        release = Decision(cluster.ami_release, "set in the stack (cluster.ami_release)")
    else:
        release = Decision(
            pins.ami_release,
            f"catalog pin for Kubernetes {cluster.kubernetes_version}; set cluster.ami_release to keep it across gpufleet upgrades",
        )
    addons = tuple(
        AddonPin(
            name=name,
            version=pins.addons[name],
            needs_nodes=name in ADDONS_NEEDING_NODES,
            configuration=vpc_cni_configuration(catalog) if name == "vpc-cni" else None,
            service_account=VPC_CNI_SERVICE_ACCOUNT if name == "vpc-cni" else None,
        )
        for name in CORE_ADDONS
    )
    storage = catalog.kubernetes.storage
    addons += (
        AddonPin(
            name=storage.ebs_addon,
            version=pins.addons[storage.ebs_addon],
            needs_nodes=True,
            service_account=(storage.ebs_namespace, storage.ebs_service_account),
            serves="storage",
        ),
    )
    return AwsCluster(
        service_cidr=choose_service_cidr(network.vpc_cidr, catalog),
        ami_release=release,
        addons=addons,
        admins=tuple(AdminEntry(principal, admin_key(principal)) for principal in dict.fromkeys(cluster.admins)),
        bootstrap_admin=decide_bootstrap_admin(cluster),
        public_access_cidrs=tuple(str(cidr) for cidr in cluster.endpoint.public_cidrs),
        private_access_cidrs=tuple(str(cidr) for cidr in cluster.endpoint.private_cidrs),
        deploy_path=decide_deploy_path(cluster.name, cluster.endpoint),
        deployer=cluster.deployer,
        log_types=tuple(dict.fromkeys(cluster.log_types)),
        imds_hop_limit=Decision(
            "1",
            "pods get AWS credentials from EKS Pod Identity, never from the node's instance profile; "
            "hop limit 1 keeps IMDS out of reach of pods that are not on the host network",
        ),
    )


def vpc_cni_supports_efa_only(version: str, minimum: str) -> bool:
    return addon_version_numbers(version) >= addon_version_numbers(minimum)


@dataclass(frozen=True)
class ZoneChoice:
    zones: tuple[str, ...]
    reason: str
    refused: str | None = None
    """Set when a zone the stack pins does not offer the type: the message for the rule."""


def offered_in(zone: str, region: str, offering: ZoneOffering) -> bool:
    return zone in offering.ids if is_zone_id(zone) else zone.removeprefix(region) in offering.names


def choose_zones(
    catalog: Catalog,
    region: str,
    network_zones: Sequence[str],
    instance_type: str,
    *,
    pinned: str | None,
    reserved: bool,
    single_zone: bool,
) -> ZoneChoice:
    """Zones for one pool: the pinned or reserved zone, else the network's zones that offer the type.

    Zone names map to physical zones per account, zone ids do not: a check by id is exact, a check
    by name holds for the account AWS's published offerings came from; the reason says which.
    """
    offering = catalog.zone_offerings.zones_offering(region, instance_type)
    if reserved and pinned is not None:
        return ZoneChoice((pinned,), "the reservation's zone: the capacity exists there whatever the public offerings say")
    if offering is None:
        zones = (pinned,) if pinned else tuple(network_zones[:1] if single_zone else network_zones)
        return ZoneChoice(zones, f"the catalog has no zone offerings for {region}; zones are not checked")
    if pinned is not None:
        if offered_in(pinned, region, offering):
            return ZoneChoice((pinned,), f"set in the spec; {instance_type} is offered there, checked {zone_check(pinned)}")
        return ZoneChoice(
            (pinned,),
            "set in the spec",
            refused=f"{pinned} does not offer {instance_type} (checked {zone_check(pinned)}); {_offered(region, offering)}",
        )
    offering_zones = tuple(zone for zone in network_zones if offered_in(zone, region, offering))
    if not offering_zones:
        return ZoneChoice(
            tuple(network_zones[:1]),
            "no zone offers the type",
            refused=f"none of the network's zones ({', '.join(network_zones)}) offers {instance_type}; {_offered(region, offering)}",
        )
    checked = zone_check(offering_zones[0])
    if single_zone:
        return ZoneChoice(offering_zones[:1], f"the first network zone that offers {instance_type}, checked {checked}")
    skipped = [zone for zone in network_zones if zone not in offering_zones]
    note = f" ({', '.join(skipped)} left out: not offered)" if skipped else ""
    return ZoneChoice(offering_zones, f"every network zone that offers {instance_type}{note}, checked {checked}")


def zone_check(zone: str) -> str:
    """How a zone was checked against the offerings: ids are exact, names hold for one account."""
    return "by zone id, exactly" if is_zone_id(zone) else "by zone name, as AWS published it for one account"


def _offered(region: str, offering: ZoneOffering) -> str:
    if not offering.ids:
        return f"{region} offers it in no zone"
    return f"{region} offers it in {', '.join(region + letter for letter in offering.names)} (ids {', '.join(offering.ids)})"
