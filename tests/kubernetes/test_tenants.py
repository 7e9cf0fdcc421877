"""What tenants get: claims only where their file system is reachable, namespaces that outlive an
edit, Pod Security at Baseline (issue 23: #9, #12, #18, #27)."""

from __future__ import annotations

from pathlib import Path

import pytest

from gpufleet.stack import StackInvalid
from tests.kubernetes.conftest import FULL, REPO, rendered
from tests.kubernetes.invariants import node_groups
from tests.program.conftest import preview_file


def term_matches(term: dict, labels: dict[str, str]) -> bool:
    return all(labels.get(e["key"]) in e["values"] for e in term["matchExpressions"] if e["operator"] == "In")


def test_a_lustre_volume_is_mountable_only_on_its_clients(full_stack_dir: Path) -> None:
    """Kubernetes PersistentVolumeSpec.nodeAffinity "defines constraints that limit what nodes this
    volume can be accessed from. This field influences the scheduling of pods that use this
    volume." aws-fsx-csi-driver: the file system's security group must allow port 988 from its
    clients, which only the pools mounting the tier are. Each volume's terms pick exactly those."""
    plan, result = rendered("full", str(full_stack_dir))
    groups = node_groups(plan, result)
    clients = {pool.name for pool in plan.pools if any(t.name == "scratch" for t in pool.storage)}
    volumes = [r.inputs for r in result.of_type("kubernetes:core/v1:PersistentVolume")]
    assert volumes
    for volume in volumes:
        terms = volume["spec"]["nodeAffinity"]["required"]["nodeSelectorTerms"]
        reachable = {pool for pool, group in groups.items() if any(term_matches(t, group["labels"]) for t in terms)}
        assert reachable == clients


def test_a_claim_is_offered_only_where_every_queue_stays_on_its_clients(stacks) -> None:
    """Namespace -> LocalQueues -> ClusterQueues -> flavors -> pools must stay inside the tier's
    clients, or a pod of that namespace admitted elsewhere could never mount its claim: FULL with
    the lab pool no longer mounting scratch is refused at the namespace whose lab queue reaches it
    (GF-K8S-012)."""
    text = FULL.replace(
        "    sharing: {time_slicing: {replicas: 8}}\n    storage: [scratch]\n", "    sharing: {time_slicing: {replicas: 8}}\n"
    )
    with pytest.raises(StackInvalid) as caught:
        stacks.plan(stacks.write(text))
    [finding] = caught.value.findings
    assert (finding.rule_id, finding.field) == ("GF-K8S-012", "storage.scratch.namespaces.0")
    assert "reach pools lab" in finding.message


def test_a_tier_without_namespaces_offers_no_volume(stacks) -> None:
    """A static PersistentVolume with no claimRef binds any claim of any namespace asking for its
    size and mode: a tier that names no namespace gets no volume, and the plan says why."""
    text = FULL.replace(", namespaces: [research, serving]}", "}")
    plan = stacks.plan(stacks.write(text))
    assert plan.kubernetes.storage.lustre_volumes == ()
    notes = {d["what"]: d["why"] for d in plan.kubernetes.decisions()}
    assert "bindable from any namespace" in notes["storage scratch"]


def test_dropping_a_namespace_leaves_it_and_its_tenants_objects(tmp_path: Path) -> None:
    """Deleting a Namespace deletes every object in it (the namespace controller), so a namespace
    dropped from ``queues:`` must be left: Pulumi's ``retainOnDelete`` removes it from the stack
    without deleting it. Before/after removing prod's lab namespace (sandbox): the Namespace
    leaves the program with retainOnDelete set; the only object deleted for real is its LocalQueue
    (gpufleet's own), and the lab queue, the Kueue configuration and the gate policy's binding
    update to stop naming it."""
    _, before = rendered("prod", str(REPO / "stacks"))
    text = (REPO / "stacks" / "prod.yaml").read_text(encoding="utf-8").replace("  lab: [sandbox]\n", "")
    (tmp_path / "prod.yaml").write_text(text, encoding="utf-8")
    (tmp_path / "prod.subnets.lock").write_text((REPO / "stacks" / "prod.subnets.lock").read_text(encoding="utf-8"))
    after = preview_file(tmp_path / "prod.yaml")
    old, new = {r.urn: r for r in before.resources}, {r.urn: r for r in after.resources}
    gone = [old[urn] for urn in old.keys() - new.keys()]
    assert sorted((r.type.rsplit(":", 1)[-1], r.name, r.retain_on_delete) for r in gone) == [
        ("LocalQueue", "sandbox-lab", False),
        ("Namespace", "sandbox", True),
    ]
    updated = sorted(new[urn].name for urn in new.keys() & old.keys() if new[urn].inputs != old[urn].inputs)
    assert updated == ["gpufleet-kueue-admission-gate", "kueue", "lab"]
    for volume in [
        *after.of_type("kubernetes:core/v1:PersistentVolume"),
        *after.of_type("kubernetes:core/v1:PersistentVolumeClaim"),
    ]:
        assert volume.retain_on_delete, volume.name


def test_tenant_namespaces_run_pods_at_the_baseline_standard(stack) -> None:
    """Pod Security Standards, Baseline: "Sharing the host namespaces must be disallowed",
    "Privileged Pods disable most security mechanisms and must be disallowed", "HostPath Volumes
    must be forbidden". A host-network pod reaches IMDS past the hop limit of 1 (which stops only
    pods on their own network), so every tenant namespace enforces Baseline (warns at Restricted),
    pinned to the cluster's version; the GPU Operator's namespace, whose operands need the host, is
    privileged on purpose."""
    _, plan, result = stack
    namespaces = {
        r.inputs["metadata"]["name"]: r.inputs["metadata"]["labels"] for r in result.of_type("kubernetes:core/v1:Namespace")
    }
    version = f"v{plan.cluster.kubernetes_version}"
    for name in plan.kubernetes.namespaces:
        labels = namespaces[name]
        assert labels["pod-security.kubernetes.io/enforce"] == "baseline", name
        assert labels["pod-security.kubernetes.io/enforce-version"] == version
        assert labels["pod-security.kubernetes.io/warn"] == "restricted"
    if "gpu-operator" in namespaces:
        assert namespaces["gpu-operator"]["pod-security.kubernetes.io/enforce"] == "privileged"
