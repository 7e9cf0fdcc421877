"""The resolved plan: a spec joined with catalog facts, checked, with every decision made."""

from gpufleet.model.plan import FleetPlan, Pool
from gpufleet.model.resolve import efa_layout, resolve, subnet_slot

__all__ = ["FleetPlan", "PoolPlan", "efa_layout", "resolve", "subnet_slot"]
