"""Join a loaded stack with the catalog: run every rule, then, if none failed, make every decision.

All rules run on every stack, so one run reports every problem; ``resolve`` raises
``StackInvalid`` with the errors, located. Warnings and notes travel on the plan.
"""

from __future__ import annotations

from dataclasses import replace

from gpufleet.catalog import Catalog
from gpufleet.findings import errors_in
from gpufleet.model import decisions, subnets
from gpufleet.model.aws import AwsCluster, decide_node_update, plan_aws_cluster
from gpufleet.model.plan import ClusterPlan, ExistingNodes, Fabric, FleetPlan, MigSetup, Pool, StorageTier
from gpufleet.model.rules import SEMANTIC_RULES
from gpufleet.model.view import StackView
from gpufleet.stack.loader import LoadedStack, StackInvalid
from gpufleet.stack.models import FsxLustreTierSpec, LocalNvmeTierSpec, S3TierSpec


def resolve(loaded: LoadedStack, catalog: Catalog, *, replace_subnets: frozenset[str] = frozenset()) -> FleetPlan:
    """``replace_subnets``: pools that outgrew their recorded subnet and may get a new, larger one."""
    view = StackView(loaded, catalog, replace_subnets)
    findings = loaded.locator.locate(finding for semantic in SEMANTIC_RULES for finding in semantic.run(view))
    errors = errors_in(findings)
    if errors:
        raise StackInvalid(errors)
    return build_plan(view, tuple(findings))


def build_plan(view: StackView, findings: tuple = ()) -> FleetPlan:
    """The plan of a stack every rule passed; decisions may assume what the rules checked."""
    spec = view.spec
    fabrics = {name: Fabric(name, fabric.kind, view.location("fabrics", name)) for name, fabric in sorted(spec.fabrics.items())}
    mig_plans = {name: _fixed_mig_setup(view, name) for name in sorted(spec.mig_plans)}
    network = subnets.network_layout(view)
    aws = plan_aws_cluster(spec.cluster, spec.network, view.catalog) if view.on_aws and spec.network else None
    storage = {name: _storage_tier(view, name) for name in sorted(spec.storage)}
    pools = [_pool(view, name, fabrics, storage, mig_plans, network, aws) for name, _ in view.pools()]
    if network is not None:
        for name, tier in storage.items():
            if tier.kind == "fsx-lustre":
                clients = [pool.zones[0] for pool in pools if name in spec.node_pools[pool.name].storage and pool.zones]
                storage[name] = replace(tier, subnet=decisions.file_system_subnet(name, clients, network))
    pools = [_with_storage(pool, storage, spec.node_pools[pool.name].storage) for pool in pools]
    used_demand = {pool.mig.name: pool.mig for pool in pools if pool.mig is not None and pool.mig.demand}
    cluster = spec.cluster
    return FleetPlan(
        stack=view.loaded.name,
        source=view.loaded.locator.file,
        cluster=ClusterPlan(
            name=cluster.name,
            provider=cluster.provider,
            region=cluster.region,
            kubernetes_version=cluster.kubernetes_version,
            admins=cluster.admins,
            location=view.location("cluster"),
            aws=aws,
            monthly_budget_usd=cluster.monthly_budget_usd,
        ),
        network=network,
        fabrics=fabrics,
        storage=tuple(storage.values()),
        # A demand plan exists on nodes only as packed for the pool that uses it.
        mig_plans=tuple(
            used_demand.get(name, setup) for name, setup in mig_plans.items() if not setup.demand or name in used_demand
        ),
        pools=tuple(pools),
        queues=spec.queues,
        findings=findings,
    )


def _storage_tier(view: StackView, name: str) -> StorageTier:
    tier = view.spec.storage[name]
    location = view.location("storage", name)
    if isinstance(tier, FsxLustreTierSpec):
        lustre = view.catalog.storage.fsx_lustre
        persistent = lustre.deployments[tier.deployment].persistent
        return StorageTier(
            name=name,
            kind=tier.kind,
            protected=decisions.storage_protected(tier.kind, persistent, tier.allow_deletion),
            location=location,
            deployment=tier.deployment,
            fsx_capacity_gib=lustre.capacity_gib(tier.capacity_tib),
            throughput_per_tib=tier.throughput_per_tib,
            throughput_mbs=lustre.throughput_mbs(tier.deployment, tier.capacity_tib, tier.throughput_per_tib),
            import_from=tier.import_from,
            client_ports=lustre.lnet_ports,
            backup_retention_days=decisions.backup_retention_days(persistent, tier.backup_retention_days),
            namespaces=tier.namespaces,
        )
    if isinstance(tier, S3TierSpec):
        return StorageTier(
            name=name,
            kind=tier.kind,
            protected=decisions.storage_protected(tier.kind, True, tier.allow_deletion),
            location=location,
            versioning=tier.versioning,
            size_gb=tier.size_gb,
        )
    assert isinstance(tier, LocalNvmeTierSpec)
    return StorageTier(name=name, kind=tier.kind, protected=False, location=location, mount_path=tier.mount_path)


def _existing_pool(view: StackView, name: str, fabrics) -> Pool:
    """A pool of nodes that already exist: gpufleet neither creates nor relabels them."""
    pool = view.spec.node_pools[name]
    selector = dict(sorted(pool.node_selector.items()))
    return Pool(
        name=name,
        workload=pool.workload,
        instance=None,
        accelerator=view.catalog.accelerator(pool.gpu) if pool.gpu else None,
        nodes=pool.nodes,
        capacity=pool.capacity,
        fabric=fabrics.get(pool.fabric) if pool.fabric else None,
        efa=None,
        placement=decisions.existing_placement(),
        zones=(),
        subnets=(),
        storage=(),
        mig=None,
        models=pool.models,
        labels=selector,
        taints=(),
        ami_family="",
        ami_parameter="",
        root_volume_gib=0,
        security_groups=(),
        efa_hugepages=None,
        location=view.location("node_pools", name),
        existing=ExistingNodes(
            node_selector=selector,
            gpus_per_node=pool.gpus_per_node or 0,
            vcpus=pool.cpus_per_node or 0,
            memory_gib=pool.memory_gib_per_node or 0,
        ),
    )


def _fixed_mig_setup(view: StackView, name: str) -> MigSetup:
    accelerator = view.mig_accelerator(name)
    assert accelerator is not None
    demand = view.demand_of(name)
    return MigSetup(
        name=name,
        accelerator=accelerator,
        label_value=name,
        device_layouts=() if demand else decisions.fixed_mig_layouts(view, name),
        location=view.location("mig_plans", name),
        demand=demand,
    )


def _pool(view, name, fabrics, storage, mig_plans, network, aws: AwsCluster | None) -> Pool:
    if not view.on_aws:
        return _existing_pool(view, name, fabrics)
    pool = view.spec.node_pools[name]
    instance = view.instance(pool)
    accelerator = view.catalog.accelerator_of(instance)
    fabric = fabrics.get(pool.fabric) if pool.fabric else None
    efa = decisions.efa_layout(instance) if decisions.uses_efa(view, pool) else None
    zone_choice = decisions.zone_choice(view, pool)
    zones = zone_choice.zones
    mig_setup = mig_plans.get(pool.mig) if pool.mig else None
    if mig_setup is not None and mig_setup.demand:
        mig_setup = replace(mig_setup, device_layouts=decisions.packed_mig_layouts(view.packing(pool.mig, name)))
    family = decisions.ami_family(instance, accelerator)
    return Pool(
        name=name,
        workload=pool.workload,
        instance=instance,
        accelerator=accelerator,
        nodes=pool.nodes,
        capacity=pool.capacity,
        fabric=fabric,
        efa=efa,
        placement=decisions.placement(pool, view.fabric(pool), len(zones), view.catalog.placement_groups.partitions_per_zone),
        zones=zones,
        subnets=decisions.pool_subnets(network, name, zones),
        storage=(),
        mig=mig_setup,
        models=pool.models,
        labels=decisions.labels(
            name, pool, accelerator, mig_setup, accelerator is not None and accelerator.name in view.catalog.mig, efa is not None
        ),
        taints=decisions.taints(pool, accelerator),
        ami_family=family,
        ami_parameter=decisions.ami_parameter(view.spec.cluster.kubernetes_version, family, aws.ami_release.value if aws else ""),
        root_volume_gib=decisions.root_volume_gib(accelerator),
        security_groups=decisions.security_groups(pool.workload, fabric, efa),
        efa_hugepages=view.catalog.efa_host.hugepages_2mib if efa else None,
        location=view.location("node_pools", name),
        time_slicing_replicas=pool.sharing.time_slicing.replicas if pool.sharing else None,
        update=decide_node_update(pool),
        zone_reason=zone_choice.reason,
    )


def _with_storage(pool: Pool, storage: dict[str, StorageTier], names: tuple[str, ...]) -> Pool:
    return replace(pool, storage=tuple(storage[name] for name in names))
