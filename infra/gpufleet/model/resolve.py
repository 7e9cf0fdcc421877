"""Join a loaded stack with the catalog: run every rule, then, if none failed, make every decision.

All rules run on every stack, so one run reports every problem; ``resolve`` raises
``StackInvalid`` with the errors, located. Warnings and notes travel on the plan.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

from gpufleet import mig
from gpufleet.catalog import Catalog
from gpufleet.findings import Finding, errors_in
from gpufleet.mig import MigPartedConfig, render_mig_parted_config
from gpufleet.model import decisions, iam, monitoring, subnets, topology
from gpufleet.model.aws import (
    AwsCluster,
    AwsRoles,
    ManagedAddonPlan,
    NodeGroupTag,
    PodIdentityPlan,
    ZoneChoice,
    decide_capacity_type,
    decide_node_update,
    plan_aws_cluster,
)
from gpufleet.model.cost import price_fleet
from gpufleet.model.kubernetes import KubernetesPlan
from gpufleet.model.kubernetes_decisions import controller_pools, kubernetes_plan
from gpufleet.model.plan import (
    AwsCloud,
    Cloud,
    ClusterPlan,
    ExistingCluster,
    ExistingNodes,
    Fabric,
    FleetPlan,
    LaunchedNodes,
    LocalNvmeTier,
    LustreTier,
    MigSetup,
    NetworkLayout,
    Pool,
    S3Tier,
    StorageTier,
    Taint,
)
from gpufleet.model.rules import PLAN_RULES, SEMANTIC_RULES
from gpufleet.model.security import security_plan
from gpufleet.model.validation import validation_plan
from gpufleet.model.view import StackView
from gpufleet.stack.loader import LoadedStack, StackInvalid
from gpufleet.stack.models import FsxLustreTierSpec, LocalNvmeTierSpec, NodePoolSpec, S3TierSpec


def resolve(loaded: LoadedStack, catalog: Catalog, *, replace_subnets: frozenset[str] = frozenset()) -> FleetPlan:
    """``replace_subnets``: pools that outgrew their recorded subnet and may get a new, larger one."""
    view = StackView(loaded, catalog, replace_subnets)
    findings = loaded.locator.locate(finding for semantic in SEMANTIC_RULES for finding in semantic.run(view))
    errors = errors_in(findings)
    if errors:
        raise StackInvalid(errors)
    plan = build_plan(view, tuple(findings))
    decided = loaded.locator.locate(finding for planned in PLAN_RULES for finding in planned.run(plan))
    if errors_in(decided):
        raise StackInvalid(errors_in(decided))
    return replace(plan, findings=(*plan.findings, *decided)) if decided else plan


def build_plan(view: StackView, findings: tuple[Finding, ...] = ()) -> FleetPlan:
    """The plan of a stack every rule passed; decisions may assume what the rules checked."""
    spec = view.spec
    fabrics = {name: Fabric(name, fabric.kind, view.location("fabrics", name)) for name, fabric in sorted(spec.fabrics.items())}
    mig_plans = {name: _fixed_mig_setup(view, name) for name in sorted(spec.mig_plans)}
    aws = _aws_foundation(view)
    zones = {name: decisions.zone_choice(view, pool) for name, pool in view.pools()} if aws else {}
    storage = {name: _storage_tier(view, name, aws, zones) for name in sorted(spec.storage)}
    pools = tuple(_pool(view, name, fabrics, storage, mig_plans, aws, zones) for name, _ in view.pools())
    used_demand = {pool.mig.name: pool.mig for pool in pools if pool.mig is not None and pool.mig.demand}
    # A demand plan exists on nodes only as packed for the pool that uses it.
    setups = tuple(used_demand.get(name, setup) for name, setup in mig_plans.items() if not setup.demand or name in used_demand)
    config = _mig_parted_config(view, setups)
    watched_pools = monitoring.watched(pools)
    operator_namespace = view.catalog.kubernetes.charts["gpu-operator"].namespace
    exporter = monitoring.exporter_config(spec.monitoring, operator_namespace, view.catalog) if watched_pools else None
    kubernetes = kubernetes_plan(
        cluster=spec.cluster.name,
        aws_region=aws.region if aws else None,
        kubernetes_version=spec.cluster.kubernetes_version,
        pools=pools,
        storage=tuple(storage.values()),
        fabrics=fabrics,
        queues=spec.queues,
        mig_config=config,
        exporter=exporter,
        catalog=view.catalog,
    )
    placement = topology.placement_plan(pools, view.catalog)
    kubernetes = topology.with_topologies(kubernetes, placement)
    watch = (
        monitoring.monitoring_plan(watched_pools, exporter, kubernetes, spec.monitoring, view.catalog, controller_pools(pools))
        if exporter is not None
        else None
    )
    validation = validation_plan(pools, kubernetes, placement, view.catalog, create=spec.validation.create)
    cloud: Cloud = _aws_cloud(view, aws, pools, fabrics, storage.values(), kubernetes) if aws else ExistingCluster()
    cluster = spec.cluster
    tiers = tuple(storage.values())
    catalog = view.catalog
    return FleetPlan(
        stack=view.loaded.name,
        source=view.loaded.locator.file,
        cluster=ClusterPlan(
            name=cluster.name,
            kubernetes_version=cluster.kubernetes_version,
            admins=cluster.admins,
            location=view.location("cluster"),
            cloud=cloud,
            monthly_budget_usd=cluster.monthly_budget_usd,
            production=cluster.production,
            may_replace=spec.may_replace,
        ),
        fabrics=fabrics,
        storage=tiers,
        mig_plans=setups,
        pools=pools,
        kubernetes=kubernetes,
        mig_config=config,
        cost=price_fleet(view.loaded.name, aws.region if aws else None, pools, tiers, catalog.prices, catalog.mig),
        validation=validation,
        monitoring=watch,
        placement=placement,
        queues=spec.queues,
        findings=findings,
    )


@dataclass(frozen=True)
class AwsFoundation:
    """What every AWS decision of a pool or tier builds on: the region, the EKS pins, the VPC layout."""

    region: str
    eks: AwsCluster
    network: NetworkLayout


def _aws_foundation(view: StackView) -> AwsFoundation | None:
    """The EKS pins and the VPC layout of a stack on AWS; None for an existing cluster."""
    spec = view.spec
    if not view.on_aws:
        return None
    network = subnets.network_layout(view)
    assert spec.network is not None and network is not None, "GF-STACK: provider aws needs a network"
    eks = plan_aws_cluster(spec.cluster, spec.network, view.catalog)
    assert eks is not None, "GF-AWS-004: the catalog pins the Kubernetes version"
    return AwsFoundation(spec.cluster.region or "", eks, network)


def _storage_tier(
    view: StackView,
    name: str,
    aws: AwsFoundation | None,
    zones: Mapping[str, ZoneChoice],
) -> StorageTier:
    tier = view.spec.storage[name]
    location = view.location("storage", name)
    if isinstance(tier, LocalNvmeTierSpec):
        return LocalNvmeTier(name, location, tier.mount_path)
    assert aws is not None, "GF-K8S-005: an existing cluster has local-nvme tiers only"
    region = aws.region
    if isinstance(tier, S3TierSpec):
        return S3Tier(
            name,
            location,
            protected=decisions.storage_protected(True, tier.allow_deletion),
            versioning=tier.versioning,
            key_policy=iam.key_policy("s3", region),
            bucket_policy=iam.deny_insecure_transport(),
            size_gb=tier.size_gb,
        )
    assert isinstance(tier, FsxLustreTierSpec)
    lustre = view.catalog.storage.fsx_lustre
    persistent = lustre.deployments[tier.deployment].persistent
    clients = [zones[pool_name].zones[0] for pool_name, pool in view.pools() if name in pool.storage and zones[pool_name].zones]
    return LustreTier(
        name,
        location,
        protected=decisions.storage_protected(persistent, tier.allow_deletion),
        persistent=persistent,
        fsx=decisions.fsx_options(tier, lustre, region),
        throughput_per_tib=tier.throughput_per_tib,
        throughput_mbs=lustre.throughput_mbs(tier.deployment, tier.capacity_tib, tier.throughput_per_tib),
        disk_throughput_mbs=lustre.disk_throughput_mbs(tier.capacity_tib, tier.throughput_per_tib),
        import_from=tier.import_from,
        subnet=decisions.file_system_subnet(name, clients, aws.network),
        client_ports=lustre.lnet_ports,
        namespaces=tier.namespaces,
    )


def _fixed_mig_setup(view: StackView, name: str) -> MigSetup:
    accelerator = view.mig_accelerator(name)
    assert accelerator is not None
    demand = view.demand_of(name)
    geometry = view.catalog.mig[accelerator.name]
    layouts = () if demand else decisions.fixed_mig_layouts(view, name)
    return MigSetup(
        name=name,
        accelerator=accelerator,
        geometry=geometry,
        label_value=name,
        device_layouts=layouts,
        placements=decisions.mig_placements(geometry, layouts),
        location=view.location("mig_plans", name),
        demand=demand,
    )


def _mig_parted_config(view: StackView, setups: Sequence[MigSetup]) -> MigPartedConfig:
    """Every MIG plan of the stack in one mig-parted config, each entry checked for its GPU."""
    return render_mig_parted_config(
        view.catalog, {setup.name: (setup.accelerator.name, setup.device_layouts) for setup in setups}
    )


def _pool(
    view: StackView,
    name: str,
    fabrics: Mapping[str, Fabric],
    storage: Mapping[str, StorageTier],
    mig_plans: Mapping[str, MigSetup],
    aws: AwsFoundation | None,
    zones: Mapping[str, ZoneChoice],
) -> Pool:
    pool = view.spec.node_pools[name]
    fabric = fabrics.get(pool.fabric) if pool.fabric else None
    location = view.location("node_pools", name)
    mounts = tuple(storage[tier] for tier in pool.storage)
    if aws is None:
        selector = dict(sorted((pool.node_selector or {}).items()))
        existing = ExistingNodes(
            node_selector=selector,
            gpus_per_node=pool.gpus_per_node or 0,
            vcpus=pool.cpus_per_node or 0,
            memory_gib=pool.memory_gib_per_node or 0,
        )
        accelerator = view.catalog.accelerator(pool.gpu) if pool.gpu else None
        taints = tuple(Taint(taint.key, taint.value, taint.effect) for taint in pool.taints or ())
        return Pool(
            name,
            pool.workload,
            existing,
            accelerator,
            pool.nodes,
            fabric,
            mounts,
            None,
            pool.models,
            pool.read_mbs_per_gpu,
            selector,
            taints,
            location,
            jobs=pool.jobs,
        )
    launched = _launched_nodes(view, name, pool, fabric, aws, zones[name])
    accelerator = view.catalog.accelerator_of(launched.instance)
    mig_setup = mig_plans.get(pool.mig) if pool.mig else None
    if mig_setup is not None and mig_setup.demand:
        packing = view.packing(mig_setup.name, name)
        assert isinstance(packing, mig.NodePacking), "GF-MIG: the demand packs onto the pool's nodes"
        layouts = decisions.packed_mig_layouts(packing)
        mig_setup = replace(mig_setup, device_layouts=layouts, placements=decisions.mig_placements(mig_setup.geometry, layouts))
    mig_capable = accelerator is not None and accelerator.name in view.catalog.mig
    return Pool(
        name,
        pool.workload,
        launched,
        accelerator,
        pool.nodes,
        fabric,
        mounts,
        mig_setup,
        pool.models,
        pool.read_mbs_per_gpu,
        labels=decisions.labels(
            name, pool, accelerator, mig_setup, mig_capable, launched.efa is not None, launched.gpus_per_node
        ),
        taints=decisions.taints(pool, accelerator),
        location=location,
        time_slicing_replicas=pool.sharing.time_slicing.replicas if pool.sharing else None,
        jobs=pool.jobs,
    )


def _launched_nodes(
    view: StackView, name: str, pool: NodePoolSpec, fabric: Fabric | None, aws: AwsFoundation, zone_choice: ZoneChoice
) -> LaunchedNodes:
    after = decisions.update_chain(view).get(name)
    instance = view.instance(pool)
    assert instance is not None, "GF-POOL: the instance type is in the catalog"
    accelerator = view.catalog.accelerator_of(instance)
    efa = decisions.efa_layout(instance) if decisions.uses_efa(view, pool) else None
    return LaunchedNodes(
        instance=instance,
        capacity=pool.capacity,
        capacity_type=decide_capacity_type(pool.capacity),
        efa=efa,
        placement=decisions.placement(
            pool, view.fabric(pool), len(zone_choice.zones), view.catalog.placement_groups.partitions_per_zone
        ),
        zones=zone_choice.zones,
        zone_reason=zone_choice.reason,
        subnets=decisions.pool_subnets(aws.network, name, zone_choice.zones),
        ami=decisions.ami(instance, accelerator, view.spec.cluster.kubernetes_version, aws.eks.ami_release.value),
        root_volume_gib=decisions.root_volume_gib(accelerator),
        security_groups=decisions.security_groups(pool.workload, fabric, efa),
        efa_hugepages=view.catalog.efa_host.hugepages_2mib if efa else None,
        update=decide_node_update(pool, accelerated=accelerator is not None, after=after),
    )


def _aws_cloud(
    view: StackView,
    aws: AwsFoundation,
    pools: Sequence[Pool],
    fabrics: Mapping[str, Fabric],
    storage: Iterable[StorageTier],
    kubernetes: KubernetesPlan,
) -> AwsCloud:
    """Everything gpufleet creates on AWS beside the pools and tiers: security groups, roles, and
    what the Kubernetes side's components need of AWS."""
    eks, network, region = aws.eks, aws.network, aws.region
    cluster = view.spec.cluster.name
    node_classes = tuple(sorted({pool.workload for pool in pools}))
    lustre = [
        (tier.name, tier.client_ports, tuple(sorted({p.workload for p in pools if any(t.name == tier.name for t in p.storage)})))
        for tier in storage
        if isinstance(tier, LustreTier)
    ]
    efa_fabrics = [fabric.name for fabric in fabrics.values() if fabric.security_group]
    roles = AwsRoles(
        control_plane=iam.control_plane_role(cluster),
        nodes={node_class: iam.node_role(cluster, node_class) for node_class in node_classes},
        addons={
            pin.name: iam.addon_role(cluster, pin.name, pin.service_account)
            for pin in eks.cluster_addons
            if pin.service_account is not None
        },
        flow_logs=iam.flow_logs_role("network"),
        secrets_key=iam.key_policy("eks", region),
    )
    return AwsCloud(
        region=region,
        eks=eks,
        network=network,
        security=security_plan(cluster, str(network.vpc_cidr), node_classes, efa_fabrics, lustre, eks.private_access_cidrs),
        roles=roles,
        services=_cluster_services(view, eks, kubernetes),
        node_group_tags=tuple(
            NodeGroupTag("cluster-autoscaler", group.pool, key, value)
            for group in (kubernetes.autoscaler.groups if kubernetes.autoscaler else ())
            for key, value in group.tags.items()
        ),
    )


def _cluster_services(
    view: StackView, eks: AwsCluster, kubernetes: KubernetesPlan
) -> tuple[PodIdentityPlan | ManagedAddonPlan, ...]:
    """The AWS side of Kubernetes components: the EBS CSI add-on behind the default storage class,
    and the Cluster Autoscaler's own role."""
    facts = view.catalog.kubernetes
    ebs = facts.storage
    ebs_pin = eks.addon(ebs.ebs_addon)
    assert ebs_pin.service_account is not None
    services: list[PodIdentityPlan | ManagedAddonPlan] = [
        ManagedAddonPlan(
            serves="storage",
            pin=ebs_pin,
            role=iam.RolePlan(
                ebs.ebs_addon,
                iam.pod_identity_trust(*ebs_pin.service_account),
                ((ebs.ebs_addon, ebs.ebs_policy),),
                reason="the EBS CSI driver creates and attaches volumes: its own role, not the node role",
            ),
            reason="EKS runs the EBS CSI driver that provisions the default gp3 class",
        )
    ]
    autoscaler = kubernetes.autoscaler
    if autoscaler is not None:
        scaler = facts.autoscaler
        services.append(
            PodIdentityPlan(
                serves="cluster-autoscaler",
                role=iam.RolePlan(
                    "cluster-autoscaler",
                    iam.pod_identity_trust(autoscaler.release.namespace, autoscaler.service_account),
                    inline=iam.scaling_policy(scaler.describe_actions, scaler.scaling_actions, autoscaler.owner_tag),
                    reason="describe calls anywhere; scaling calls only on the groups tagged for this cluster",
                ),
                namespace=autoscaler.release.namespace,
                service_account=autoscaler.service_account,
            )
        )
    return tuple(services)
