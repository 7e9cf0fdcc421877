"""The guide's practices for heterogeneous GPU fleets, as stack policies over the rendered pools.

Pools are read from what the program registers (node groups, launch templates, their labels
and taints); what only the plan knows (mounts, models, MIG plans) comes from the stack's plan.
"""

from __future__ import annotations

from typing import Any

from gpufleet.catalog import load_catalog
from gpufleet.catalog.policy import load_policy_defaults
from gpufleet.mig import judge_mig_parted_config
from gpufleet.names import ACCELERATOR_LABEL
from gpufleet.policy.pack.definitions import stack_policy
from gpufleet.policy.pack.graph import (
    MIG_LABEL,
    PRODUCTION_STACKS_SCHEMA,
    WORKLOAD_LABEL,
    PoolResources,
    component_urn,
    is_production,
    node_pools,
)
from gpufleet.policy.pack.plan import stack_plan
from gpufleet.policy.sizing import model_fits, training_feeds

DEFAULTS = load_policy_defaults()


def _multi_node_training(args: Any) -> list[PoolResources]:
    return [pool for pool in node_pools(args.resources) if pool.workload == "training" and pool.max_nodes > 1]


def _on_rdma(args: Any, report: Any) -> None:
    for pool in _multi_node_training(args):
        if pool.efa_interfaces == 0:
            report(
                f"pool {pool.name}: trains on up to {pool.max_nodes} nodes over plain Ethernet; give it a fabric of kind efa.",
                pool.urn,
            )


def _every_efa_interface(args: Any, report: Any) -> None:
    catalog = load_catalog()
    for pool in _multi_node_training(args):
        if pool.efa_interfaces == 0:
            continue
        for name in pool.instance_types:
            instance = catalog.instance_type(name)
            if instance is not None and pool.efa_interfaces < instance.max_efa_interfaces:
                report(
                    f"pool {pool.name}: {name} supports {instance.max_efa_interfaces} EFA interfaces but its launch template carries "
                    f"{pool.efa_interfaces}; lay out one per EFA-capable network card.",
                    pool.urn,
                )


def _one_subnet(args: Any, report: Any) -> None:
    for pool in _multi_node_training(args):
        subnets = (pool.node_group.props.get("subnetIds") if pool.node_group else None) or []
        if len(subnets) != 1:
            report(
                f"pool {pool.name}: multi-node training spans {len(subnets)} subnets; keep it in one subnet of one zone.",
                pool.urn,
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
            report(
                f"pool {pool.name}: multi-node training without a cluster placement group; set placement: cluster (or reserve capacity).",
                pool.urn,
            )
        elif reserved == "capacity block" and placement.get("groupName"):
            report(
                f"pool {pool.name}: a placement group on top of a capacity block makes launches fail; drop the placement.",
                pool.urn,
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
            report(
                f"pool {pool.name}: one training pool mixes {', '.join(gpus)}; the slowest sets the pace, so give each GPU type a pool of its own.",
                pool.urn,
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
            report(
                f"pool {pool.name}: training nodes lack the {WORKLOAD_LABEL}=training:NoSchedule taint, so inference pods can land on them; add it.",
                pool.urn,
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
            report(
                f"pool {pool.name}: {MIG_LABEL}={value} names no entry of the mig-parted config; use one of its configs or add the plan.",
                pool.urn,
            )
            continue
        reaching = [v for v in entries if accelerator is None or v.gpu in (None, accelerator.name)]
        failing = [reason for v in reaching if v.fails for reason in v.reasons]
        if not reaching:
            report(
                f"pool {pool.name}: {MIG_LABEL}={value} has no entry for {accelerator.name if accelerator else 'its GPU'}; plan it for this GPU.",
                pool.urn,
            )
        elif failing:
            report(f"pool {pool.name}: {MIG_LABEL}={value} cannot be applied: {'; '.join(failing)}", pool.urn)


def _storage_feeds(args: Any, report: Any) -> None:
    per_gpu = float(args.get_config().get("read_mbs_per_gpu", DEFAULTS.training_read_mbs_per_gpu.value))
    for feed in training_feeds(stack_plan(args), per_gpu):
        if feed.ratio < 1:
            report(
                f"pool {feed.pool}: storage tier {feed.tier} delivers {feed.tier_supply_mbs:,.0f} MB/s to training pools needing "
                f"{feed.tier_demand_mbs:,.0f} MB/s ({per_gpu:g} MB/s per GPU), feed ratio {feed.ratio:.2f}; raise the tier's capacity or throughput_per_tib.",
                component_urn(args.resources, "pool", feed.pool),
            )


def _models_fit(args: Any, report: Any) -> None:
    margin = float(args.get_config().get("kv_cache_margin", DEFAULTS.kv_cache_margin.value))
    for fit in model_fits(stack_plan(args), margin):
        if not fit.fits:
            report(
                f"pool {fit.pool}: model {fit.model} needs {fit.need_gib:.1f} GiB but has {fit.have_gib:.1f} GiB ({fit.basis}); "
                "use a GPU with more memory, more GPUs, a lower precision or a larger MIG slice.",
                component_urn(args.resources, "pool", fit.pool),
            )


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
    config = args.get_config()
    if is_production(config):
        return
    threshold = int(config.get("expensive_gpus_per_node", DEFAULTS.expensive_gpus_per_node.value))
    catalog = load_catalog()
    for pool in node_pools(args.resources):
        gpus = max(
            (instance.accelerator_count for name in pool.instance_types if (instance := catalog.instance_type(name))), default=0
        )
        if gpus >= threshold and pool.min_nodes > 0:
            report(
                f"pool {pool.name}: keeps {pool.min_nodes} node(s) of {gpus} GPUs running outside production; set nodes.min to 0.",
                pool.urn,
            )


POLICIES = [
    stack_policy(
        "GF-PRC-001",
        "training-on-rdma-fabric",
        "Multi-node training pools are on an RDMA fabric.",
        _on_rdma,
        fix="Attach the pool to a fabric of kind efa.",
        category="practice",
    ),
    stack_policy(
        "GF-PRC-002",
        "training-efa-interfaces-complete",
        "Multi-node training pools carry every EFA interface their instance type supports.",
        _every_efa_interface,
        fix="Lay out one EFA interface per EFA-capable network card.",
        category="practice",
    ),
    stack_policy(
        "GF-PRC-003",
        "training-one-subnet",
        "Multi-node training pools sit in one subnet, hence one zone.",
        _one_subnet,
        fix="Give the training pool a single subnet.",
        category="practice",
    ),
    stack_policy(
        "GF-PRC-004",
        "training-cluster-placement",
        "Multi-node training is in a cluster placement group unless reserved capacity places it.",
        _cluster_placement,
        fix="Use placement: cluster, or a capacity block or targeted reservation without a placement group.",
        category="practice",
    ),
    stack_policy(
        "GF-PRC-005",
        "training-one-gpu-type",
        "A training pool holds one GPU type.",
        _one_gpu_type,
        fix="Split the pool: one instance type family per GPU.",
        category="practice",
    ),
    stack_policy(
        "GF-PRC-006",
        "training-inference-apart",
        "Training nodes are tainted so inference workloads stay off them.",
        _kept_apart,
        fix="Taint training nodes gpufleet.io/workload=training:NoSchedule.",
        category="practice",
    ),
    stack_policy(
        "GF-PRC-007",
        "mig-config-feasible",
        "Each nvidia.com/mig.config label names a feasible entry of the mig-parted config.",
        _mig_label_feasible,
        fix="Label nodes with a config the mig-parted file holds and that fits their GPU.",
        category="practice",
    ),
    stack_policy(
        "GF-PRC-008",
        "hot-storage-feeds-training",
        "Hot storage tiers deliver the read throughput the training pools mounting them need.",
        _storage_feeds,
        fix="Raise the tier's capacity or per-TiB throughput, or mount fewer pools on it.",
        category="practice",
        schema={
            "read_mbs_per_gpu": {
                "type": "number",
                "exclusiveMinimum": 0,
                "default": DEFAULTS.training_read_mbs_per_gpu.value,
                "description": f"Read MB/s one training GPU draws. Default from: {DEFAULTS.cited(DEFAULTS.training_read_mbs_per_gpu)}",
            }
        },
    ),
    stack_policy(
        "GF-PRC-009",
        "models-fit-gpu-memory",
        "The models a pool trains or serves fit its GPU memory.",
        _models_fit,
        fix="Choose GPUs with more memory, more of them, a lower precision or larger MIG slices.",
        category="practice",
        schema={
            "kv_cache_margin": {
                "type": "number",
                "minimum": 0,
                "default": DEFAULTS.kv_cache_margin.value,
                "description": f"KV-cache memory per inference replica, as a fraction of its weights. Default from: {DEFAULTS.cited(DEFAULTS.kv_cache_margin)}",
            }
        },
    ),
    stack_policy(
        "GF-PRC-010",
        "non-production-scale-to-zero",
        "Outside production, GPU pools can scale to zero.",
        _scale_to_zero,
        fix="Set nodes.min to 0 for GPU pools of non-production stacks.",
        category="practice",
        schema={
            **PRODUCTION_STACKS_SCHEMA,
            "expensive_gpus_per_node": {
                "type": "integer",
                "minimum": 0,
                "default": DEFAULTS.expensive_gpus_per_node.value,
                "description": f"Pools with at least this many GPUs per node must scale to zero. Default from: {DEFAULTS.cited(DEFAULTS.expensive_gpus_per_node)}",
            },
        },
    ),
    stack_policy(
        "GF-PRC-011",
        "training-queue-one-gpu-type",
        "Each training queue admits onto one GPU type.",
        _queue_one_gpu_type,
        fix="Give each GPU type its own training ClusterQueue.",
        category="practice",
    ),
    stack_policy(
        "GF-PRC-012",
        "training-inference-queues-apart",
        "No queue admits both training and inference workloads.",
        _queues_apart,
        fix="Queue training and inference workloads in separate ClusterQueues.",
        category="practice",
    ),
]
