"""Join a loaded stack with the catalog, check it as a whole, and decide everything renderers need.

Every check appends a ``Finding`` at the field path that caused it and resolution goes on,
so one run reports every problem; ``resolve`` raises ``StackInvalid`` with all of them.
"""

from __future__ import annotations

import hashlib
import string
from collections import Counter
from dataclasses import replace

from gpufleet import mig
from gpufleet.catalog import Catalog, closest_name, load_catalog
from gpufleet.catalog.models import Accelerator, InstanceType
from gpufleet.model.plan import (
    DeviceLayoutPlan,
    EfaLayout,
    ExistingNodes,
    FleetPlan,
    MigSetup,
    InterfaceSlot,
    NetworkLayout,
    PlacementDecision,
    Pool,
    StorageTier,
    Subnet,
    Taint,
)
from gpufleet.findings import Finding, Rule, declare
from gpufleet.model import kubernetes_rules as k8s_rules
from gpufleet.stack.loader import LoadedStack, StackInvalid
from gpufleet.stack.models import FsxLustreTierSpec, MigPlanSpec, NodePoolSpec, StackSpec

SEMANTIC = declare("GF-MODEL-000", "error", "A stack that does not fit the catalog or itself.")
LABEL_DOMAIN = "gpufleet.io"
# The GPU Operator's device plugin picks its named config from this node label.
DEVICE_PLUGIN_CONFIG_LABEL = "nvidia.com/device-plugin.config"
EFA_LABEL = f"{LABEL_DOMAIN}/efa"
# Root volumes hold container images; CUDA and framework images run to tens of GiB each.
ACCELERATED_ROOT_GIB = 200
SYSTEM_ROOT_GIB = 80
MAX_ZONES = 8
POOL_SUBNET_SLOTS = 112


def resolve(loaded: LoadedStack, catalog: Catalog | None = None) -> FleetPlan:
    resolver = _Resolver(loaded, catalog or load_catalog())
    plan = resolver.build()
    if resolver.findings:
        raise StackInvalid(loaded.locator.locate(resolver.findings))
    return plan


def efa_layout(instance: InstanceType) -> EfaLayout:
    """Current AWS guidance: ENA primary on card 0, EFA-only interfaces for every EFA.

    Card 0 keeps its ENA primary at device 0 and, if it takes EFA, adds an EFA-only
    interface at device 1; every further EFA-capable card gets one EFA-only interface at
    device 0, until the type's EFA maximum is reached.
    """
    cards = instance.cards
    if cards[0].supports_efa and cards[0].max_interfaces < 2:
        interfaces = [InterfaceSlot(0, 0, "efa")]  # no room beside the primary: it carries EFA itself
    else:
        interfaces = [InterfaceSlot(0, 0, "interface")]
        if cards[0].supports_efa:
            interfaces.append(InterfaceSlot(0, 1, "efa-only"))
    efa_count = sum(nic.interface_type != "interface" for nic in interfaces)
    for card in cards[1:]:
        if efa_count >= instance.max_efa_interfaces:
            break
        if card.supports_efa:
            interfaces.append(InterfaceSlot(card.index, 0, "efa-only"))
            efa_count += 1
    return EfaLayout(tuple(interfaces))


class _Resolver:
    def __init__(self, loaded: LoadedStack, catalog: Catalog) -> None:
        self.loaded = loaded
        self.spec: StackSpec = loaded.spec
        self.catalog = catalog
        self.findings: list[Finding] = []
        # Demand plans get their layouts from the nodes of the pools that use them.
        self.packed_demand_plans: dict[str, MigSetup] = {}

    def error(self, path: tuple[str | int, ...], message: str, rule: Rule = SEMANTIC) -> None:
        self.findings.append(rule.finding(path, message))

    @property
    def on_aws(self) -> bool:
        return self.spec.cluster.provider == "aws"

    def build(self) -> FleetPlan:
        self._check_zones()
        self._check_fabrics()
        self._check_queues()
        storage = self._resolve_storage()
        mig_plans = {name: self._resolve_mig_plan(name, plan) for name, plan in sorted(self.spec.mig_plans.items())}
        pools = [self._resolve_pool(name, pool, storage, mig_plans) for name, pool in sorted(self.spec.node_pools.items())]
        network = self._plan_network(pools) if self.on_aws else None
        if network is not None:
            storage = {name: self._place_file_system(tier, pools, network) for name, tier in storage.items()}
        pools_with_subnets = tuple(
            replace(self._attach_subnets(pool, network), storage=tuple(storage[tier.name] for tier in pool.storage))
            for pool in pools
            if pool is not None
        )
        return FleetPlan(
            stack=self.loaded.name,
            source=self.loaded.locator.file,
            cluster=self.spec.cluster,
            network=network,
            fabrics=dict(sorted(self.spec.fabrics.items())),
            storage=tuple(storage[name] for name in sorted(storage)),
            mig_plans=tuple(
                self.packed_demand_plans.get(name, plan)
                for name, plan in mig_plans.items()
                if plan is not None and (not plan.demand or name in self.packed_demand_plans)
            ),
            pools=pools_with_subnets,
            queues=self.spec.queues,
        )

    def _check_queues(self) -> None:
        for workload in ("training", "inference", "lab"):
            namespaces = getattr(self.spec.queues, workload)
            if not namespaces:
                continue
            path = ("queues", workload)
            self._check_unique_names(path, list(namespaces), "namespace", named=False, rule=k8s_rules.QUEUE_NAMESPACES)
            if not any(pool.workload == workload for pool in self.spec.node_pools.values()):
                self.error(path, f"no {workload} pool: a {workload} queue would admit nothing", k8s_rules.QUEUE_NAMESPACES)

    # -- cluster-wide checks -------------------------------------------------------------

    def _check_zones(self) -> None:
        network, region = self.spec.network, self.spec.cluster.region
        if network is None:
            return
        if len(set(network.availability_zones)) != len(network.availability_zones):
            self.error(("network", "availability_zones"), "availability zones are listed more than once")
        if len(network.availability_zones) > MAX_ZONES:
            self.error(("network", "availability_zones"), f"at most {MAX_ZONES} availability zones")
        for index, zone in enumerate(network.availability_zones):
            if region is None:
                continue
            suffix = zone.removeprefix(region)
            if zone == region:
                self.error(("network", "availability_zones", index), f"'{zone}' is the region; zones are '{region}a', '{region}b', ...")
            elif not (zone.startswith(region) and len(suffix) == 1 and suffix in string.ascii_lowercase):
                self.error(
                    ("network", "availability_zones", index),
                    f"zone '{zone}' is not in region '{region}' (expected '{region}a', '{region}b', ...)",
                )

    def _check_fabrics(self) -> None:
        infiniband = sorted(name for name, fabric in self.spec.fabrics.items() if fabric.kind == "infiniband")
        for name in infiniband[1:] if not self.on_aws else ():
            self.error(
                ("fabrics", name, "kind"),
                f"one infiniband fabric per cluster: the Network Operator reconciles a single NicClusterPolicy, which serves '{infiniband[0]}'",
                k8s_rules.ONE_INFINIBAND_FABRIC,
            )
        for name, fabric in self.spec.fabrics.items():
            if self.on_aws and fabric.kind == "infiniband":
                self.error(
                    ("fabrics", name, "kind"),
                    "AWS offers no InfiniBand; its RDMA fabric is EFA (kind: efa)",
                )

    # -- storage ------------------------------------------------------------------------

    def _resolve_storage(self) -> dict[str, StorageTier]:
        lustre = self.catalog.storage.fsx_lustre
        tiers: dict[str, StorageTier] = {}
        for name, tier in self.spec.storage.items():
            path = ("storage", name)
            if not self.on_aws and tier.kind != "local-nvme":
                self.error((*path, "kind"), f"provider kubernetes creates nothing cloud-side, so no {tier.kind} tier; only local-nvme", k8s_rules.CLOUD_STORAGE)
            if getattr(tier, "namespaces", ()):
                self._check_unique_names((*path, "namespaces"), list(tier.namespaces), "namespace", named=False)
            if isinstance(tier, FsxLustreTierSpec):
                facts = lustre.deployments[tier.deployment]
                capacity_gib = round(tier.capacity_tib * lustre.capacity_gib_per_tib)
                ok = True
                if tier.throughput_per_tib not in facts.per_unit_throughputs:
                    allowed = ", ".join(str(v) for v in facts.per_unit_throughputs)
                    self.error((*path, "throughput_per_tib"), f"{tier.deployment} accepts {allowed} MB/s per TiB, not {tier.throughput_per_tib}")
                    ok = False
                if not facts.capacity_gib.allows(capacity_gib):
                    self.error(
                        (*path, "capacity_tib"),
                        f"FSx for Lustre {tier.deployment} takes {facts.capacity_gib.describe(lustre.capacity_gib_per_tib)}, not {tier.capacity_tib:g}",
                    )
                if tier.import_from is not None:
                    source = self.spec.storage.get(tier.import_from)
                    if source is None:
                        buckets = {n: t for n, t in self.spec.storage.items() if t.kind == "s3"}
                        self.error((*path, "import_from"), self._unknown("s3 tier", tier.import_from, buckets))
                    elif source.kind != "s3":
                        self.error((*path, "import_from"), f"import_from must name an s3 tier; '{tier.import_from}' is {source.kind}")
                throughput = lustre.throughput_mbs(tier.deployment, tier.capacity_tib, tier.throughput_per_tib) if ok else None
                tiers[name] = StorageTier(
                    name=name,
                    spec=tier,
                    protected=facts.persistent and not tier.allow_deletion,
                    fsx_capacity_gib=capacity_gib,
                    throughput_mbs=throughput,
                    client_ports=lustre.lnet_ports,
                )
            elif tier.kind == "s3":
                tiers[name] = StorageTier(name=name, spec=tier, protected=not tier.allow_deletion)
            else:
                tiers[name] = StorageTier(name=name, spec=tier, protected=False)
        return tiers

    # -- MIG ------------------------------------------------------------------------------

    def _resolve_mig_plan(self, name: str, plan: MigPlanSpec) -> MigSetup | None:
        """Check a plan on its own GPU; demand plans get their layouts from the pool using them."""
        path = ("mig_plans", name)
        accelerator = self.catalog.accelerator(plan.gpu)
        if accelerator is None:
            self.error((*path, "gpu"), self._unknown("GPU", plan.gpu, self.catalog.accelerators))
            return None
        if accelerator.name not in self.catalog.mig:
            capable = ", ".join(sorted(self.catalog.mig))
            self.error((*path, "gpu"), f"{accelerator.name} does not support MIG (MIG-capable: {capable})")
            return None
        if plan.demand is not None:
            if not self._check_unique_names((*path, "demand"), [d.name for d in plan.demand], "service"):
                return None
            demand = tuple(mig.ServiceDemand(d.name, d.memory_gib, d.compute_share, d.replicas) for d in plan.demand)
            try:
                mig.plan_demand(self.catalog.mig[accelerator.name], demand)
            except mig.DemandError as exc:
                self.error((*path, "demand"), f"cannot place the demand on {accelerator.name}: {_sentence(str(exc))}")
                return None
            return MigSetup(name=name, accelerator=accelerator, label_value=name, device_layouts=(), demand=demand)
        if plan.layout is not None:
            entries = [("all", plan.layout, (*path, "layout"))]
        else:
            entries = [(entry.devices, entry.layout, (*path, "devices", i)) for i, entry in enumerate(plan.devices or ())]
        ok = True
        claimed: dict[int, int] = {}
        for position, (devices, layout, where) in enumerate(entries):
            for index in () if devices == "all" else devices:
                if index in claimed:
                    ok = False
                    self.error((*where, "devices"), f"GPU {index} already has a layout from entry {claimed[index]}")
                claimed.setdefault(index, position)
            result = mig.check_layout(self.catalog, accelerator.name, layout)
            if not result.feasible:
                ok = False
                where = where if devices == "all" else (*where, "layout")
                self.error(where, f"infeasible on {accelerator.name}: " + " ".join(result.reasons))
        if not ok:
            return None
        layouts = tuple(DeviceLayoutPlan(devices, tuple(sorted(layout.items()))) for devices, layout, _ in entries)
        return MigSetup(name=name, accelerator=accelerator, label_value=name, device_layouts=layouts)

    # -- pools ----------------------------------------------------------------------------

    def _resolve_pool(self, name: str, pool: NodePoolSpec, storage: dict[str, StorageTier], mig_plans: dict[str, MigSetup | None]) -> Pool | None:
        path = ("node_pools", name)
        if not self.on_aws:
            return self._resolve_existing_pool(name, pool, storage)
        for field_name in ("node_selector", "gpu", "gpus_per_node", "cpus_per_node", "memory_gib_per_node"):
            if getattr(pool, field_name) is not None:
                self.error((*path, field_name), f"{field_name} describes existing nodes (provider kubernetes); on provider aws gpufleet launches instance_type", k8s_rules.EXISTING_NODES)
        if pool.instance_type is None:
            self.error(path, "provider aws needs instance_type: the EC2 type gpufleet launches for this pool", k8s_rules.EXISTING_NODES)
            self._check_references(path, pool, storage)
            return None
        instance = self.catalog.instance_type(pool.instance_type)
        if instance is None:
            self.error((*path, "instance_type"), self._unknown("instance type", pool.instance_type, self.catalog.instance_types))
            self._check_references(path, pool, storage)
            return None
        accelerator = self.catalog.accelerator_of(instance)
        if accelerator is None and pool.workload != "system":
            self.error((*path, "instance_type"), f"{instance.name} has no accelerator; only system pools may use it")
        fabric = self.spec.fabrics.get(pool.fabric) if pool.fabric else None
        tiers = self._check_references(path, pool, storage)
        efa = self._check_fabric_fit(path, pool, instance)
        zones = self._pool_zones(path, pool, efa is not None)
        placement = self._decide_placement(path, pool, fabric, zones)
        self._check_capacity(path, pool, instance)
        self._check_training_fabric(path, pool, fabric)
        for index, tier in enumerate(tiers):
            if tier.kind == "local-nvme" and instance.local_nvme is None:
                self.error((*path, "storage", index), f"{instance.name} has no local NVMe disks for tier '{tier.name}'")
        mig_plan = self._check_pool_mig(path, pool, instance, accelerator, mig_plans)
        self._check_unique_names((*path, "models"), [m.name for m in pool.models], "model")
        for key in pool.labels:
            if key.startswith(f"{LABEL_DOMAIN}/") or key in ("nvidia.com/mig.config", DEVICE_PLUGIN_CONFIG_LABEL):
                self.error((*path, "labels", key), f"label '{key}' is set by gpufleet itself; choose another key")
        self._check_sharing(path, pool, accelerator, mig_plan)
        return Pool(
            name=name,
            workload=pool.workload,
            instance=instance,
            accelerator=accelerator,
            nodes=pool.nodes,
            capacity=pool.capacity,
            fabric_name=pool.fabric,
            fabric=fabric,
            efa=efa,
            placement=placement,
            zones=zones,
            subnets=(),
            storage=tiers,
            mig=mig_plan,
            models=pool.models,
            labels=self._labels(name, pool, accelerator, mig_plan, efa),
            taints=self._taints(pool, accelerator),
            ami_family=_ami_family(instance, accelerator),
            root_volume_gib=ACCELERATED_ROOT_GIB if accelerator else SYSTEM_ROOT_GIB,
            time_slicing_replicas=pool.sharing.time_slicing.replicas if pool.sharing else None,
        )

    def _resolve_existing_pool(self, name: str, pool: NodePoolSpec, storage: dict[str, StorageTier]) -> Pool | None:
        """A pool of nodes that already exist: gpufleet neither creates nor relabels them."""
        path = ("node_pools", name)
        existing, rule = "provider kubernetes uses existing nodes", k8s_rules.EXISTING_NODES
        if pool.instance_type is not None:
            self.error((*path, "instance_type"), f"{existing}: describe them with node_selector, gpu and gpus_per_node instead of instance_type", rule)
        for field_name, what in (("mig", "a MIG plan"), ("sharing", "time-slicing"), ("labels", "labels")):
            if getattr(pool, field_name):
                self.error((*path, field_name), f"{existing}, and {what} needs node labels gpufleet sets on nodes it creates: label the nodes yourself and select them", rule)
        if pool.node_selector is None:
            self.error(path, f"{existing}: give node_selector, the labels that pick this pool's nodes", rule)
        accelerator = None
        if pool.gpu is not None:
            accelerator = self.catalog.accelerator(pool.gpu)
            if accelerator is None:
                self.error((*path, "gpu"), self._unknown("GPU", pool.gpu, self.catalog.accelerators))
            if pool.gpus_per_node is None:
                self.error((*path, "gpu"), "give gpus_per_node too: queue quotas count the GPUs of every node", rule)
        elif pool.workload != "system":
            self.error((*path, "workload"), f"a {pool.workload} pool needs gpu (the catalog GPU its nodes carry) and gpus_per_node", rule)
        elif pool.gpus_per_node is not None:
            self.error((*path, "gpus_per_node"), "gpus_per_node needs gpu, the catalog GPU the nodes carry", rule)
        for field_name in ("cpus_per_node", "memory_gib_per_node"):
            if pool.gpu is not None and getattr(pool, field_name) is None:
                self.error(path, f"give {field_name} too: the pool's queue quota counts the CPU and memory of every node", rule)
        fabric = self.spec.fabrics.get(pool.fabric) if pool.fabric else None
        if fabric is not None and fabric.kind == "efa":
            self.error((*path, "fabric"), "EFA exists only on AWS instances; existing nodes use an infiniband or ethernet fabric", rule)
        tiers = self._check_references(path, pool, storage)
        self._check_training_fabric(path, pool, fabric)
        if pool.node_selector is None or (pool.gpu is not None and accelerator is None):
            return None
        return Pool(
            name=name,
            workload=pool.workload,
            instance=None,
            accelerator=accelerator,
            nodes=pool.nodes,
            capacity=pool.capacity,
            fabric_name=pool.fabric,
            fabric=fabric,
            efa=None,
            placement=PlacementDecision("none", "existing nodes: placement is the cluster owner's"),
            zones=(),
            subnets=(),
            storage=tiers,
            mig=None,
            models=pool.models,
            labels=dict(sorted(pool.node_selector.items())),
            taints=(),
            ami_family="",
            root_volume_gib=0,
            existing=ExistingNodes(
                node_selector=dict(sorted(pool.node_selector.items())),
                gpus_per_node=pool.gpus_per_node or 0,
                vcpus=pool.cpus_per_node or 0,
                memory_gib=pool.memory_gib_per_node or 0,
            ),
        )

    def _check_sharing(self, path: tuple[str, ...], pool: NodePoolSpec, accelerator: Accelerator | None, mig_plan: MigSetup | None) -> None:
        if pool.sharing is None:
            return
        where = (*path, "sharing")
        if pool.workload != "lab":
            self.error(where, f"time-slicing gives no memory or fault isolation between pods; only lab pools may share GPUs, not {pool.workload}", k8s_rules.TIME_SLICING)
        if accelerator is None or accelerator.kind != "gpu":
            self.error(where, "time-slicing shares NVIDIA GPUs; this pool has none", k8s_rules.TIME_SLICING)
        if pool.mig is not None:
            self.error(where, "a pool either partitions its GPUs with MIG or time-slices them; drop sharing or mig", k8s_rules.TIME_SLICING)

    def _check_references(self, path: tuple[str, ...], pool: NodePoolSpec, storage: dict[str, StorageTier]) -> tuple[StorageTier, ...]:
        if pool.fabric is not None and pool.fabric not in self.spec.fabrics:
            self.error((*path, "fabric"), self._unknown("fabric", pool.fabric, self.spec.fabrics))
        if pool.mig is not None and pool.mig not in self.spec.mig_plans:
            self.error((*path, "mig"), self._unknown("MIG plan", pool.mig, self.spec.mig_plans))
        tiers = []
        for index, tier_name in enumerate(pool.storage):
            if tier_name not in storage:
                self.error((*path, "storage", index), self._unknown("storage tier", tier_name, self.spec.storage))
            elif storage[tier_name] in tiers:
                self.error((*path, "storage", index), f"storage tier '{tier_name}' is listed twice")
            else:
                tiers.append(storage[tier_name])
        return tuple(tiers)

    def _check_fabric_fit(self, path: tuple[str, ...], pool: NodePoolSpec, instance: InstanceType) -> EfaLayout | None:
        fabric = self.spec.fabrics.get(pool.fabric) if pool.fabric else None
        if fabric is None or fabric.kind != "efa":
            return None
        if not instance.efa_supported:
            capable = [t.name for t in sorted(self.catalog.instance_types.values(), key=lambda t: t.vcpus) if t.family == instance.family and t.efa_supported]
            hint = f" (EFA-capable {instance.family} sizes: {', '.join(capable)})" if capable else ""
            self.error((*path, "fabric"), f"{instance.name} does not support EFA{hint}")
            return None
        return efa_layout(instance)

    def _pool_zones(self, path: tuple[str, ...], pool: NodePoolSpec, efa: bool) -> tuple[str, ...]:
        network = self.spec.network
        if network is None:
            return ()
        zones = network.availability_zones[:MAX_ZONES]
        chosen, where = pool.availability_zone, (*path, "availability_zone")
        reserved_zone = pool.capacity.availability_zone
        if reserved_zone is not None:
            if chosen is not None and chosen != reserved_zone:
                self.error(where, f"zone '{chosen}' differs from the zone of {pool.capacity.reservation_id} ({reserved_zone})")
            chosen, where = reserved_zone, (*path, "capacity", "availability_zone")
        if chosen is not None and chosen not in zones:
            self.error(where, f"zone '{chosen}' is not one of the network's zones: {', '.join(zones)}")
            return (zones[0],)
        single_zone = efa or pool.placement == "cluster" or pool.workload == "training" or chosen is not None
        if single_zone:
            return (chosen or zones[0],)
        return tuple(zones)

    def _decide_placement(self, path: tuple[str, ...], pool: NodePoolSpec, fabric, zones: tuple[str, ...]) -> PlacementDecision:
        reserved = pool.capacity.type in ("capacity-block", "reservation")
        if pool.placement == "cluster" and pool.capacity.type == "capacity-block":
            self.error(
                (*path, "placement"),
                "a capacity block is already co-located in an EC2 UltraCluster; a cluster placement "
                "group on top of it makes launches fail with InsufficientInstanceCapacity: drop placement",
            )
        if pool.placement == "cluster" and pool.capacity.type == "reservation":
            self.error(
                (*path, "placement"),
                "a targeted capacity reservation only launches into a cluster placement group it was "
                "created in, and gpufleet creates the group: drop placement or use capacity-block",
            )
        limits = self.catalog.placement_groups
        if pool.placement == "spread" and pool.nodes.max > limits.spread_instances_per_zone * max(len(zones), 1):
            self.error(
                (*path, "placement"),
                f"a spread placement group holds at most {limits.spread_instances_per_zone} running instances per zone; "
                f"this pool may have {pool.nodes.max} in {len(zones)} zone(s)",
            )
        if pool.placement is not None:
            count = min(limits.partitions_per_zone, pool.nodes.max) if pool.placement == "partition" else None
            return PlacementDecision(pool.placement, "set in the spec", count)
        multi_node_training = pool.workload == "training" and pool.nodes.max > 1
        if multi_node_training and reserved:
            return PlacementDecision(
                "none",
                f"{pool.capacity.type}: the reserved capacity decides where instances land; adding a "
                "placement group risks InsufficientInstanceCapacity",
            )
        if multi_node_training and fabric is not None and fabric.rdma:
            return PlacementDecision("cluster", "multi-node training on an RDMA fabric: one cluster placement group, one zone")
        return PlacementDecision("none", "single-node or non-training pool")

    def _check_capacity(self, path: tuple[str, ...], pool: NodePoolSpec, instance: InstanceType) -> None:
        if pool.capacity.type == "capacity-block" and not instance.capacity_block:
            eligible = sorted(t.name for t in self.catalog.instance_types.values() if t.capacity_block)
            self.error((*path, "capacity", "type"), f"{instance.name} cannot run in a capacity block (eligible: {', '.join(eligible)})")
        if pool.capacity.type == "capacity-block" and pool.nodes.min != pool.nodes.max:
            self.error((*path, "nodes"), "a capacity block holds a fixed number of instances: set min equal to max")

    def _check_training_fabric(self, path: tuple[str, ...], pool: NodePoolSpec, fabric) -> None:
        if pool.workload != "training" or pool.nodes.max <= 1 or pool.allow_non_rdma:
            return
        if fabric is None or not fabric.rdma:
            what = "no fabric" if fabric is None else f"fabric '{pool.fabric}' ({fabric.kind})"
            self.error(
                (*path, "fabric") if pool.fabric else path,
                f"multi-node training (up to {pool.nodes.max} nodes) has {what}; it needs an RDMA fabric "
                "(efa or infiniband), or allow_non_rdma: true to accept TCP",
            )

    def _check_pool_mig(self, path: tuple[str, ...], pool: NodePoolSpec, instance: InstanceType, accelerator: Accelerator | None, mig_plans: dict[str, MigSetup | None]) -> MigSetup | None:
        plan = mig_plans.get(pool.mig) if pool.mig else None
        if plan is None:
            return None
        where = (*path, "mig")
        if accelerator is None or accelerator.name != plan.accelerator.name:
            carried = accelerator.name if accelerator else "no GPU"
            self.error(where, f"MIG plan '{plan.name}' is for {plan.accelerator.name}, but {instance.name} carries {carried}")
            return None
        gpus = instance.accelerator_count
        if plan.demand:
            return self._plan_demand_for_pool(where, pool, instance, plan)
        beyond = sorted({i for layout in plan.device_layouts if layout.devices != "all" for i in layout.devices if i >= gpus})
        if beyond:
            self.error(where, f"MIG plan '{plan.name}' configures GPU {', '.join(map(str, beyond))}, but {instance.name} has GPUs 0-{gpus - 1}")
            return None
        return plan

    def _plan_demand_for_pool(self, where: tuple[str, ...], pool: NodePoolSpec, instance: InstanceType, plan: MigSetup) -> MigSetup | None:
        """Pack the plan's demand onto identical nodes of this pool (one label, one layout)."""
        gpus = instance.accelerator_count
        try:
            packed = mig.plan_node_pool(self.catalog.mig[plan.accelerator.name], plan.demand, gpus)
        except mig.DemandError as exc:
            self.error(where, f"MIG plan '{plan.name}' does not fit {instance.name} nodes: {_sentence(str(exc))}")
            return None
        if packed.nodes > pool.nodes.max:
            needed = sum(1 for layout in packed.per_node_layouts if layout) * packed.nodes
            self.error(
                where,
                f"MIG plan '{plan.name}' needs {packed.nodes} nodes of {gpus} GPUs ({needed} GPUs in use) for its demand, "
                f"but the pool has at most {pool.nodes.max}",
            )
            return None
        layouts = tuple(
            DeviceLayoutPlan(entry.devices, tuple(sorted((entry.layout or {}).items())))
            for entry in packed.devices
        )
        resolved = replace(plan, device_layouts=layouts)
        earlier = self.packed_demand_plans.setdefault(plan.name, resolved)
        if earlier.device_layouts != layouts:
            self.error(where, f"MIG plan '{plan.name}' is packed differently for another pool's nodes; give each pool its own demand plan")
            return None
        return resolved

    def _labels(self, name: str, pool: NodePoolSpec, accelerator: Accelerator | None, mig_plan: MigSetup | None, efa: EfaLayout | None) -> dict[str, str]:
        labels = {
            f"{LABEL_DOMAIN}/pool": name,
            f"{LABEL_DOMAIN}/workload": pool.workload,
        }
        if efa is not None:
            labels[EFA_LABEL] = "true"  # the EFA device plugin runs where this is set, and only there
        if accelerator is not None:
            labels[f"{LABEL_DOMAIN}/accelerator"] = accelerator.name
        if pool.sharing is not None:
            labels[DEVICE_PLUGIN_CONFIG_LABEL] = name
        if mig_plan is not None:
            labels["nvidia.com/mig.config"] = mig_plan.label_value
        elif accelerator is not None and accelerator.name in self.catalog.mig:
            labels["nvidia.com/mig.config"] = mig.RESET_CONFIG
        return dict(sorted({**pool.labels, **labels}.items()))

    @staticmethod
    def _taints(pool: NodePoolSpec, accelerator: Accelerator | None) -> tuple[Taint, ...]:
        taints = []
        if accelerator is not None and accelerator.kind == "gpu":
            taints.append(Taint("nvidia.com/gpu", "true"))
        elif accelerator is not None:
            taints.append(Taint("aws.amazon.com/neuron", "true"))
        if pool.workload in ("training", "lab"):
            taints.append(Taint(f"{LABEL_DOMAIN}/workload", pool.workload))
        return tuple(taints)

    # -- network --------------------------------------------------------------------------

    def _plan_network(self, pools: list[Pool | None]) -> NetworkLayout:
        assert self.spec.network is not None
        vpc = self.spec.network.vpc_cidr
        zones = self.spec.network.availability_zones[:MAX_ZONES]
        halves = list(vpc.subnets(new_prefix=vpc.prefixlen + 1))
        shared_blocks = list(halves[0].subnets(new_prefix=vpc.prefixlen + 4))
        upper_sixteenths = list(halves[1].subnets(new_prefix=vpc.prefixlen + 4))
        public_blocks = list(upper_sixteenths[-1].subnets(new_prefix=vpc.prefixlen + 7))
        pool_blocks = [b for block in upper_sixteenths[:-1] for b in block.subnets(new_prefix=vpc.prefixlen + 8)]
        assert len(pool_blocks) == POOL_SUBNET_SLOTS
        dedicated = [pool for pool in pools if pool is not None and pool.workload == "training"]
        slots = self._subnet_slots(dedicated)
        return NetworkLayout(
            vpc_cidr=vpc,
            zones=tuple(zones),
            public_subnets=tuple(Subnet(f"public-{zone}", zone, public_blocks[i]) for i, zone in enumerate(zones)),
            shared_private_subnets=tuple(Subnet(f"private-{zone}", zone, shared_blocks[i]) for i, zone in enumerate(zones)),
            pool_subnets=tuple(
                Subnet(f"pool-{pool.name}", pool.zones[0], pool_blocks[slots[pool.name]])
                for pool in dedicated
                if pool.name in slots
            ),
        )

    def _subnet_slots(self, dedicated: list[Pool]) -> dict[str, int]:
        chosen = {pool.name: self.spec.node_pools[pool.name].subnet_slot for pool in dedicated}
        slots = {name: subnet_slot(name) if pinned is None else pinned for name, pinned in chosen.items()}
        owners: dict[int, list[str]] = {}
        for name, slot in sorted(slots.items()):
            owners.setdefault(slot, []).append(name)
        free = sorted(set(range(POOL_SUBNET_SLOTS)) - set(owners))
        for slot, names in owners.items():
            for name in names[1:]:
                suggestion = f"; add `subnet_slot: {free[0]}` to one of them" if free else ""
                self.error(
                    ("node_pools", name, "subnet_slot") if chosen[name] is not None else ("node_pools", name),
                    f"training pools '{names[0]}' and '{name}' both take dedicated subnet slot {slot}{suggestion}",
                )
        return {names[0]: slot for slot, names in owners.items()}

    @staticmethod
    def _place_file_system(tier: StorageTier, pools: list[Pool | None], network: NetworkLayout) -> StorageTier:
        """A Lustre file system lives in one subnet: the zone where most of its clients run."""
        if tier.kind != "fsx-lustre":
            return tier
        zones = Counter(pool.zones[0] for pool in pools if pool is not None and pool.zones and tier in pool.storage)
        zone = min(zones, key=lambda z: (-zones[z], z)) if zones else network.zones[0]
        return replace(tier, subnet=network.shared_subnet(zone))

    @staticmethod
    def _attach_subnets(pool: Pool, network: NetworkLayout | None) -> Pool:
        if network is None:
            return pool
        own = tuple(s for s in network.pool_subnets if s.name == f"pool-{pool.name}")
        subnets = own or tuple(network.shared_subnet(zone) for zone in pool.zones)
        return replace(pool, subnets=subnets)

    # -- messages -------------------------------------------------------------------------

    def _check_unique_names(self, path: tuple[str | int, ...], names: list[str], what: str, named: bool = True, rule: Rule = SEMANTIC) -> bool:
        """``named``: the list holds mappings whose ``name`` is checked, not plain names."""
        seen: set[str] = set()
        for index, name in enumerate(names):
            if name in seen:
                self.error((*path, index, "name") if named else (*path, index), f"{what} '{name}' is listed twice", rule)
            seen.add(name)
        return len(seen) == len(names)

    def _unknown(self, what: str, name: str, known) -> str:
        guess = closest_name(name, known)
        if guess:
            return f"unknown {what} '{name}' (did you mean '{guess}'?)"
        if not known:
            return f"unknown {what} '{name}' (the stack defines none)"
        listed = ", ".join(sorted(known)) if len(known) <= 12 else None
        return f"unknown {what} '{name}'" + (f" (known: {listed})" if listed else "")


def _sentence(text: str) -> str:
    """MIG engine messages are full sentences; embedded in ours they lose the final stop."""
    return text.rstrip(". ")


def _ami_family(instance: InstanceType, accelerator: Accelerator | None) -> str:
    """The EKS-optimized AL2023 AMI variant whose drivers match the accelerator."""
    variant = {None: "standard", "gpu": "nvidia", "neuron": "neuron"}[accelerator.kind if accelerator else None]
    return f"amazon-linux-2023/{instance.architecture}/{variant}"


def subnet_slot(pool_name: str) -> int:
    """The dedicated-subnet slot a training pool takes unless its spec pins one.

    It depends on the pool's own name only, so adding, removing or renaming another pool
    never moves this pool's subnet (moving it would replace the subnet and its nodes).
    """
    return int.from_bytes(hashlib.sha256(pool_name.encode()).digest()[:8], "big") % POOL_SUBNET_SLOTS
