"""How well a plan's hot storage feeds its training pools and whether its models fit their GPUs.

The policy pack's storage and memory policies and ``gpufleet check``'s feed table both call
these functions, so the number a report prints is the number a policy judged.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from gpufleet.catalog.mig import parse_profile_name
from gpufleet.catalog.policy import load_policy_defaults
from gpufleet.model import FleetPlan
from gpufleet.model.plan import LustreTier, Pool
from gpufleet.stack.models import ServedModel

BYTES_PER_GB = 1e9
BYTES_PER_GIB = 1024**3


@dataclass(frozen=True)
class PoolFeed:
    """One training pool's share of one hot tier: every pool mounting a tier splits it."""

    pool: str
    tier: str
    gpus: int
    demand_mbs: float
    tier_supply_mbs: float
    """The tier's disk throughput: a training set larger than the file servers' cache is read from disk."""
    tier_demand_mbs: float

    @property
    def ratio(self) -> float:
        return self.tier_supply_mbs / self.tier_demand_mbs if self.tier_demand_mbs else float("inf")

    @property
    def need_mbs_per_gpu(self) -> float:
        """What one of the pool's GPUs draws: the pool's read_mbs_per_gpu, else the policy's figure."""
        return self.demand_mbs / self.gpus if self.gpus else 0.0

    @property
    def supply_mbs_per_gpu(self) -> float:
        """The tier's throughput shared over every GPU that mounts it: what one GPU gets."""
        return self.need_mbs_per_gpu * self.ratio if self.tier_demand_mbs else self.tier_supply_mbs


def training_feeds(plan: FleetPlan, read_mbs_per_gpu: float | None = None) -> list[PoolFeed]:
    """Each training pool's share of each Lustre tier it mounts: the tier's disk throughput
    against what every GPU of the pools mounting it reads (a pool's own ``read_mbs_per_gpu``,
    else ``read_mbs_per_gpu`` here, else the catalog's default)."""
    per_gpu = load_policy_defaults().training_read_mbs_per_gpu.value if read_mbs_per_gpu is None else read_mbs_per_gpu
    mounting: dict[str, tuple[LustreTier, list[Pool]]] = {}
    for pool in plan.pools:
        if pool.workload == "training":
            for tier in pool.storage:
                if isinstance(tier, LustreTier):  # the hot tier: what feeds GPUs
                    mounting.setdefault(tier.name, (tier, []))[1].append(pool)
    feeds = []
    for tier_name in sorted(mounting):
        tier, pools = mounting[tier_name]
        tier_demand = sum(pool.gpus_max * (pool.read_mbs_per_gpu or per_gpu) for pool in pools)
        for pool in pools:
            need = pool.read_mbs_per_gpu or per_gpu
            feeds.append(
                PoolFeed(
                    pool=pool.name,
                    tier=tier_name,
                    gpus=pool.gpus_max,
                    demand_mbs=pool.gpus_max * need,
                    tier_supply_mbs=float(tier.disk_throughput_mbs),
                    tier_demand_mbs=tier_demand,
                )
            )
    return feeds


@dataclass(frozen=True)
class ModelFit:
    pool: str
    model: str
    need_gib: float
    have_gib: float
    basis: str

    @property
    def fits(self) -> bool:
        return self.need_gib <= self.have_gib


def model_fits(plan: FleetPlan, kv_cache_margin: float | None = None) -> list[ModelFit]:
    """Training: weights, gradients and optimizer state sharded over every GPU of the pool at
    its largest. Inference: each replica's weights plus the KV-cache margin, on the largest
    device one replica can use (a MIG slice, else the node's GPUs together)."""
    defaults = load_policy_defaults()
    margin = defaults.kv_cache_margin.value if kv_cache_margin is None else kv_cache_margin
    fits = []
    for pool in plan.pools:
        if pool.accelerator is None:
            continue
        for model in pool.models:
            weights = _parameters(model) * defaults.precision_bytes.value[model.precision]
            if pool.workload == "training":
                state = weights * 2 + _parameters(model) * defaults.optimizer_state_bytes_per_parameter.value
                need = state / max(pool.gpus_max, 1) / BYTES_PER_GIB
                fits.append(
                    ModelFit(pool.name, model.name, need, pool.accelerator.memory_gib, f"sharded over {pool.gpus_max} GPUs")
                )
            else:
                have, basis = _replica_memory_gib(pool)
                fits.append(ModelFit(pool.name, model.name, weights * (1 + margin) / BYTES_PER_GIB, have, basis))
    return fits


def _parameters(model: ServedModel) -> float:
    return model.parameters_b * 1e9


def _replica_memory_gib(pool: Pool) -> tuple[float, str]:
    assert pool.accelerator is not None
    if pool.mig is not None:
        sizes = [
            parsed.nominal_gb
            for layout in pool.mig.device_layouts
            for profile, count in (layout.layout or {}).items()
            if count > 0 and (parsed := parse_profile_name(profile)) is not None
        ]
        if sizes:
            return max(sizes) * BYTES_PER_GB / BYTES_PER_GIB, f"largest MIG slice of {pool.mig.name}"
    return pool.accelerator.memory_gib * pool.gpus_per_node, f"{pool.gpus_per_node} x {pool.accelerator.name} on one node"


@dataclass(frozen=True)
class ServingRoom:
    """How many of an inference pool's declared replicas its nodes hold at ``nodes.max``."""

    pool: str
    placed: int
    replicas: int
    basis: str
    overflow: tuple[int, str] | None
    """The first model (its index in ``models``, its name) some of whose replicas find no room."""

    @property
    def capacity(self) -> int:
        return self.placed


def serving_room(plan: FleetPlan, kv_cache_margin: float | None = None) -> list[ServingRoom]:
    """Each inference pool's replicas placed onto its devices at ``nodes.max``, the largest first:
    on a MIG pool one replica per slice it fits in, else each replica on as many whole GPUs of one
    node as its weights plus KV-cache margin need. Models whose one replica fits nowhere are the
    memory policy's (``model_fits``), not counted here."""
    defaults = load_policy_defaults()
    margin = defaults.kv_cache_margin.value if kv_cache_margin is None else kv_cache_margin
    rooms = []
    for pool in plan.pools:
        if pool.workload != "inference" or pool.accelerator is None or not pool.models:
            continue
        needs = [
            (index, model, _parameters(model) * defaults.precision_bytes.value[model.precision] * (1 + margin) / BYTES_PER_GIB)
            for index, model in enumerate(pool.models)
        ]
        slices = _slices_gib(pool)
        if slices:
            devices = [size for size in slices for _ in range(pool.nodes.max)]
            placed, basis = _place_on_slices(needs, devices), f"{len(devices)} MIG slices of {pool.mig.name if pool.mig else ''}"
        else:
            gib = pool.accelerator.memory_gib
            placed = _place_on_gpus(needs, pool.gpus_per_node, pool.nodes.max, gib)
            basis = f"{pool.nodes.max} x {pool.gpus_per_node} {pool.accelerator.name}"
        counted = {index: count for index, count in placed.items() if count is not None}
        fitting = [(index, model) for index, model, _ in needs if index in counted]
        overflow = next(((index, model.name) for index, model in fitting if counted[index] < model.replicas), None)
        rooms.append(
            ServingRoom(
                pool.name,
                sum(counted.values()),
                sum(model.replicas for _, model in fitting),
                basis,
                overflow,
            )
        )
    return rooms


def _slices_gib(pool: Pool) -> list[float]:
    """The MIG slices one node offers, in GiB (every GPU group's layout)."""
    if pool.mig is None:
        return []
    sizes = []
    for layout in pool.mig.device_layouts:
        devices = pool.gpus_per_node if layout.devices == "all" else len(layout.devices)
        for profile, count in (layout.layout or {}).items():
            parsed = parse_profile_name(profile)
            if parsed is not None:
                sizes += [parsed.nominal_gb * BYTES_PER_GB / BYTES_PER_GIB] * count * devices
    return sizes


def _place_on_slices(needs: list[tuple[int, ServedModel, float]], devices: list[float]) -> dict[int, int | None]:
    """Largest replicas first, each into the smallest free slice that holds it; None: no slice does."""
    free = sorted(devices)
    placed: dict[int, int | None] = {}
    for index, model, need in sorted(needs, key=lambda item: -item[2]):
        if not any(size >= need for size in devices):
            placed[index] = None
            continue
        count = 0
        for _ in range(model.replicas):
            slot = next((position for position, size in enumerate(free) if size >= need), None)
            if slot is None:
                break
            free.pop(slot)
            count += 1
        placed[index] = count
    return placed


def _place_on_gpus(needs: list[tuple[int, ServedModel, float]], per_node: int, nodes: int, gib: float) -> dict[int, int | None]:
    """Largest replicas first, each on the whole GPUs of one node it needs; None: more than a node has."""
    free = [per_node] * nodes
    placed: dict[int, int | None] = {}
    for index, model, need in sorted(needs, key=lambda item: -item[2]):
        gpus = max(1, math.ceil(need / gib))
        if gpus > per_node:
            placed[index] = None
            continue
        count = 0
        for _ in range(model.replicas):
            node = next((position for position, left in enumerate(free) if left >= gpus), None)
            if node is None:
                break
            free[node] -= gpus
            count += 1
        placed[index] = count
    return placed
