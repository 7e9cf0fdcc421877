"""The Cluster Autoscaler does what the stack says (issue 23: #4, #7, #11, #25, S4)."""

from __future__ import annotations

from pathlib import Path

import yaml

from gpufleet.catalog import load_catalog
from tests.kubernetes.conftest import REPO, rendered
from tests.kubernetes.invariants import release_values
from tests.program.conftest import preview_file

TEMPLATE = "k8s.io/cluster-autoscaler/node-template"
PROD = REPO / "stacks" / "prod.yaml"


def group_tags(result) -> dict[str, dict[str, str]]:
    """Pool -> the tags gpufleet manages on its Auto Scaling group."""
    found: dict[str, dict[str, str]] = {}
    for tag in result.of_type("aws:autoscaling/tag:Tag"):
        pool = tag.name.split("-k8s.io/", 1)[0]
        found.setdefault(pool, {})[tag.inputs["tag"]["key"]] = tag.inputs["tag"]["value"]
    return found


def test_a_fully_mig_pool_is_a_cpu_pool_to_the_autoscaler() -> None:
    """cluster-autoscaler 1.33.6 processors/customresources/gpu_processor.go: a node with the GPU
    label (AWS: ``k8s.amazonaws.com/accelerator``) whose allocatable has no ``nvidia.com/gpu`` is
    "Overriding status of node %v, which seems to have unready GPU"; FAQ: once unready nodes pass
    45% (and 3), "CA stops all operations". A node whose every GPU is MIG-partitioned never
    advertises nvidia.com/gpu, so prod's serve-h100 carries no GPU label, and its scale-from-zero
    template says 0 GPUs (aws_manager.go buildNodeFromTemplate takes the GPU count from its
    instance table, and node-template resources tags override it)."""
    plan, result = rendered("prod", str(REPO / "stacks"))
    serve = next(pool for pool in plan.pools if pool.name == "serve-h100")
    assert serve.mig is not None and all(layout.layout for layout in serve.mig.device_layouts)
    group = result.named("aws:eks/nodeGroup:NodeGroup", "serve-h100-nodes").inputs
    assert "k8s.amazonaws.com/accelerator" not in group["labels"]
    tags = group_tags(result)["serve-h100"]
    assert tags[f"{TEMPLATE}/resources/nvidia.com/gpu"] == "0"
    assert f"{TEMPLATE}/label/k8s.amazonaws.com/accelerator" not in tags
    assert tags[f"{TEMPLATE}/resources/nvidia.com/mig-3g.40gb"] == "8"
    train = result.named("aws:eks/nodeGroup:NodeGroup", "train-h200-nodes").inputs
    assert train["labels"]["k8s.amazonaws.com/accelerator"] == "H200-141GB"


def test_scale_from_zero_templates_offer_what_an_efa_job_requests() -> None:
    """CA AWS README: "Cluster Autoscaler can also determine the resources provided by each Auto
    Scaling Group via tags ... `k8s.io/cluster-autoscaler/node-template/resources/<resource-name>`
    ... such as `ephemeral-storage`"; aws_manager.go builds the template node from cpu, memory,
    the instance table's GPUs and those tags only. EKS UG node-efa: EFA instances "pre-allocate
    5128 2MiB Huge Pages, which you can request as resources"; its NCCL worker requests
    ``hugepages-2Mi: 5120Mi``, ``vpc.amazonaws.com/efa: 32``, ``nvidia.com/gpu: 8``. A pod asking
    that of train-h200 at zero nodes fits the template, so CA scales the pool up for it."""
    _, result = rendered("prod", str(REPO / "stacks"))
    catalog = load_catalog()
    tags = group_tags(result)["train-h200"]
    instance = catalog.instance_types["p5e.48xlarge"]
    template = {"cpu": instance.vcpus, "memory": instance.memory_mib, "nvidia.com/gpu": instance.accelerator_count}
    for key, value in tags.items():
        if key.startswith(f"{TEMPLATE}/resources/"):
            resource = key.removeprefix(f"{TEMPLATE}/resources/")
            if value.endswith("m"):  # CPU in millicores
                template[resource] = int(value.removesuffix("m")) // 1000
            else:
                template[resource] = int(value.removesuffix("Mi").removesuffix("Gi")) * (1024 if value.endswith("Gi") else 1)
    worker = {
        "nvidia.com/gpu": 8,
        "hugepages-2Mi": 5120,
        "vpc.amazonaws.com/efa": 32,
        "memory": 32000,
        "ephemeral-storage": 10 * 1024,
    }
    assert all(template.get(resource, 0) >= amount for resource, amount in worker.items()), template
    assert tags[f"{TEMPLATE}/resources/hugepages-2Mi"] == f"{catalog.efa_host.hugepages_2mib * 2}Mi"
    # Every pool's template has ephemeral storage: 90% of its root volume (the kubelet evicts below 10% free).
    for pool, pool_tags in group_tags(result).items():
        assert pool_tags[f"{TEMPLATE}/resources/ephemeral-storage"].endswith("Gi"), pool


def test_the_autoscaler_runs_the_release_of_the_clusters_kubernetes_minor(tmp_path: Path) -> None:
    """CA README (chart 9.59.0): "we recommend that users always use the _latest_ Cluster
    Autoscaler release that corresponds to the minor version of Kubernetes that their cluster is
    running"; the chart's own default image is v1.35.0. The tag is pinned beside the add-ons per
    Kubernetes version, so a version bump moves it in the same edit: before/after, the release
    updates its image tag and nothing else of its values."""
    catalog = load_catalog()
    for version, pins in catalog.eks.kubernetes_versions.items():
        assert pins.cluster_autoscaler.startswith(f"v{version}."), version
    _, current = rendered("prod", str(REPO / "stacks"))
    after = release_values(current, "cluster-autoscaler")
    assert after["image"] == {"repository": "registry.k8s.io/autoscaling/cluster-autoscaler", "tag": "v1.33.6"}
    older = tmp_path / "prod.yaml"
    older.write_text(PROD.read_text(encoding="utf-8").replace('kubernetes_version: "1.33"', 'kubernetes_version: "1.32"'))
    (tmp_path / "prod.subnets.lock").write_text((REPO / "stacks" / "prod.subnets.lock").read_text(encoding="utf-8"))
    before = release_values(preview_file(older), "cluster-autoscaler")
    assert before["image"]["tag"] == "v1.32.7"
    changed = {key for key in {*before, *after} if before.get(key) != after.get(key)}
    assert changed == {"image"}


def test_gpufleet_never_owns_the_discovery_tags_eks_sets(tmp_path: Path) -> None:
    """EKS UG managed-node-groups: "Nodes launched as part of a managed node group are
    automatically tagged for auto-discovery by the Kubernetes Cluster Autoscaler". Were gpufleet's
    Tag resources to carry those keys, deleting one (a pool leaving the autoscaler at min == max)
    would delete EKS's tag, which the autoscaler's IAM condition scopes scaling to. Before/after:
    pinning lab-l4 to a fixed size deletes only node-template tags of lab-l4."""
    _, current = rendered("prod", str(REPO / "stacks"))
    keys = {key for tags in group_tags(current).values() for key in tags}
    assert not {key for key in keys if not key.startswith(TEMPLATE)}
    fixed = tmp_path / "prod.yaml"
    fixed.write_text(
        PROD.read_text(encoding="utf-8").replace(
            "nodes: {min: 0, max: 4}\n    capacity: {type: spot}", "nodes: {min: 4, max: 4}\n    capacity: {type: spot}"
        )
    )
    (tmp_path / "prod.subnets.lock").write_text((REPO / "stacks" / "prod.subnets.lock").read_text(encoding="utf-8"))
    after = preview_file(fixed)
    before_tags = {r.urn for r in current.of_type("aws:autoscaling/tag:Tag")}
    after_tags = {r.urn for r in after.of_type("aws:autoscaling/tag:Tag")}
    deleted = before_tags - after_tags
    assert deleted and all("lab-l4-k8s.io/cluster-autoscaler/node-template/" in urn for urn in deleted)
    assert after_tags < before_tags


def test_an_idle_capacity_block_node_is_never_unneeded() -> None:
    """CA AWS README: ``autoscaling-options/scaledownunneededtime`` "overrides
    `--scale-down-unneeded-time` value for that specific ASG" (default 10m). A capacity block is
    paid whether its nodes run or not and lasts at most 182 days (EC2 UG capacity-blocks-purchase):
    its pool's tag is longer than that, so CA never removes an idle block node; EKS's scheduled
    scale-down 40 minutes before the block ends still drains it."""
    plan, result = rendered("prod", str(REPO / "stacks"))
    tags = group_tags(result)
    hours = int(tags["train-h200"][f"{TEMPLATE}/autoscaling-options/scaledownunneededtime"].split("h", 1)[0])
    assert hours > 182 * 24
    assert f"{TEMPLATE}/autoscaling-options/scaledownunneededtime" not in tags["lab-l4"]
    decided = yaml.safe_dump(plan.kubernetes.decisions())
    assert "train-h200: scaledownunneededtime" in decided and "serve-h100: no GPU label" in decided
