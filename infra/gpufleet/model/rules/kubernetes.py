"""Rules for the stack's Kubernetes side: existing nodes, GPU sharing, queues and namespaces."""

from __future__ import annotations

from collections.abc import Iterable

from gpufleet.model.aws import decide_bootstrap_admin, decide_deploy_path
from gpufleet.model.plan import FleetPlan, LustreTier
from gpufleet.model.rules.registry import Problem, Problems, duplicates, plan_rule, rule, unknown
from gpufleet.model.view import StackView
from gpufleet.stack.models import Capacity

DEFAULT_CAPACITY = Capacity()

EXISTING_NODE_FIELDS = ("node_selector", "gpu", "gpus_per_node", "cpus_per_node", "memory_gib_per_node", "taints")
EXISTING = "provider kubernetes uses existing nodes"


@rule(
    "GF-K8S-001",
    "error",
    "provider kubernetes pools describe existing nodes; provider aws pools describe nodes gpufleet launches.",
    "provider kubernetes: node_selector, gpu, gpus_per_node, cpus_per_node, memory_gib_per_node; provider aws: instance_type.",
)
def nodes_described_for_the_provider(view: StackView) -> Problems:
    for name, pool in view.pools():
        path = ("node_pools", name)
        if view.on_aws:
            for field_name in EXISTING_NODE_FIELDS:
                if getattr(pool, field_name) is not None:
                    yield (
                        (*path, field_name),
                        f"{field_name} describes existing nodes (provider kubernetes); on provider aws gpufleet launches instance_type",
                    )
            if pool.instance_type is None:
                yield path, "provider aws needs instance_type: the EC2 type gpufleet launches for this pool"
            continue
        if pool.instance_type is not None:
            yield (
                (*path, "instance_type"),
                f"{EXISTING}: describe them with node_selector, gpu and gpus_per_node instead of instance_type",
            )
        for field_name, what in (("mig", "a MIG plan"), ("sharing", "time-slicing"), ("labels", "labels")):
            if getattr(pool, field_name):
                yield (
                    (*path, field_name),
                    f"{EXISTING}, and {what} needs node labels gpufleet sets on nodes it creates: label the nodes yourself and select them",
                )
        if pool.capacity != DEFAULT_CAPACITY:
            yield (
                (*path, "capacity"),
                f"{EXISTING}: capacity ({pool.capacity.type}) says how gpufleet buys the nodes it launches; "
                "existing nodes are already running, so leave capacity out",
            )
        if pool.node_selector is None:
            yield path, f"{EXISTING}: give node_selector, the labels that pick this pool's nodes"
        if pool.gpu is not None and pool.gpus_per_node is None:
            yield (*path, "gpu"), "give gpus_per_node too: queue quotas count the GPUs of every node"
        elif pool.gpu is None and pool.workload != "system":
            yield (*path, "workload"), f"a {pool.workload} pool needs gpu (the catalog GPU its nodes carry) and gpus_per_node"
        elif pool.gpu is None and pool.gpus_per_node is not None:
            yield (*path, "gpus_per_node"), "gpus_per_node needs gpu, the catalog GPU the nodes carry"
        for field_name in ("cpus_per_node", "memory_gib_per_node"):
            if pool.gpu is not None and getattr(pool, field_name) is None:
                yield path, f"give {field_name} too: the pool's queue quota counts the CPU and memory of every node"
        fabric = view.fabric(pool)
        if fabric is not None and fabric.kind == "efa":
            yield (*path, "fabric"), "EFA exists only on AWS instances; existing nodes use an infiniband or ethernet fabric"


@rule(
    "GF-K8S-006",
    "error",
    "Existing nodes said to carry a GPU the catalog does not know.",
    "Use a catalog GPU name (`gpufleet catalog`).",
)
def existing_gpu_known(view: StackView) -> Problems:
    if view.on_aws:
        return
    for name, pool in view.pools():
        if pool.gpu is not None and view.catalog.accelerator(pool.gpu) is None:
            yield ("node_pools", name, "gpu"), unknown("GPU", pool.gpu, view.catalog.accelerators)


@rule(
    "GF-K8S-002",
    "error",
    "Only lab pools with NVIDIA GPUs and no MIG plan may time-slice their GPUs.",
    "Drop sharing, or move the work to a lab pool.",
)
def time_slicing_only_on_lab_gpus(view: StackView) -> Problems:
    for name, pool in view.pools():
        instance = view.instance(pool)
        if pool.sharing is None or instance is None or not view.on_aws:
            continue
        where, accelerator = ("node_pools", name, "sharing"), view.catalog.accelerator_of(instance)
        if pool.workload != "lab":
            yield (
                where,
                f"time-slicing gives no memory or fault isolation between pods; only lab pools may share GPUs, not {pool.workload}",
            )
        if accelerator is None or accelerator.kind != "gpu":
            yield where, "time-slicing shares NVIDIA GPUs; this pool has none"
        if pool.mig is not None:
            yield where, "a pool either partitions its GPUs with MIG or time-slices them; drop sharing or mig"


@rule(
    "GF-K8S-003",
    "error",
    "A namespace named twice, or a queue namespace with no pool of its workload class.",
    "Name each namespace once; add a pool of that workload class or drop the namespace.",
)
def namespaces_named_once_and_served(view: StackView) -> Problems:
    for workload in ("training", "inference", "lab"):
        namespaces = getattr(view.spec.queues, workload)
        if not namespaces:
            continue
        path = ("queues", workload)
        yield from ((where[:-1], message) for where, message in duplicates(path, list(namespaces), "namespace"))
        if not any(pool.workload == workload for pool in view.spec.node_pools.values()):
            yield path, f"no {workload} pool: a {workload} queue would admit nothing"
    for name, tier in sorted(view.spec.storage.items()):
        names = list(getattr(tier, "namespaces", ()))
        yield from ((where[:-1], message) for where, message in duplicates(("storage", name, "namespaces"), names, "namespace"))


@rule(
    "GF-K8S-004",
    "error",
    "An existing cluster has at most one InfiniBand fabric: one NicClusterPolicy serves it.",
    "Merge the InfiniBand fabrics into one.",
)
def one_infiniband_fabric(view: StackView) -> Problems:
    if view.on_aws:
        return
    infiniband = sorted(name for name, fabric in view.spec.fabrics.items() if fabric.kind == "infiniband")
    for name in infiniband[1:]:
        yield (
            ("fabrics", name, "kind"),
            (
                f"one infiniband fabric per cluster: the Network Operator reconciles a single NicClusterPolicy, which serves '{infiniband[0]}'"
            ),
        )


@rule(
    "GF-K8S-005",
    "error",
    "provider kubernetes creates nothing cloud-side: no s3 or fsx-lustre tiers.",
    "Use s3 and fsx-lustre tiers only with provider aws.",
)
def no_cloud_storage_on_existing_clusters(view: StackView) -> Problems:
    if view.on_aws:
        return
    for name, tier in sorted(view.spec.storage.items()):
        if tier.kind != "local-nvme":
            yield (
                ("storage", name, "kind"),
                f"provider kubernetes creates nothing cloud-side, so no {tier.kind} tier; only local-nvme",
            )


@rule(
    "GF-K8S-007",
    "error",
    "Two pools of existing nodes whose selectors pick the same nodes.",
    "Give each pool a label the other's nodes do not carry (a different value for a key both select on).",
)
def existing_pools_apart(view: StackView) -> Problems:
    """A node every label of one selector matches and that carries the other's labels too
    belongs to both pools: Kueue then offers its GPUs in both flavors and counts them twice.
    When one selector holds every label of the other, every node the narrower one picks is
    picked by both (unless it picks none at all)."""
    if view.on_aws:
        return
    selected = [(name, pool.node_selector) for name, pool in view.pools() if pool.node_selector]
    for index, (name, selector) in enumerate(selected):
        for other, earlier in selected[:index]:
            if selector == earlier:
                reason = f"it selects exactly the nodes pool {other} selects ({_labels(selector)})"
            elif earlier.items() <= selector.items():
                reason = (
                    f"pool {other} selects on {_labels(earlier)}, a part of this selector, so it has every node of this pool too"
                )
            elif selector.items() <= earlier.items():
                reason = f"this selector ({_labels(selector)}) is a part of pool {other}'s, so this pool has every node of pool {other} too"
            else:
                continue
            yield ("node_pools", name, "node_selector"), f"{reason}: Kueue would count those nodes' GPUs in both pools"


def _labels(selector: dict[str, str]) -> str:
    return ", ".join(f"{key}={value}" for key, value in sorted(selector.items()))


@rule(
    "GF-K8S-008",
    "error",
    "pulumi up could not reach the Kubernetes API it creates objects through.",
    "List the deployer's addresses (public_cidrs) or network (private_cidrs), or set endpoint.deploy_from: in-vpc.",
)
def deployer_reaches_the_api(view: StackView) -> Problems:
    cluster = view.spec.cluster
    if not view.on_aws:
        return
    path = decide_deploy_path(cluster.name, cluster.endpoint)
    if path.refused:
        yield ("cluster", "endpoint"), path.refused


@rule(
    "GF-K8S-009",
    "error",
    "With admins listed, the principal running pulumi up has no Kubernetes access unless it is one of them.",
    "Name it as cluster.deployer and list it under cluster.admins.",
)
def deployer_is_an_admin(view: StackView) -> Problems:
    cluster = view.spec.cluster
    if not view.on_aws or decide_bootstrap_admin(cluster).value == "true":
        return
    why = (
        "with admins listed, EKS makes no one a cluster-admin at creation (bootstrapClusterCreatorAdminPermissions "
        "false), so every Kubernetes object pulumi up creates would be refused with 401/403"
    )
    if cluster.deployer is None:
        yield ("cluster", "admins"), f"{why}: name the principal that runs pulumi up as cluster.deployer and list it here"
    elif cluster.deployer not in cluster.admins:
        yield ("cluster", "deployer"), f"{why}: {cluster.deployer} is not listed under cluster.admins"


@rule(
    "GF-K8S-010",
    "error",
    "A pool of Neuron (Inferentia, Trainium) instances: gpufleet renders no Neuron device plugin, flavor or queue.",
    "Use an NVIDIA GPU instance type, or run Neuron nodes outside gpufleet.",
)
def no_neuron_pools(view: StackView) -> Problems:
    for name, pool in view.pools():
        accelerator = view.accelerator(pool)
        if accelerator is not None and accelerator.kind != "gpu":
            yield (
                ("node_pools", name, "instance_type"),
                f"{pool.instance_type} carries {accelerator.name} ({accelerator.kind}); the AL2023 Neuron AMI has no "
                "device plugin and gpufleet installs none, so its devices would never be advertised "
                "(aws.amazon.com/neuron), no queue would reach the pool and the autoscaler could not size it",
            )


@plan_rule(
    "GF-K8S-011",
    "error",
    "A ClusterQueue larger than Kueue's API accepts: the API server would refuse it.",
    "Split the pools of that workload class across fewer GPU types, or fewer pools.",
)
def queues_kueue_accepts(plan: FleetPlan) -> Iterable[Problem]:
    queues = plan.kubernetes.queues
    if queues is None or queues.limits is None:
        return
    limits = queues.limits
    for queue in queues.cluster_queues:
        allowed = limits.flavors_allowed(len(queue.resources))
        if len(queue.flavors) <= allowed and len(queue.resources) <= limits.resources_per_queue:
            continue
        first_over = queue.flavors[min(allowed, len(queue.flavors) - 1)].flavor
        yield (
            ("node_pools", first_over),
            f"ClusterQueue {queue.name} would list {len(queue.flavors)} flavors (one per {queue.workload} pool) over "
            f"{len(queue.resources)} resources in its one resource group; Kueue accepts at most {allowed} "
            f"({limits.flavors_per_group} flavors a group, {limits.flavor_resources_per_group} flavor-resource pairs)",
        )


@plan_rule(
    "GF-K8S-012",
    "error",
    "A file system's claim offered in a namespace whose queues reach pools that cannot mount it.",
    "Mount the tier on those pools (their storage), or offer the claim only in namespaces whose queues stay on its clients.",
)
def claims_only_where_clients_run(plan: FleetPlan) -> Iterable[Problem]:
    """Namespace -> its LocalQueues -> their ClusterQueues -> flavors -> pools: every pool a pod of
    the namespace can be admitted to must be a client of the tier, or a pod mounting the claim is
    admitted where the volume's node affinity never lets it run (or, without it, hangs mounting)."""
    queues = plan.kubernetes.queues
    if queues is None:
        return
    pool_of = {flavor.name: flavor.pool for flavor in queues.flavors}
    for tier in plan.storage:
        if not isinstance(tier, LustreTier):
            continue
        clients = {pool.name for pool in plan.pools if any(t.name == tier.name for t in pool.storage)}
        for index, namespace in enumerate(tier.namespaces):
            reached = {
                pool_of[quota.flavor]
                for local in queues.local_queues
                if local.namespace == namespace
                for queue in queues.cluster_queues
                if queue.name == local.cluster_queue
                for quota in queue.flavors
            }
            outside = sorted(reached - clients)
            if outside:
                yield (
                    ("storage", tier.name, "namespaces", index),
                    f"{namespace}'s queues reach pools {', '.join(outside)}, which do not mount {tier.name} (its clients: "
                    f"{', '.join(sorted(clients)) or 'none'}): a pod there using the claim could never mount the file system",
                )


@plan_rule(
    "GF-K8S-013",
    "error",
    "queues.stop names a ClusterQueue the stack does not render: nothing would be stopped.",
    "Use a ClusterQueue name from `gpufleet validate --json` (training-<gpu>, inference, lab), or remove the entry.",
)
def stopped_queues_exist(plan: FleetPlan) -> Iterable[Problem]:
    queues = plan.kubernetes.queues
    known = sorted(queue.name for queue in queues.cluster_queues) if queues is not None else []
    for name in plan.queues.stop:
        if name not in known:
            yield (
                ("queues", "stop", name),
                f"no ClusterQueue {name}: the stack renders {', '.join(known) or 'none'}; a queue already removed "
                "needs no stop entry",
            )
