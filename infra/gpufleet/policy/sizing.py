"""How well a plan's hot storage feeds its training pools and whether its models fit their GPUs.

The policy pack's storage and memory policies and ``gpufleet check``'s feed table both call
these functions, so the number a report prints is the number a policy judged.
"""

from __future__ import annotations

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
    tier_demand_mbs: float

    @property
    def ratio(self) -> float:
        return self.tier_supply_mbs / self.tier_demand_mbs if self.tier_demand_mbs else float("inf")

    @property
    def need_mbs_per_gpu(self) -> float:
        """What one of the pool's GPUs draws (the policy's read rate)."""
        return self.demand_mbs / self.gpus if self.gpus else 0.0

    @property
    def supply_mbs_per_gpu(self) -> float:
        """The tier's throughput shared over every GPU that mounts it: what one GPU gets."""
        return self.need_mbs_per_gpu * self.ratio if self.tier_demand_mbs else self.tier_supply_mbs


def training_feeds(plan: FleetPlan, read_mbs_per_gpu: float | None = None) -> list[PoolFeed]:
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
        tier_demand = sum(pool.gpus_max * per_gpu for pool in pools)
        for pool in pools:
            feeds.append(
                PoolFeed(
                    pool=pool.name,
                    tier=tier_name,
                    gpus=pool.gpus_max,
                    demand_mbs=pool.gpus_max * per_gpu,
                    tier_supply_mbs=_supply(tier),
                    tier_demand_mbs=tier_demand,
                )
            )
    return feeds


def _supply(tier: LustreTier) -> float:
    return float(tier.throughput_mbs)


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
