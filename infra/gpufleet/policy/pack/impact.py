"""The replacement gate: an edit of a production stack that replaces a training pool's node
group, its subnet or a retained storage tier fails unless the stack acknowledges it. Beside it,
warnings for edits EKS or Kueue make wait or stop a job: a capacity block's pool rolled while
it may run, a Kueue queue deleted without being stopped first.

The edit is this stack's resources against a base: the ``resources.json`` of the same stack
before the change (config key ``gpufleet:impact-base``; ``gpufleet check --base`` previews
the base and sets it). Both go through the same classifier as ``gpufleet diff --impact``; with
no base the policy is not applicable.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from gpufleet.catalog import load_catalog
from gpufleet.impact import Rendered, classify, queue_removals
from gpufleet.impact.gate import NODE_GROUP, capacity_block_rolls, replacements
from gpufleet.policy.pack.definitions import stack_policy
from gpufleet.policy.pack.graph import PRODUCTION_STACKS_SCHEMA, at_field, component_urn, stack_config
from gpufleet.policy.pack.plan import production, stack_plan

BASE_KEY = "gpufleet:impact-base"


def _plain(value: Any) -> Any:
    """A property as plain data (the SDK hands policies read-only proxies)."""
    if isinstance(value, Mapping):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, Iterable) and not isinstance(value, str | bytes):
        return [_plain(item) for item in value]
    return value


def rendered(resource: Any) -> Rendered:
    """A resource the engine handed the pack, as the classifier reads it."""
    return Rendered(
        urn=resource.urn,
        type=resource.resource_type,
        name=resource.name,
        parent=resource.parent.urn if resource.parent is not None else None,
        inputs=_plain(resource.props),
        custom=not resource.resource_type.startswith(("gpufleet:", "pulumi:pulumi:")),
        protect=bool(resource.opts.protect) if resource.opts else False,
        property_dependencies={key: tuple(dep.urn for dep in deps) for key, deps in resource.property_dependencies.items()},
    )


def _base(args: Any) -> list[Rendered]:
    configured = stack_config().get(BASE_KEY)
    if not configured:
        args.not_applicable(f"no base to compare with: run gpufleet check --base, or set config {BASE_KEY} to a resources.json")
    document = json.loads(Path(str(configured)).read_text(encoding="utf-8"))
    return [Rendered.from_json(record) for record in document["resources"]]


def _edit(args: Any) -> tuple[Any, ...]:
    """This stack's resources classified against the base's."""
    return classify(_base(args), [rendered(resource) for resource in args.resources], load_catalog().impact)


def _capacity_block_rolls(args: Any, report: Any) -> None:
    plan = stack_plan(args)
    for found in capacity_block_rolls(_edit(args), plan, load_catalog().impact):
        report(found.message, component_urn(args.resources, "pool", found.pool) or found.resource.urn)


def _unstopped_queue_removals(args: Any, report: Any) -> None:
    new = [rendered(resource) for resource in args.resources]
    for found in queue_removals(_base(args), new):
        report(at_field(found.message, "queues"), None)


def _unacknowledged_replacements(args: Any, report: Any) -> None:
    plan = stack_plan(args)
    if not production(args):
        return
    impacts = _edit(args)
    subnets = {
        resource.parent.name: tuple(dep.urn for dep in resource.property_dependencies.get("subnetIds", ()))
        for resource in args.resources
        if resource.resource_type == NODE_GROUP and resource.parent is not None
    }
    allowed = (*plan.cluster.may_replace, *(args.get_config().get("may_replace") or ()))
    for found in replacements(impacts, plan, subnets, allowed):
        owner = "pool" if found.kind == "pool" else "storage tier"
        report(found.message, component_urn(args.resources, owner, found.name) or found.resource.urn)


POLICIES = [
    stack_policy(
        "GF-IMP-006",
        "production-replacement-acknowledged",
        "An edit of a production stack replaces no training pool's node group or subnet and no retained "
        "storage tier unless the stack names it in may_replace.",
        _unacknowledged_replacements,
        fix="Undo the edit that forces the replacement, or add the pool or tier to the stack's may_replace "
        "(gpufleet check --allow-replace NAME for one run) and remove it after the change is applied.",
        category="impact",
        schema={
            **PRODUCTION_STACKS_SCHEMA,
            "may_replace": {
                "type": "array",
                "items": {"type": "string"},
                "default": [],
                "description": "Pools and storage tiers this run may replace (gpufleet check --allow-replace).",
            },
        },
    ),
    stack_policy(
        "GF-IMP-007",
        "capacity-block-pool-scaled-to-zero-before-update",
        "An edit that rolls or replaces the nodes of a pool on a capacity block is applied with the pool at "
        'desired size 0 or after the block ends (EKS: "When upgrading managed node groups with Capacity Blocks, '
        'make sure that the desired size of the node group is set to 0.").',
        _capacity_block_rolls,
        fix="Scale the pool to 0 first (aws eks update-nodegroup-config --scaling-config desiredSize=0), apply, then "
        "raise desired again; or apply the edit after the block ends.",
        category="impact",
        enforcement="advisory",
    ),
    stack_policy(
        "GF-IMP-008",
        "kueue-queue-stopped-before-removal",
        "An edit deletes no Kueue ClusterQueue (nor a flavor one lists) that the stack before it did not stop: "
        "Kueue's resource-in-use finalizer holds the delete until the queue's admitted workloads finish.",
        _unstopped_queue_removals,
        fix="Stop the queue first (queues.stop: {NAME: hold}, or hold-and-drain to evict), pulumi up, then remove it.",
        category="impact",
        enforcement="advisory",
    ),
]
