"""The resolved plan: a stack joined with catalog facts, checked by named rules, every decision made."""

from gpufleet.model.decisions import efa_layout
from gpufleet.model.plan import FleetPlan, Pool
from gpufleet.model.resolve import resolve

__all__ = ["FleetPlan", "Pool", "efa_layout", "resolve"]
