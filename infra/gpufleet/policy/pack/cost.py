"""The budget gate: a stack's 30-day floor and ceiling against what it may cost.

Figures are ``gpufleet.model.cost``'s, from the stack's plan and the catalog's price table, the
same ones ``gpufleet validate`` shows. A budget comes from the stack file
(``cluster.monthly_budget_usd``) and from the policy config (``monthly_budget_usd``: one figure
for every stack, or one per environment, the stack's name); when several apply, the smallest
holds. ``monthly-budget`` fails the check when the floor or the ceiling is over it;
``monthly-budget-headroom`` warns when either is within the warning band below it. Each result
is located at the pool that costs most at the bound that crossed the line.
"""

from __future__ import annotations

import os
from decimal import Decimal
from typing import Any

from gpufleet.catalog import load_catalog
from gpufleet.model.cost import HOURS_PER_30_DAYS, Bound, FleetCost, cents, exact, fleet_cost
from gpufleet.policy.pack.definitions import stack_policy
from gpufleet.policy.pack.graph import component_urn
from gpufleet.policy.pack.plan import stack_plan

WARN_FRACTION = 0.8
BOUNDS: tuple[Bound, ...] = ("floor", "ceiling")
BUDGET_SCHEMA = {
    "monthly_budget_usd": {
        "type": ["number", "object"],
        "exclusiveMinimum": 0,
        "additionalProperties": {"type": "number", "exclusiveMinimum": 0},
        "description": "US dollars per 30 days: one figure for every stack, or an object of environment "
        "(stack name) -> figure. The stack file's cluster.monthly_budget_usd applies too; the smallest holds.",
    }
}


def budget(args: Any, stack: str, from_stack: float | None) -> tuple[Decimal, str] | None:
    """The smallest budget that applies to ``stack``, and where it was set."""
    found = []
    if from_stack is not None:
        found.append((exact(from_stack), "cluster.monthly_budget_usd"))
    configured = args.get_config().get("monthly_budget_usd")
    if isinstance(configured, dict):
        if stack in configured:
            found.append((exact(float(configured[stack])), f"policy config monthly_budget_usd.{stack}"))
    elif configured is not None:
        found.append((exact(float(configured)), "policy config monthly_budget_usd"))
    return min(found, default=None)


def _judged(args: Any) -> tuple[FleetCost, Decimal, str] | None:
    plan = stack_plan(args)
    stack = os.environ.get("PULUMI_STACK") or plan.stack
    limit = budget(args, stack, plan.cluster.monthly_budget_usd)
    if limit is None:
        return None
    catalog = load_catalog()
    return fleet_cost(plan, catalog.prices, catalog.mig), *limit


def _report_at_costliest(args: Any, report: Any, cost: FleetCost, bound: Bound, message: str) -> None:
    costliest = cost.costliest(bound)
    hourly = costliest.bound_per_hour(bound) if costliest else None
    if costliest is None or hourly is None:
        report(message + _caveats(cost), None)
        return
    named = f" (pool {costliest.name} costs most: ${cents(hourly * HOURS_PER_30_DAYS):,})"
    report(message + named + _caveats(cost), component_urn(args.resources, "pool", costliest.name))


def _caveats(cost: FleetCost) -> str:
    notes = []
    if cost.snapshot:
        notes.append(f"spot at the {cost.as_of} snapshot")
    if cost.excluded:
        notes.append(f"without {', '.join(cost.excluded)}, which have no price")
    return f"; {'; '.join(notes)}" if notes else ""


def _over_budget(args: Any, report: Any) -> None:
    judged = _judged(args)
    if judged is None:
        return
    cost, limit, source = judged
    for bound in BOUNDS:
        total = cost.per_30_days(bound)
        if total > limit:
            message = f"the 30-day {bound} ${cents(total):,} is over the budget ${cents(limit):,} ({source})"
            _report_at_costliest(args, report, cost, bound, message)


def _near_budget(args: Any, report: Any) -> None:
    judged = _judged(args)
    if judged is None:
        return
    cost, limit, source = judged
    fraction = Decimal(repr(float(args.get_config().get("warn_fraction", WARN_FRACTION))))
    for bound in BOUNDS:
        total = cost.per_30_days(bound)
        if limit * fraction <= total <= limit:
            message = (
                f"the 30-day {bound} ${cents(total):,} is {total / limit:.0%} of the budget ${cents(limit):,} ({source}), "
                f"at or above the {fraction:.0%} warning band"
            )
            _report_at_costliest(args, report, cost, bound, message)


POLICIES = [
    stack_policy(
        "GF-CST-001",
        "monthly-budget",
        "The stack's 30-day floor and ceiling stay within its monthly budget.",
        _over_budget,
        fix="Lower nodes.min or nodes.max of the pool that costs most, choose cheaper capacity, or raise the budget.",
        category="cost",
        schema=BUDGET_SCHEMA,
    ),
    stack_policy(
        "GF-CST-002",
        "monthly-budget-headroom",
        "The stack's 30-day floor and ceiling stay below the warning band of its monthly budget.",
        _near_budget,
        fix="Leave room under the budget: lower the costliest pool's nodes, or raise the budget knowingly.",
        category="cost",
        enforcement="advisory",
        schema={
            **BUDGET_SCHEMA,
            "warn_fraction": {
                "type": "number",
                "exclusiveMinimum": 0,
                "maximum": 1,
                "default": WARN_FRACTION,
                "description": "Warn when the floor or ceiling reaches this fraction of the budget.",
            },
        },
    ),
]
