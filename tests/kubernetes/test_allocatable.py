"""Quotas on what a node can hold, not its raw capacity (issue 23, "Smaller": quotas on raw capacity)."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from gpufleet.catalog import load_catalog
from gpufleet.cli import app
from tests.kubernetes.conftest import REPO, rendered
from tests.kubernetes.test_autoscaler import TEMPLATE, group_tags

KUEUE = "kubernetes:kueue.x-k8s.io/v1beta2"


def _nominal(result, flavor: str) -> dict[str, str | int]:
    """The flavor's nominal quota per resource, summed over the ClusterQueues that hold it."""
    found: dict[str, str | int] = {}
    for queue in result.of_type(f"{KUEUE}:ClusterQueue"):
        for group in queue.inputs["spec"]["resourceGroups"]:
            for entry in group["flavors"]:
                if entry["name"] == flavor:
                    found.update({quota["name"]: quota["nominalQuota"] for quota in entry["resources"]})
    return found


def test_a_training_pools_quota_is_nodeadms_allocatable_less_its_daemonsets() -> None:
    """nodeadm (amazon-eks-ami v20250620, nodeadm/internal/kubelet/config.go) sets
    ``"memory": fmt.Sprintf("%dMi", getMemoryMebibytesToReserve(ksc.MaxPods))`` with
    ``return 11*maxPods + 255``, reserves CPU by ``cpuPercentageReservedForRanges := []int{600,
    100, 50, 25}`` per 10000 of the ranges ``{0, 1000, 2000, 4000, total}`` millicores, and evicts
    at ``"memory.available": "100Mi"``; maxPods is ``DefaultMaxENIs*(Ipv4AddressesPerInterface-1)
    + 2`` (eni_max_pods.go). The kubelet removes "every huge page reservation ... from allocatable
    memory" (nodestatus/setters.go). Kueue admits on quota alone (cluster_queue.md: quotas are
    logical), so prod's train-h200 quota, by hand from the catalog, is what 16 p5e nodes can hold:
    the EFA plugin and the FSx node plugin (chart values) request the rest."""
    catalog = load_catalog()
    facts = catalog.kubernetes.node_allocatable
    p5e = catalog.instance_types["p5e.48xlarge"]
    max_pods = p5e.cards[0].max_interfaces * (p5e.ipv4_per_interface - 1) + 2
    millicores = p5e.vcpus * 1000
    reserved_cpu = 1000 * 600 // 10000 + 1000 * 100 // 10000 + 2000 * 50 // 10000 + (millicores - 4000) * 25 // 10000
    daemonsets = [facts.daemonsets["aws-efa-k8s-device-plugin"], facts.daemonsets["aws-fsx-csi-driver"]]
    cpu = (millicores - reserved_cpu - sum(d.cpu_millicores for d in daemonsets)) // 1000
    reported = p5e.memory_mib * (100 - facts.vm_memory_overhead_percent) / 100
    memory = (
        int(reported) - catalog.efa_host.hugepages_2mib * 2 - (11 * max_pods + 255) - 100 - sum(d.memory_mib for d in daemonsets)
    )
    per_node_gib = memory // 1024

    plan, result = rendered("prod", str(REPO / "stacks"))
    pool = next(p for p in plan.pools if p.name == "train-h200")
    assert pool.nodes.max == 16
    quota = _nominal(result, "train-h200")
    assert quota["cpu"] == cpu * 16
    assert quota["memory"] == f"{per_node_gib * 1024 * 16}Mi"
    # Below the raw capacity it used to be.
    assert cpu < p5e.vcpus and per_node_gib * 1024 < p5e.memory_mib


def test_kueues_quota_is_the_per_node_allocatable_times_the_pools_maximum(tmp_path) -> None:
    """Every flavor of every example stack: each resource group's nominal CPU and memory are the
    per-node figure ``validate --json`` shows (``pod_allocatable``, with its reason) times
    ``nodes.max``, and below the nodes' capacity; the autoscaler's scale-from-zero template says the
    kubelet's allocatable (aws_manager.go takes ``node-template/resources/*`` tags as the template's
    capacity, and "TODO: use proper allocatable!!" uses it as allocatable; DaemonSet pods it adds
    itself), which is at least what pods get."""
    runner = CliRunner()
    for stack in ("prod", "staging", "dev", "onprem"):
        out = runner.invoke(app, ["validate", str(REPO / "stacks" / f"{stack}.yaml"), "--json"])
        assert out.exit_code == 0, out.output
        pools = {p["pool"]: p for p in json.loads(out.output)["stacks"][0]["pools"]}
        plan, result = rendered(stack, str(REPO / "stacks"))
        tags = group_tags(result)
        for pool in plan.pools:
            shown = pools[pool.name]["pod_allocatable"]
            assert "maxPods" in pools[pool.name]["pod_allocatable_reason"]
            # (an existing pool may state 0 CPU and memory: nothing then)
            assert shown["cpu"] < pool.vcpus_per_node or shown["cpu"] == 0
            assert int(shown["memory"].removesuffix("Mi")) < pool.memory_mib_per_node or shown["memory"] == "0Mi"
            quota = _nominal(result, pool.name)
            if quota:
                assert quota["cpu"] == shown["cpu"] * pool.nodes.max, (stack, pool.name)
                assert quota["memory"] == f"{int(shown['memory'].removesuffix('Mi')) * pool.nodes.max}Mi"
            if pool.name in tags:
                template = tags[pool.name]
                assert int(template[f"{TEMPLATE}/resources/cpu"].removesuffix("m")) >= shown["cpu"] * 1000
                assert int(template[f"{TEMPLATE}/resources/memory"].removesuffix("Mi")) >= int(shown["memory"].removesuffix("Mi"))
                assert int(template[f"{TEMPLATE}/resources/cpu"].removesuffix("m")) < pool.vcpus_per_node * 1000
