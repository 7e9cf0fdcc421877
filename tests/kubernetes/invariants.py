"""Cross-layer invariants between what the AWS side renders and what the Kubernetes side renders.

Each is read from the recorded resources of a preview (node groups, launch templates, Kueue
objects, Helm values), with the catalog as the only other input, so a wrong decision in the
model shows up as two layers that disagree.
"""

from __future__ import annotations

import base64
import itertools
import re
from typing import Any

import yaml

from gpufleet.catalog import load_catalog
from gpufleet.model.plan import ExistingNodes, FleetPlan
from gpufleet.preview import PreviewResult

KUEUE = "kubernetes:kueue.x-k8s.io/v1beta2"
RELEASE = "kubernetes:helm.sh/v3:Release"


def node_groups(plan: FleetPlan, result: PreviewResult) -> dict[str, dict[str, Any]]:
    """Pool -> what its nodes carry: labels, taints, max size, instance type, EFA interfaces."""
    groups = {}
    for pool in plan.pools:
        if isinstance(pool.source, ExistingNodes):
            groups[pool.name] = {
                "labels": dict(pool.source.node_selector),
                "taints": [],
                "max": pool.nodes.max,
                "instance": None,
                "efa": 0,
            }
            continue
        group = result.named("aws:eks/nodeGroup:NodeGroup", f"{pool.name}-nodes").inputs
        template = result.named("aws:ec2/launchTemplate:LaunchTemplate", f"{pool.name}-template").inputs
        effect = {"NO_SCHEDULE": "NoSchedule", "NO_EXECUTE": "NoExecute", "PREFER_NO_SCHEDULE": "PreferNoSchedule"}
        groups[pool.name] = {
            # The node group's labels, the kubelet's --node-labels from the launch template's user
            # data, and the instance type the kubelet labels every node with.
            "labels": {
                **group.get("labels", {}),
                **kubelet_node_labels(template),
                "node.kubernetes.io/instance-type": template["instanceType"],
            },
            "taints": [(t["key"], t["value"], effect[t["effect"]]) for t in group.get("taints", [])],
            "max": group["scalingConfig"]["maxSize"],
            "instance": template["instanceType"],
            "efa": sum(1 for nic in template.get("networkInterfaces", []) if nic.get("interfaceType") in ("efa", "efa-only")),
        }
    return groups


def kubelet_node_labels(template: dict[str, Any]) -> dict[str, str]:
    """The ``--node-labels`` a launch template's user data (base64 MIME) registers nodes with."""
    text = base64.b64decode(template["userData"]).decode()
    found = re.search(r"--node-labels=([^\s\"']+)", text)
    return dict(pair.split("=", 1) for pair in found.group(1).split(",")) if found else {}


def release_values(result: PreviewResult, name: str) -> dict[str, Any] | None:
    found = [r for r in result.of_type(RELEASE) if r.inputs["name"] == name]
    return found[0].inputs.get("values", {}) if found else None


def tolerates(tolerations: list[dict[str, Any]], taint: tuple[str, str, str]) -> bool:
    key, value, effect = taint
    for t in tolerations:
        if t.get("effect") not in (None, "", effect):
            continue
        if t.get("operator") == "Exists" and t.get("key") in (None, key):
            return True
        if t.get("operator", "Equal") == "Equal" and t.get("key") == key and t.get("value") == value:
            return True
    return False


def selects(labels: dict[str, str], selector: dict[str, str]) -> bool:
    return all(labels.get(key) == value for key, value in selector.items())


def violations(plan: FleetPlan, result: PreviewResult) -> list[str]:
    catalog = load_catalog()
    groups = node_groups(plan, result)
    found: list[str] = []
    flavors = {r.inputs["metadata"]["name"]: r.inputs["spec"] for r in result.of_type(f"{KUEUE}:ResourceFlavor")}
    queues = {r.inputs["metadata"]["name"]: r.inputs["spec"] for r in result.of_type(f"{KUEUE}:ClusterQueue")}
    gpu_pools = [p for p in plan.pools if p.accelerator is not None and p.accelerator.kind == "gpu"]

    # Each flavor's nodeLabels select exactly one pool's nodes, and its tolerations are that pool's taints.
    flavor_pool: dict[str, str] = {}
    for name, spec in flavors.items():
        matching = [pool for pool, group in groups.items() if selects(group["labels"], spec["nodeLabels"])]
        if len(matching) != 1:
            found.append(f"flavor {name} selects pools {matching}")
            continue
        flavor_pool[name] = matching[0]
        wanted = sorted(groups[matching[0]]["taints"])
        given = sorted((t["key"], t["value"], t["effect"]) for t in spec.get("tolerations", []))
        if given != wanted:
            found.append(f"flavor {name} tolerates {given}, pool {matching[0]} is tainted {wanted}")
    if {p.name for p in gpu_pools if p.workload != "system"} != set(flavor_pool.values()):
        found.append(f"flavors cover pools {sorted(flavor_pool.values())}")

    # The GPU Operator's daemon sets (and NFD, which labels for them) tolerate every GPU pool's taints.
    operator = release_values(result, "gpu-operator")
    if gpu_pools and operator is None:
        found.append("GPU pools but no GPU Operator")
    for pool in gpu_pools if operator else ():
        for taint in groups[pool.name]["taints"]:
            for where, tolerations in (
                ("daemonsets", operator["daemonsets"]["tolerations"]),
                ("node-feature-discovery", operator["node-feature-discovery"]["worker"]["tolerations"]),
            ):
                if not tolerates(tolerations, taint):
                    found.append(f"gpu-operator {where} does not tolerate {taint} of {pool.name}")

    # The EFA plugin runs on exactly the pools whose launch templates have EFA interfaces.
    efa = release_values(result, "aws-efa-k8s-device-plugin")
    efa_pools = {name for name, group in groups.items() if group["efa"]}
    if efa is None:
        if efa_pools:
            found.append(f"EFA pools {sorted(efa_pools)} but no EFA device plugin")
    else:
        chosen = {
            name
            for name, group in groups.items()
            if selects(group["labels"], efa["nodeSelector"]) and group["instance"] in efa["supportedInstanceLabels"]["values"]
        }
        if chosen != efa_pools:
            found.append(f"EFA plugin selects {sorted(chosen)}, EFA pools are {sorted(efa_pools)}")
        for name in efa_pools:
            for taint in groups[name]["taints"]:
                if not tolerates(efa["tolerations"], taint):
                    found.append(f"EFA plugin does not tolerate {taint} of {name}")

    # The MIG manager's ConfigMap is the stack's mig-parted config; every MIG label names an entry.
    maps = {r.inputs["metadata"]["name"]: r.inputs["data"] for r in result.of_type("kubernetes:core/v1:ConfigMap")}
    mig_entries: dict[str, Any] = {}
    if any(p.mig for p in plan.pools):
        name = operator["migManager"]["config"]["name"]
        text = maps[name]["config.yaml"]
        if text != plan.mig_config.to_yaml():
            found.append("MIG ConfigMap differs from the stack's mig-parted config")
        mig_entries = yaml.safe_load(text)["mig-configs"]
        for pool, group in groups.items():
            label = group["labels"].get("nvidia.com/mig.config")
            if label is not None and label not in mig_entries:
                found.append(f"{pool}: nvidia.com/mig.config={label} is no entry of the MIG ConfigMap")

    # Time-slicing: each sharing pool's label names a config of the device plugin's ConfigMap.
    sharing_configs: dict[str, int] = {}
    if operator and "devicePlugin" in operator:
        data = maps[operator["devicePlugin"]["config"]["name"]]
        for config_name, text in data.items():
            config = yaml.safe_load(text)
            for resource in config.get("sharing", {}).get("timeSlicing", {}).get("resources", []):
                sharing_configs[config_name] = resource["replicas"]
        for pool, group in groups.items():
            label = group["labels"].get("nvidia.com/device-plugin.config")
            if label is not None and label not in data:
                found.append(f"{pool}: device-plugin config {label} is not in the ConfigMap")

    # Queue quotas equal pool capacity (max nodes x what one node offers), summed over every queue.
    for name, pool_name in flavor_pool.items():
        pool = next(p for p in plan.pools if p.name == pool_name)
        group = groups[pool_name]
        nominal: dict[str, Any] = {}
        for queue in queues.values():
            for resource_group in queue["resourceGroups"]:
                for entry in resource_group["flavors"]:
                    if entry["name"] == name:
                        for quota in entry["resources"]:
                            amount = quota["nominalQuota"]
                            amount = int(str(amount).removesuffix("Mi"))
                            nominal[quota["name"]] = nominal.get(quota["name"], 0) + amount
        expected = _expected_capacity(plan, pool, group, catalog, mig_entries, sharing_configs)
        offered = {resource: amount for resource, amount in nominal.items() if amount}
        if offered != expected:
            found.append(f"flavor {name}: quotas {offered} != capacity {expected}")
        # CA (gpu_processor.go FilterOutNodesWithUnreadyResources): a node with the GPU label and no
        # allocatable nvidia.com/gpu "seems to have unready GPU" forever. The label goes exactly
        # where the node advertises nvidia.com/gpu.
        launched = group["instance"] is not None  # existing clusters run no Cluster Autoscaler of gpufleet's
        if launched and ("k8s.amazonaws.com/accelerator" in group["labels"]) != ("nvidia.com/gpu" in expected):
            found.append(
                f"{pool_name}: GPU label {'without' if 'nvidia.com/gpu' not in expected else 'missing with'} nvidia.com/gpu"
            )

    # No training queue can admit a job across two GPU types, whatever its pod sets: Kueue may give
    # each pod set any flavor of the queue's resource group, so every combination must be one type.
    for queue_name, spec in queues.items():
        if not queue_name.startswith("training-"):
            continue
        names = [entry["name"] for group in spec["resourceGroups"] for entry in group["flavors"]]
        for pod_sets in (1, 2, 3):
            for assignment in itertools.product(names, repeat=pod_sets):
                types = {
                    next(p for p in plan.pools if p.name == flavor_pool[f]).accelerator.name
                    for f in assignment
                    if f in flavor_pool
                }
                if len(types) > 1:
                    found.append(f"{queue_name} admits a {pod_sets}-pod-set job on {sorted(types)}")
                    break

    # Lab never preempts outside its queue; inference never borrows, so no reclaim can take its nodes.
    if "lab" in queues:
        preemption = queues["lab"]["preemption"]
        if preemption.get("reclaimWithinCohort") != "Never" or preemption.get("borrowWithinCohort", {}).get("policy") != "Never":
            found.append(f"lab may preempt other queues: {preemption}")
    if "inference" in queues:
        for group in queues["inference"]["resourceGroups"]:
            for entry in group["flavors"]:
                if any(quota.get("borrowingLimit") != 0 for quota in entry["resources"]):
                    found.append("inference may borrow, so reclaim could preempt it")
    priorities = {r.inputs["metadata"]["name"]: r.inputs["value"] for r in result.of_type(f"{KUEUE}:WorkloadPriorityClass")}
    if priorities and not priorities["gpufleet-inference"] > priorities["gpufleet-training"] > priorities["gpufleet-lab"]:
        found.append(f"priorities out of order: {priorities}")
    return found


def _expected_capacity(plan, pool, group, catalog, mig_entries, sharing_configs) -> dict[str, int]:
    nodes = group["max"]
    if group["instance"] is not None:
        instance = catalog.instance_types[group["instance"]]
        gpus, cpus, memory = instance.accelerator_count, instance.vcpus, instance.memory_mib
    else:
        gpus, cpus, memory = pool.source.gpus_per_node, pool.source.vcpus, pool.source.memory_gib * 1024
    # CPU and memory: a node's allocatable less the DaemonSets (validate --json's pod_allocatable)
    # times nodes.max, held below the node's capacity: nodeadm reserves CPU, and memory at least
    # 11 x maxPods + 255 MiB plus the 100 MiB eviction threshold (config.go), where maxPods is
    # "DefaultMaxENIs*(Ipv4AddressesPerInterface-1) + 2" (eni_max_pods.go).
    allocatable = plan.kubernetes.scheduling[pool.name].allocatable
    assert allocatable.pod_cpu < cpus, pool.name
    # (existing nodes: the kubelet's default maxPods)
    max_pods = instance.cards[0].max_interfaces * (instance.ipv4_per_interface - 1) + 2 if group["instance"] else 110
    assert allocatable.pod_memory_mib <= memory - (11 * max_pods + 255) - 100, pool.name
    expected = {"cpu": allocatable.pod_cpu * nodes, "memory": allocatable.pod_memory_mib * nodes}
    whole = gpus
    entry = group["labels"].get("nvidia.com/mig.config")
    for layout in mig_entries.get(entry, []) if entry else []:
        if not layout.get("mig-enabled"):
            continue
        devices = gpus if layout["devices"] == "all" else len(layout["devices"])
        whole -= devices
        for profile, count in layout.get("mig-devices", {}).items():
            resource = f"nvidia.com/mig-{profile}"
            expected[resource] = expected.get(resource, 0) + count * devices * nodes
    replicas = sharing_configs.get(group["labels"].get("nvidia.com/device-plugin.config", ""), 1)
    if whole:
        expected["nvidia.com/gpu"] = whole * replicas * nodes
    if group["efa"]:
        expected["vpc.amazonaws.com/efa"] = group["efa"] * nodes
        # EKS UG node-efa: EFA instances "pre-allocate 5128 2MiB Huge Pages, which you can request as resources".
        expected["hugepages-2Mi"] = catalog.efa_host.hugepages_2mib * 2 * nodes
    if pool.fabric is not None and pool.fabric.kind == "infiniband":
        expected[f"rdma/{pool.fabric_name.replace('-', '_')}"] = catalog.kubernetes.rdma.hca_max * nodes
    return dict(sorted(expected.items()))
