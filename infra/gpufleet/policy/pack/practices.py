"""The guide's practices for heterogeneous GPU fleets, as stack policies over the rendered pools.

Pools are read from what the program registers (node groups, launch templates, their labels
and taints); what only the plan knows (mounts, models, MIG plans) comes from the stack's plan.
"""

from __future__ import annotations

from typing import Any

from gpufleet.catalog import load_catalog
from gpufleet.catalog.policy import Threshold, load_policy_defaults
from gpufleet.mig import judge_mig_parted_config
from gpufleet.model.plan import LocalNvmeTier, LustreTier
from gpufleet.names import ACCELERATOR_LABEL
from gpufleet.policy.pack.definitions import stack_policy
from gpufleet.policy.pack.graph import (
    MIG_LABEL,
    PRODUCTION_STACKS_SCHEMA,
    WORKLOAD_LABEL,
    PoolResources,
    at_field,
    component_urn,
    node_pools,
)
from gpufleet.policy.pack.plan import production, stack_plan, stack_spec
from gpufleet.policy.sizing import model_fits, serving_room, training_feeds

DEFAULTS = load_policy_defaults()


def _setting(kind: str, default: Threshold[Any], meaning: str, **bounds: int) -> dict[str, Any]:
    """A policy setting's JSON schema whose default is the catalog's threshold, with its sources."""
    return {"type": kind, **bounds, "default": default.value, "description": f"{meaning} Default from: {DEFAULTS.cited(default)}"}


KV_CACHE_MARGIN = {
    "kv_cache_margin": _setting(
        "number", DEFAULTS.kv_cache_margin, "KV-cache memory per inference replica, as a fraction of its weights.", minimum=0
    )
}
"""The setting of both policies that size replicas' memory (they must agree on the margin)."""


def _at_pool(report: Any, urn: str | None, message: str, pool: str, *field: str | int) -> None:
    """Report ``message`` on ``urn``, located at the pool's stack field ``node_pools.<pool>.<field>``."""
    report(at_field(message, "node_pools", pool, *field), urn)


def _multi_node_training(args: Any) -> list[PoolResources]:
    return [pool for pool in node_pools(args.resources) if pool.workload == "training" and pool.max_nodes > 1]


def _on_rdma(args: Any, report: Any) -> None:
    for pool in _multi_node_training(args):
        if pool.efa_interfaces == 0:
            written = stack_spec(args).node_pools.get(pool.name)
            message = (
                f"pool {pool.name}: trains on up to {pool.max_nodes} nodes over plain Ethernet; give it a fabric of kind efa."
            )
            if written is not None and written.allow_non_rdma:
                message += (
                    " allow_non_rdma: true lets validate accept TCP, but this policy is mandatory: give the pool an efa "
                    'fabric, or make it advisory in the policy config ({"training-on-rdma-fabric": "advisory"}).'
                )
                _at_pool(report, pool.urn, message, pool.name, "allow_non_rdma")
            else:
                _at_pool(report, pool.urn, message, pool.name, "fabric")


def _every_efa_interface(args: Any, report: Any) -> None:
    catalog = load_catalog()
    for pool in _multi_node_training(args):
        if pool.efa_interfaces == 0:
            continue
        for name in pool.instance_types:
            instance = catalog.instance_type(name)
            if instance is not None and pool.efa_interfaces < instance.max_efa_interfaces:
                _at_pool(
                    report,
                    pool.urn,
                    f"pool {pool.name}: {name} supports {instance.max_efa_interfaces} EFA interfaces but its launch template "
                    f"carries {pool.efa_interfaces}; lay out one per EFA-capable network card.",
                    pool.name,
                    "fabric",
                )


def _one_subnet(args: Any, report: Any) -> None:
    for pool in _multi_node_training(args):
        subnets = (pool.node_group.props.get("subnetIds") if pool.node_group else None) or []
        if len(subnets) != 1:
            _at_pool(
                report,
                pool.urn,
                f"pool {pool.name}: multi-node training spans {len(subnets)} subnets; keep it in one zone "
                "(node_pools.<pool>.availability_zone).",
                pool.name,
                "availability_zone",
            )


def _reserved(pool: PoolResources) -> str | None:
    template = pool.launch_template.props if pool.launch_template else {}
    market = (template.get("instanceMarketOptions") or {}).get("marketType")
    if market == "capacity-block" or (pool.node_group and pool.node_group.props.get("capacityType") == "CAPACITY_BLOCK"):
        return "capacity block"
    target = (template.get("capacityReservationSpecification") or {}).get("capacityReservationTarget") or {}
    if target.get("capacityReservationId") or target.get("capacityReservationResourceGroupArn"):
        return "targeted capacity reservation"
    return None


def _cluster_placement(args: Any, report: Any) -> None:
    for pool in _multi_node_training(args):
        placement = (pool.launch_template.props.get("placement") if pool.launch_template else None) or {}
        reserved = _reserved(pool)
        if reserved is None and not placement.get("groupName"):
            _at_pool(
                report,
                pool.urn,
                f"pool {pool.name}: multi-node training without a cluster placement group; set placement: cluster "
                "(or reserve capacity: a capacity block or a reservation places it).",
                pool.name,
                "placement",
            )
        elif reserved == "capacity block" and placement.get("groupName"):
            _at_pool(
                report,
                pool.urn,
                f"pool {pool.name}: a placement group on top of a capacity block makes launches fail; drop the pool's placement.",
                pool.name,
                "placement",
            )


def _one_gpu_type(args: Any, report: Any) -> None:
    catalog = load_catalog()
    for pool in node_pools(args.resources):
        if pool.workload != "training":
            continue
        gpus = sorted(
            {
                instance.accelerator
                for name in pool.instance_types
                if (instance := catalog.instance_type(name)) and instance.accelerator
            }
        )
        if len(gpus) > 1:
            _at_pool(
                report,
                pool.urn,
                f"pool {pool.name}: one training pool mixes {', '.join(gpus)}; the slowest sets the pace, so give each GPU "
                "type a pool of its own.",
                pool.name,
                "instance_type",
            )


def _kept_apart(args: Any, report: Any) -> None:
    for pool in node_pools(args.resources):
        if pool.workload != "training":
            continue
        taints = (pool.node_group.props.get("taints") if pool.node_group else None) or []
        if not any(
            t.get("key") == WORKLOAD_LABEL and t.get("value") == "training" and t.get("effect") in ("NO_SCHEDULE", "NO_EXECUTE")
            for t in taints
        ):
            _at_pool(
                report,
                pool.urn,
                f"pool {pool.name}: training nodes lack the {WORKLOAD_LABEL}=training:NoSchedule taint, so inference pods "
                "can land on them; gpufleet taints every pool of workload: training.",
                pool.name,
                "workload",
            )


def _mig_configs(args: Any) -> str:
    """The mig-parted config the cluster will mount: a rendered ConfigMap if the program
    registers one, else the config gpufleet renders from the stack's MIG plans."""
    for resource in args.resources:
        if resource.resource_type == "kubernetes:core/v1:ConfigMap":
            data = resource.props.get("data") or {}
            texts = [value for value in data.values() if isinstance(value, str) and "mig-configs" in value]
            if texts:
                return texts[0]
    return stack_plan(args).mig_config.to_yaml()


def _mig_label_feasible(args: Any, report: Any) -> None:
    pools = [pool for pool in node_pools(args.resources) if MIG_LABEL in pool.labels]
    if not pools:
        return
    catalog = load_catalog()
    verdicts = judge_mig_parted_config(catalog, _mig_configs(args))
    for pool in pools:
        value = pool.labels[MIG_LABEL]
        entries = [v for v in verdicts if v.config == value]
        accelerator = catalog.accelerator(pool.labels.get(ACCELERATOR_LABEL, ""))
        if not entries:
            _at_pool(
                report,
                pool.urn,
                f"pool {pool.name}: {MIG_LABEL}={value} names no entry of the mig-parted config; give the pool a plan of mig_plans.",
                pool.name,
                "mig",
            )
            continue
        reaching = [v for v in entries if accelerator is None or v.gpu in (None, accelerator.name)]
        failing = [reason for v in reaching if v.fails for reason in v.reasons]
        if not reaching:
            _at_pool(
                report,
                pool.urn,
                f"pool {pool.name}: {MIG_LABEL}={value} has no entry for {accelerator.name if accelerator else 'its GPU'}; "
                "plan it for this GPU (mig_plans.<plan>.gpu).",
                pool.name,
                "mig",
            )
        elif failing:
            _at_pool(
                report,
                pool.urn,
                (f"pool {pool.name}: {MIG_LABEL}={value} cannot be applied: {'; '.join(failing)}"),
                pool.name,
                "mig",
            )


def _storage_feeds(args: Any, report: Any) -> None:
    per_gpu = float(args.get_config().get("read_mbs_per_gpu", DEFAULTS.training_read_mbs_per_gpu.value))
    for feed in training_feeds(stack_plan(args), per_gpu):
        if feed.ratio < 1:
            report(
                at_field(
                    f"pool {feed.pool}: storage tier {feed.tier}'s disks deliver {feed.tier_supply_mbs:,.0f} MB/s "
                    f"(capacity_tib x throughput_per_tib) to training pools needing {feed.tier_demand_mbs:,.0f} MB/s "
                    f"({feed.need_mbs_per_gpu:g} MB/s per GPU of {feed.pool}), feed ratio {feed.ratio:.2f}; raise "
                    f"storage.{feed.tier}.capacity_tib or throughput_per_tib.",
                    "storage",
                    feed.tier,
                    "capacity_tib",
                ),
                component_urn(args.resources, "pool", feed.pool),
            )


def _models_fit(args: Any, report: Any) -> None:
    margin = float(args.get_config().get("kv_cache_margin", DEFAULTS.kv_cache_margin.value))
    plan = stack_plan(args)
    for fit in model_fits(plan, margin):
        if not fit.fits:
            _at_pool(
                report,
                component_urn(args.resources, "pool", fit.pool),
                f"pool {fit.pool}: model {fit.model} needs {fit.need_gib:.1f} GiB but has {fit.have_gib:.1f} GiB ({fit.basis}); "
                "use a GPU with more memory, more GPUs, a lower precision or a larger MIG slice.",
                fit.pool,
                "models",
                _model_index(plan, fit.pool, fit.model),
            )


def _model_index(plan: Any, pool: str, model: str) -> int:
    return next(index for index, served in enumerate(_pool(plan, pool).models) if served.name == model)


def _pool(plan: Any, name: str) -> Any:
    return next(pool for pool in plan.pools if pool.name == name)


def _queues(args: Any, workload: str) -> list[tuple[Any, Any, list[str]]]:
    """The Kueue ClusterQueues for one workload class (their ``gpufleet.io/workload`` label),
    each with the pools its flavors stand for (a flavor is named after its pool)."""
    found = []
    for queue in args.resources:
        if not (queue.resource_type.startswith("kubernetes:kueue.x-k8s.io/") and queue.resource_type.endswith(":ClusterQueue")):
            continue
        metadata = queue.props.get("metadata") or {}
        if (metadata.get("labels") or {}).get(WORKLOAD_LABEL) != workload:
            continue
        groups = (queue.props.get("spec") or {}).get("resourceGroups") or []
        flavors = sorted({flavor.get("name") for group in groups for flavor in group.get("flavors") or []} - {None})
        found.append((metadata.get("name") or queue.name, queue.urn, flavors))
    return found


def _plan_pools(args: Any) -> dict[str, Any]:
    return {pool.name: pool for pool in stack_plan(args).pools}


def _queue_one_gpu_type(args: Any, report: Any) -> None:
    queues = _queues(args, "training")
    if not queues:
        return
    pools = _plan_pools(args)
    for name, urn, flavors in queues:
        gpus = sorted({pools[flavor].accelerator.name for flavor in flavors if flavor in pools and pools[flavor].accelerator})
        if len(gpus) > 1:
            report(
                f"queue {name}: admits training onto {', '.join(gpus)} (pools {', '.join(flavors)}); give each GPU type a queue of its own.",
                urn,
            )


def _queues_apart(args: Any, report: Any) -> None:
    pools = None
    for workload, other in (("training", "inference"), ("inference", "training")):
        for name, urn, flavors in _queues(args, workload):
            pools = pools or _plan_pools(args)
            crossing = [flavor for flavor in flavors if flavor in pools and pools[flavor].workload == other]
            if crossing:
                report(
                    f"{workload} queue {name}: admits onto {other} pool(s) {', '.join(crossing)}; drop those flavors from the queue.",
                    urn,
                )


def _scale_to_zero(args: Any, report: Any) -> None:
    """Capacity paid whether it runs or not (a capacity block, a reservation) is not idling: it
    costs the same at zero nodes, so it is never asked to scale to zero."""
    config = args.get_config()
    if production(args):
        return
    threshold = int(config.get("expensive_gpus_per_node", DEFAULTS.expensive_gpus_per_node.value))
    catalog = load_catalog()
    for pool in node_pools(args.resources):
        gpus = max(
            (instance.accelerator_count for name in pool.instance_types if (instance := catalog.instance_type(name))), default=0
        )
        if gpus >= threshold and pool.min_nodes > 0 and _reserved(pool) is None:
            _at_pool(
                report,
                pool.urn,
                f"pool {pool.name}: keeps {pool.min_nodes} node(s) of {gpus} GPUs running outside production; set "
                "nodes.min to 0 (or say the stack is production: cluster.production: true).",
                pool.name,
                "nodes",
                "min",
            )


# --- what only the plan says: which job reaches which pool, what a pool holds ------------------


def _later(plan: Any, first: str, second: str) -> tuple[str, str]:
    """The pool written first and the one written after it (the finding points at the second)."""
    a, b = _pool(plan, first), _pool(plan, second)
    return (first, second) if (a.location.line, first) <= (b.location.line, second) else (second, first)


def _selector_one_gpu_type(args: Any, report: Any) -> None:
    """Two training pools of different GPU types that one job can reach: a label both carry (a
    node selector on it matches both), or the same model (its job is scheduled on either)."""
    plan, spec = stack_plan(args), stack_spec(args)
    training = [pool for pool in plan.pools if pool.workload == "training" and pool.accelerator is not None]
    for index, one in enumerate(training):
        for other in training[index + 1 :]:
            if _gpu(one) == _gpu(other):
                continue
            first, second = _later(plan, one.name, other.name)
            gpus = f"{first} ({_gpu(_pool(plan, first))}) and {second} ({_gpu(_pool(plan, second))})"
            shared = sorted(set(spec.node_pools[first].labels.items()) & set(spec.node_pools[second].labels.items()))
            if shared:
                labels = ", ".join(f"{key}={value}" for key, value in shared)
                _at_pool(
                    report,
                    component_urn(args.resources, "pool", second),
                    f"pools {gpus} both carry {labels}: a job selecting it runs on either GPU type, and the slowest sets the "
                    "pace; give each GPU type's training pool labels of its own (a job can select gpufleet.io/accelerator).",
                    second,
                    "labels",
                )
            models = {model.name for model in _pool(plan, first).models}
            for position, model in enumerate(_pool(plan, second).models):
                if model.name in models:
                    _at_pool(
                        report,
                        component_urn(args.resources, "pool", second),
                        (f"pools {gpus} both train {model.name}: its job can be placed on either GPU type; train it on one."),
                        second,
                        "models",
                        position,
                    )


def _gpu(pool: Any) -> str:
    return pool.accelerator.name if pool.accelerator else "-"


def _training_serves_nothing(args: Any, report: Any) -> None:
    for pool in stack_plan(args).pools:
        if pool.workload != "training":
            continue
        for position, model in enumerate(pool.models):
            if model.replicas > 1:
                _at_pool(
                    report,
                    component_urn(args.resources, "pool", pool.name),
                    f"pool {pool.name} trains and serves: model {model.name} declares {model.replicas} replicas. Serving "
                    "wants low latency, training the whole node; serve it from a pool of workload: inference.",
                    pool.name,
                    "models",
                    position,
                    "replicas",
                )


def _training_fast_tier(args: Any, report: Any) -> None:
    least = int(args.get_config().get("min_gpus", DEFAULTS.fast_tier_min_gpus.value))
    for pool in stack_plan(args).pools:
        if pool.workload != "training" or pool.gpus_max < least:
            continue
        if any(isinstance(tier, LustreTier | LocalNvmeTier) for tier in pool.storage):
            continue
        reads = ", ".join(tier.name for tier in pool.storage) or "no tier at all"
        _at_pool(
            report,
            component_urn(args.resources, "pool", pool.name),
            f"pool {pool.name} trains on up to {pool.gpus_max} GPUs with no fast tier ({reads}): every GPU reads "
            "straight from object storage. Add an fsx-lustre tier (import_from the s3 tier) or a local-nvme tier "
            "to its storage.",
            pool.name,
            "storage",
        )


def _serving_fits_pool(args: Any, report: Any) -> None:
    margin = float(args.get_config().get("kv_cache_margin", DEFAULTS.kv_cache_margin.value))
    for room in serving_room(stack_plan(args), margin):
        if room.overflow is not None:
            position, model = room.overflow
            _at_pool(
                report,
                component_urn(args.resources, "pool", room.pool),
                f"pool {room.pool} holds {room.capacity} replica(s) at nodes.max ({room.basis}) but its models declare "
                f"{room.replicas}: the replicas of {model} past {room.capacity} never schedule. Raise nodes.max, lower "
                "models[].replicas, or give each replica less (a lower precision, smaller MIG slices that still fit).",
                room.pool,
                "models",
                position,
                "replicas",
            )


POLICIES = [
    stack_policy(
        "GF-PRC-001",
        "training-on-rdma-fabric",
        "Multi-node training pools are on an RDMA fabric (allow_non_rdma does not change this policy).",
        _on_rdma,
        fix="Give the pool a fabric of kind efa (node_pools.<pool>.fabric); allow_non_rdma only quiets validate.",
        category="practice",
    ),
    stack_policy(
        "GF-PRC-002",
        "training-efa-interfaces-complete",
        "Multi-node training pools carry every EFA interface their instance type supports.",
        _every_efa_interface,
        fix="Keep the pool on a fabric of kind efa (node_pools.<pool>.fabric): gpufleet lays out one EFA interface per EFA-capable network card.",
        category="practice",
    ),
    stack_policy(
        "GF-PRC-003",
        "training-one-subnet",
        "Multi-node training pools sit in one subnet, hence one zone.",
        _one_subnet,
        fix="Keep multi-node training in one zone: node_pools.<pool>.availability_zone (or the reservation's zone).",
        category="practice",
    ),
    stack_policy(
        "GF-PRC-004",
        "training-cluster-placement",
        "Multi-node training is in a cluster placement group unless reserved capacity places it.",
        _cluster_placement,
        fix="Set node_pools.<pool>.placement: cluster, or buy capacity: capacity-block (no placement) or a reservation.",
        category="practice",
    ),
    stack_policy(
        "GF-PRC-005",
        "training-one-gpu-type",
        "A training pool holds one GPU type.",
        _one_gpu_type,
        fix="Give each GPU type a pool of its own: one instance_type per pool.",
        category="practice",
    ),
    stack_policy(
        "GF-PRC-006",
        "training-inference-apart",
        "Training nodes are tainted so inference workloads stay off them.",
        _kept_apart,
        fix="Keep the pool's workload: training (gpufleet taints those nodes gpufleet.io/workload=training:NoSchedule).",
        category="practice",
    ),
    stack_policy(
        "GF-PRC-007",
        "mig-config-feasible",
        "Each nvidia.com/mig.config label names a feasible entry of the mig-parted config.",
        _mig_label_feasible,
        fix="Give the pool (node_pools.<pool>.mig) a plan of mig_plans made for its GPU.",
        category="practice",
    ),
    stack_policy(
        "GF-PRC-008",
        "hot-storage-feeds-training",
        "Hot storage tiers' disks deliver the read throughput the training pools mounting them need.",
        _storage_feeds,
        fix="Raise storage.<tier>.capacity_tib or throughput_per_tib (its disks deliver throughput_per_tib MB/s per TiB), or mount fewer pools on it.",
        category="practice",
        schema={
            "read_mbs_per_gpu": _setting(
                "number",
                DEFAULTS.training_read_mbs_per_gpu,
                "Read MB/s one training GPU draws, for pools whose stack says none (node_pools.<pool>.read_mbs_per_gpu wins).",
                exclusiveMinimum=0,
            )
        },
    ),
    stack_policy(
        "GF-PRC-009",
        "models-fit-gpu-memory",
        "The models a pool trains or serves fit its GPU memory.",
        _models_fit,
        fix="Choose a node_pools.<pool>.instance_type with more GPU memory, a larger nodes.max, a lower models[].precision or larger MIG slices.",
        category="practice",
        schema=KV_CACHE_MARGIN,
    ),
    stack_policy(
        "GF-PRC-010",
        "non-production-scale-to-zero",
        "Outside production, GPU pools can scale to zero (capacity paid regardless, a capacity block or a reservation, is not asked to).",
        _scale_to_zero,
        fix="Set node_pools.<pool>.nodes.min: 0, or say the stack is production (cluster.production: true).",
        category="practice",
        schema={
            **PRODUCTION_STACKS_SCHEMA,
            "expensive_gpus_per_node": _setting(
                "integer",
                DEFAULTS.expensive_gpus_per_node,
                "Pools with at least this many GPUs per node must scale to zero.",
                minimum=0,
            ),
        },
    ),
    stack_policy(
        "GF-PRC-011",
        "training-queue-one-gpu-type",
        "Each training queue admits onto one GPU type.",
        _queue_one_gpu_type,
        fix="Give each GPU type its own training pool: gpufleet makes each training pool's flavor a queue of its own.",
        category="practice",
    ),
    stack_policy(
        "GF-PRC-012",
        "training-inference-queues-apart",
        "No queue admits both training and inference workloads.",
        _queues_apart,
        fix="Keep training and inference pools apart (node_pools.<pool>.workload): gpufleet queues each workload on its own pools.",
        category="practice",
    ),
    stack_policy(
        "GF-PRC-013",
        "training-selector-one-gpu-type",
        "No job can reach training pools of two GPU types: they share no label and train no model in common.",
        _selector_one_gpu_type,
        fix="Give each GPU type's training pool labels of its own (node_pools.<pool>.labels) and train each model on one of them.",
        category="practice",
    ),
    stack_policy(
        "GF-PRC-014",
        "training-pool-serves-nothing",
        "Training pools serve no replicas: training and serving are on pools of their own.",
        _training_serves_nothing,
        fix="Serve the model from a pool of workload: inference; drop replicas from node_pools.<pool>.models[] of a training pool.",
        category="practice",
    ),
    stack_policy(
        "GF-PRC-015",
        "training-has-fast-tier",
        "Training pools with many GPUs read through a fast tier (fsx-lustre or local NVMe), not straight from object storage.",
        _training_fast_tier,
        fix="Add an fsx-lustre tier (import_from the s3 tier) or a local-nvme tier and list it in node_pools.<pool>.storage.",
        category="practice",
        schema={
            "min_gpus": _setting(
                "integer", DEFAULTS.fast_tier_min_gpus, "Training pools with at least this many GPUs need a fast tier.", minimum=1
            )
        },
    ),
    stack_policy(
        "GF-PRC-016",
        "serving-fits-pool",
        "An inference pool at nodes.max holds every replica its models declare.",
        _serving_fits_pool,
        fix="Raise node_pools.<pool>.nodes.max or lower models[].replicas (or give replicas less memory).",
        category="practice",
        schema=KV_CACHE_MARGIN,
    ),
]
