"""What a plan costs, as commands show it: the ``--json`` block and a short table for people.

Figures come from ``gpufleet.model.cost``; this only lays them out. Today's date (which decides
whether the price table is stale) comes from ``today()``, which a caller may fix with
``GPUFLEET_TODAY=YYYY-MM-DD`` so that output is the same whatever day it runs.
"""

from __future__ import annotations

import os
from datetime import date
from typing import TYPE_CHECKING, Any

from gpufleet.catalog import Catalog
from gpufleet.commands.console import new_table
from gpufleet.errors import UsageError
from gpufleet.findings import Finding
from gpufleet.model.cost import HOURS_PER_30_DAYS, FleetCost, cents, exact, money, stale_prices

if TYPE_CHECKING:
    from rich.table import Table

TODAY = "GPUFLEET_TODAY"


def today() -> date:
    """The date the price table's age is judged against: ``$GPUFLEET_TODAY``, else the clock's."""
    fixed = os.environ.get(TODAY)
    if not fixed:
        return date.today()
    try:
        return date.fromisoformat(fixed)
    except ValueError:
        raise UsageError(f"{TODAY}={fixed!r} is not a date (YYYY-MM-DD)") from None


def cost_findings(catalog: Catalog, on: date) -> list[Finding]:
    stale = stale_prices(catalog.prices, on)
    return [stale] if stale else []


def cost_json(cost: FleetCost, budget_usd: float | None) -> dict[str, Any]:
    return {**cost.as_json(), "monthly_budget_usd": None if budget_usd is None else money(exact(budget_usd))}


def _usd(value: Any) -> str:
    return "-" if value is None else f"${cents(value):,}"


def cost_table(cost: FleetCost, budget_usd: float | None = None) -> Table:
    """Per pool and tier: what it costs per hour at its node counts and per 30 days at its floor and ceiling."""
    where = f" in {cost.region}" if cost.region else ""
    table = new_table(title=f"cost{where} (prices of {cost.as_of}; spot is that day's snapshot)")
    for column in ("pool / tier", "priced as", "per node-hour", "per hour min-max", "30 days floor", "30 days ceiling"):
        table.add_column(column, justify="left" if column in ("pool / tier", "priced as") else "right")
    for pool in cost.pools:
        rate = pool.rate
        if rate is None:
            table.add_row(pool.name, f"not priced: {pool.unpriced}", "-", "-", "-", "-")
            continue
        floor, ceiling = pool.floor_per_hour, pool.ceiling_per_hour
        table.add_row(
            pool.name,
            rate.basis + (", paid whether nodes run or not" if rate.paid_regardless else ""),
            f"${rate.usd_per_hour}",
            f"{_usd(floor)} - {_usd(ceiling)}",
            _usd(floor * HOURS_PER_30_DAYS if floor is not None else None),
            _usd(ceiling * HOURS_PER_30_DAYS if ceiling is not None else None),
        )
    for tier in cost.tiers:
        shown = _usd(tier.per_30_days)
        what = tier.what if tier.unpriced is None else f"{tier.what}; not priced: {tier.unpriced}"
        table.add_row(tier.name, what, "-", "-", shown, shown)
    table.add_row(
        "total",
        f"{cost.gpu_hours_floor:,} GPU-hours per 30 days at the floor",
        "-",
        f"{_usd(cost.per_hour('floor'))} - {_usd(cost.per_hour('ceiling'))}",
        _usd(cost.per_30_days("floor")),
        _usd(cost.per_30_days("ceiling")),
    )
    notes = []
    if cost.excluded:
        notes.append(f"totals leave out {', '.join(cost.excluded)} (no figure)")
    if budget_usd is not None:
        notes.append(f"monthly budget {_usd(exact(budget_usd))}")
    table.caption = "; ".join(notes) or None
    return table


def share_lines(cost: FleetCost) -> list[str]:
    """MIG slices and services, and time-sliced replicas: what one share of a GPU costs."""
    lines = []
    for pool in cost.pools:
        if pool.slices:
            slices = ", ".join(f"{s.profile} {_usd(s.usd_per_hour)}" for s in pool.slices)
            lines.append(f"{pool.name}: per MIG slice per hour (its compute slices' share of the GPU): {slices}")
        for service in pool.services:
            lines.append(
                f"{pool.name}: service {service.service} holds {service.replicas} x {service.profile}: "
                f"{_usd(service.usd_per_replica_hour)} per replica-hour, {_usd(service.usd_per_hour)} per hour"
            )
        if pool.time_sliced_replica_per_hour is not None:
            lines.append(
                f"{pool.name}: per time-sliced replica ({pool.time_slicing_replicas} per GPU): "
                f"{_usd(pool.time_sliced_replica_per_hour)} per hour"
                + (" (spot snapshot)" if pool.rate and pool.rate.snapshot else "")
            )
    return lines
