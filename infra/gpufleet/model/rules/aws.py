"""What AWS or EKS would refuse, or deploy wrong, in a stack that is otherwise valid (issue 8).

Each rule reads the decisions in ``model.aws`` and ``model.decisions`` (the zones a pool would
get, the taints it would carry) and never decides itself.
"""

from __future__ import annotations

from ipaddress import IPv4Network

from gpufleet.model import decisions
from gpufleet.model.aws import choose_zones, is_zone_id, vpc_cni_supports_efa_only
from gpufleet.model.rules.registry import Problems, rule, unknown
from gpufleet.model.view import StackView
from gpufleet.stack.models import FsxLustreTierSpec, NetworkSpec

OPEN_INTERNET = IPv4Network("0.0.0.0/0")


def _aws_network(view: StackView) -> NetworkSpec | None:
    return view.spec.network if view.on_aws else None


@rule(
    "GF-AWS-001",
    "error",
    "EKS cluster subnets need at least two Availability Zones.",
    "List a second zone under network.availability_zones; a pool can still stay in one zone.",
)
def cluster_zones(view: StackView) -> Problems:
    network = _aws_network(view)
    needed = view.catalog.eks.control_plane.min_zones
    if network is not None and len(set(network.availability_zones)) < needed:
        yield (
            ("network", "availability_zones"),
            (
                f"EKS needs cluster subnets in at least {needed} Availability Zones; "
                f"{', '.join(network.availability_zones)} is {len(set(network.availability_zones))}"
            ),
        )


@rule(
    "GF-AWS-014",
    "error",
    "A region the catalog has no zone offerings for.",
    "Use an AWS region listed in the catalog's aws_zones.yaml, or add the region's offerings there.",
)
def region_known(view: StackView) -> Problems:
    region, regions = view.spec.cluster.region, view.catalog.zone_offerings.regions
    if view.on_aws and region is not None and region not in regions:
        yield ("cluster", "region"), unknown("AWS region", region, regions)


@rule("GF-AWS-015", "error", "An admin listed twice, maybe in another case.", "List each IAM principal once.")
def admins_once(view: StackView) -> Problems:
    # IAM names are unique regardless of case, so two spellings are one principal (and one access entry).
    first: dict[str, int] = {}
    admins = view.spec.cluster.admins
    for index, arn in enumerate(admins):
        earlier = admins[first.setdefault(arn.lower(), index)]
        if first[arn.lower()] != index:
            same = "" if earlier == arn else f" ('{earlier}' differs only in case; IAM names ignore case)"
            yield ("cluster", "admins", index), f"admin '{arn}' is listed twice{same}"


@rule(
    "GF-AWS-002",
    "error",
    "A zone EKS does not support for control planes.",
    "Replace the zone with another of the region's zones.",
)
def control_plane_zones(view: StackView) -> Problems:
    network = _aws_network(view)
    unsupported = view.catalog.eks.control_plane.unsupported_zone_ids
    for index, zone in enumerate(network.availability_zones if network else ()):
        if zone in unsupported:
            yield (
                ("network", "availability_zones", index),
                f"EKS does not place control planes in {zone} (unsupported: {', '.join(unsupported)})",
            )


@rule(
    "GF-AWS-013",
    "error",
    "A zone id that is not in the cluster's region.",
    "Zone ids carry the region's short code: use1-az4 for us-east-1.",
)
def zone_ids_in_region(view: StackView) -> Problems:
    network, region = _aws_network(view), view.spec.cluster.region
    if network is None or region is None:
        return
    offerings = view.catalog.zone_offerings.regions.get(region, {}).values()
    known = {zone_id.split("-az")[0] for offering in offerings for zone_id in offering.ids}
    for index, zone in enumerate(network.availability_zones):
        if is_zone_id(zone) and known and zone.split("-az")[0] not in known:
            yield (
                ("network", "availability_zones", index),
                f"zone id '{zone}' is not in region '{region}' (its zone ids start {sorted(known)[0]}-az)",
            )


@rule(
    "GF-AWS-004",
    "error",
    "A Kubernetes version the catalog pins no add-ons or AMI for.",
    "Use a version listed in the catalog's eks.yaml.",
)
def kubernetes_pins(view: StackView) -> Problems:
    version = view.spec.cluster.kubernetes_version
    if view.on_aws and version not in view.catalog.eks.kubernetes_versions:
        pinned = ", ".join(sorted(view.catalog.eks.kubernetes_versions))
        yield (
            ("cluster", "kubernetes_version"),
            f"the catalog pins no add-on versions or AMI release for Kubernetes {version} (pinned: {pinned})",
        )


@rule(
    "GF-AWS-005",
    "error",
    "A zone that does not offer the pool's instance type.",
    "Pin a zone that offers the type, or leave availability_zone unset so gpufleet picks one.",
)
def zone_offers_type(view: StackView) -> Problems:
    if not view.zones:
        return
    for name, pool in view.pools():
        instance = view.instance(pool)
        chosen = decisions.pool_zone_choice(pool)
        if instance is None or (chosen is not None and chosen not in view.zones):
            continue
        choice = choose_zones(
            view.catalog,
            view.spec.cluster.region or "",
            view.zones,
            instance.name,
            pinned=chosen,
            reserved=pool.capacity.availability_zone is not None,
            single_zone=decisions.single_zone(view, pool),
        )
        if choice.refused:
            where = ("node_pools", name, "availability_zone") if pool.availability_zone else ("node_pools", name, "instance_type")
            yield where, choice.refused


@rule(
    "GF-AWS-007",
    "warning",
    "The deployer becomes a cluster-admin that the spec does not show.",
    "Set bootstrap_admin: false and list the deployer under admins.",
)
def hidden_admin(view: StackView) -> Problems:
    cluster = view.spec.cluster
    if view.on_aws and cluster.bootstrap_admin and cluster.admins:
        yield (
            ("cluster", "bootstrap_admin"),
            (
                "whoever runs the first pulumi up becomes a permanent cluster-admin that neither the spec nor "
                "resources.json shows; listing that principal under admins as well fails with 409 ResourceInUse"
            ),
        )


@rule(
    "GF-AWS-008",
    "warning",
    "The EKS API endpoint is open to the whole internet.",
    "List your own CIDRs under cluster.endpoint.public_cidrs.",
)
def open_endpoint(view: StackView) -> Problems:
    for index, cidr in enumerate(view.spec.cluster.endpoint.public_cidrs):
        if cidr == OPEN_INTERNET:
            yield ("cluster", "endpoint", "public_cidrs", index), "0.0.0.0/0 opens the Kubernetes API to the whole internet"


@rule(
    "GF-AWS-009",
    "error",
    "The pinned VPC CNI is older than EFA-only interfaces need.",
    "Pin a newer vpc-cni for this Kubernetes version in eks.yaml.",
)
def cni_for_efa(view: StackView) -> Problems:
    pins = view.catalog.eks.kubernetes_versions.get(view.spec.cluster.kubernetes_version)
    minimum = view.catalog.efa_host.vpc_cni_min_version
    uses_efa = any(decisions.uses_efa(view, pool) for _, pool in view.pools())
    if view.on_aws and uses_efa and pins is not None and not vpc_cni_supports_efa_only(pins.addons["vpc-cni"], minimum):
        yield (
            ("cluster", "kubernetes_version"),
            f"vpc-cni {pins.addons['vpc-cni']} is older than {minimum}, which EFA-only interfaces need",
        )


@rule(
    "GF-AWS-010",
    "error",
    "A reservation's placement group does not fit the pool.",
    "capacity.placement_group names a cluster placement group the reservation was created in.",
)
def reservation_placement_group(view: StackView) -> Problems:
    for name, pool in view.pools():
        group, instance = pool.capacity.placement_group, view.instance(pool)
        if group is None or instance is None:
            continue
        if pool.placement not in (None, "cluster"):
            yield (
                ("node_pools", name, "placement"),
                f"capacity.placement_group names a cluster placement group, not {pool.placement}",
            )
        if "cluster" not in instance.placement_strategies:
            yield (
                ("node_pools", name, "capacity", "placement_group"),
                f"{instance.name} does not support cluster placement groups",
            )


@rule(
    "GF-AWS-011",
    "warning",
    "A capacity-block pool whose minimum is above zero.",
    "Set nodes.min: 0 (EKS scales the group to zero before the block ends) and raise desired when the block starts.",
)
def capacity_block_minimum(view: StackView) -> Problems:
    for name, pool in view.pools():
        if pool.capacity.type == "capacity-block" and pool.nodes.min > 0:
            yield (
                ("node_pools", name, "nodes", "min"),
                (
                    f"EKS scales a capacity-block group to zero about 40 minutes before the block ends; with min "
                    f"{pool.nodes.min} the next pulumi up would fight it, and the group cannot be created at "
                    f"{pool.nodes.min} before the block is active: use min: 0"
                ),
            )


@rule(
    "GF-AWS-012",
    "error",
    "Backups on a SCRATCH_2 file system, which FSx does not back up.",
    "Drop backup_retention_days or use a persistent deployment.",
)
def scratch_backups(view: StackView) -> Problems:
    for name, tier in view.spec.storage.items():
        if isinstance(tier, FsxLustreTierSpec) and tier.deployment == "SCRATCH_2" and tier.backup_retention_days:
            yield ("storage", name, "backup_retention_days"), "SCRATCH_2 file systems have no backups; FSx refuses a retention"


@rule(
    "GF-AWS-003",
    "error",
    "No untainted node for the cluster add-ons (CoreDNS).",
    "Add a pool with workload: system and nodes.min >= 1.",
)
def addon_nodes(view: StackView) -> Problems:
    """While a pool's instance type is unknown its taints are too, and the rule says nothing."""
    if not view.on_aws:
        return
    pools = [(pool, view.instance(pool)) for _, pool in view.pools()]
    known = [(pool, instance) for pool, instance in pools if instance is not None]
    if len(known) < len(pools):
        return
    if not any(
        not decisions.taints(pool, view.catalog.accelerator_of(instance)) and pool.nodes.min >= 1 for pool, instance in known
    ):
        yield (
            ("node_pools",),
            (
                "every pool is tainted or may scale to zero, so CoreDNS has nowhere to run and its add-on times "
                "out DEGRADED: add a pool with workload: system and nodes.min >= 1"
            ),
        )
