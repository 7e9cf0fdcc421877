"""Rules about prices: every pool the stack launches has a figure, from the table or the stack."""

from __future__ import annotations

from gpufleet.model import decisions
from gpufleet.model.cost import Unpriced, table_rate
from gpufleet.model.rules.registry import Problems, rule
from gpufleet.model.view import StackView


@rule(
    "GF-COST-001",
    "warning",
    "A pool on a capacity block or reservation with no price: no public table has one, so its cost is unknown.",
    "Add capacity.price: {hourly_usd: <per instance-hour>} or {upfront_usd: <whole reservation>, hours: <its length>}.",
)
def reserved_capacity_priced(view: StackView) -> Problems:
    if not view.on_aws:
        return
    for name, pool in view.pools():
        if pool.capacity.reserved and pool.capacity.price is None:
            yield (
                ("node_pools", name, "capacity"),
                f"{pool.capacity.type} {pool.capacity.reservation_id} has no price; the pool's cost is unknown and "
                "left out of every total until capacity.price gives it",
            )


@rule(
    "GF-COST-002",
    "warning",
    "An on-demand pool whose instance type has no on-demand figure in the catalog's price table for its region.",
    "Choose a type or region the table prices on demand (AWS sells some types only as capacity blocks), "
    "or reserve the capacity and give its price.",
)
def on_demand_priced(view: StackView) -> Problems:
    yield from _table_gaps(view, "on-demand")


@rule(
    "GF-COST-004",
    "info",
    "A spot pool whose instance type had no spot figure in the price table's snapshot for its zones.",
    "The pool still launches if spot capacity exists; its cost is unknown until the table has a figure.",
)
def spot_priced(view: StackView) -> Problems:
    yield from _table_gaps(view, "spot")


def _table_gaps(view: StackView, capacity: str) -> Problems:
    region = view.spec.cluster.region
    if not view.on_aws or region is None:
        return
    for name, pool in view.pools():
        instance = view.instance(pool)
        if instance is None or pool.capacity.type != capacity:
            continue
        rate = table_rate(view.catalog.prices, instance.name, region, capacity, decisions.pool_zones(view, pool))
        if isinstance(rate, Unpriced):
            field = "capacity" if "capacity" in pool.model_fields_set else "instance_type"
            yield ("node_pools", name, field), f"{rate.reason}; the pool's cost is unknown and left out of every total"
