"""Rules about prices: every pool the stack launches has a figure, from the table or the stack."""

from __future__ import annotations

from gpufleet.model import decisions
from gpufleet.model.cost import Unpriced, table_rate
from gpufleet.model.rules.registry import rule
from gpufleet.model.view import StackView


@rule(
    "GF-COST-001",
    "warning",
    "A pool on a capacity block or reservation with no price: no public table has one, so its cost is unknown.",
    "Add capacity.price: {hourly_usd: <per instance-hour>} or {upfront_usd: <whole reservation>, hours: <its length>}.",
)
def reserved_capacity_priced(view: StackView):
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
    "A pool whose instance type has no on-demand or spot figure in the catalog's price table for its region or zones.",
    "Choose a type or region the table prices, reserve the capacity and give its price, or add the figure to the table.",
)
def table_prices_pool(view: StackView):
    region = view.spec.cluster.region
    if not view.on_aws or region is None:
        return
    for name, pool in view.pools():
        instance = view.instance(pool)
        if instance is None or pool.capacity.reserved:
            continue
        rate = table_rate(view.catalog.prices, instance.name, region, pool.capacity.type, decisions.pool_zones(view, pool))
        if isinstance(rate, Unpriced):
            field = "capacity" if "capacity" in pool.model_fields_set else "instance_type"
            yield ("node_pools", name, field), f"{rate.reason}; the pool's cost is unknown and left out of every total"
