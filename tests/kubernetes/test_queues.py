"""Kueue admits what the stack says, where it says, and nothing around it (issue 23: #3, #5, #6, #8, #10, #16, #26, #28)."""

from __future__ import annotations

import pytest
import yaml

from gpufleet.catalog import load_catalog
from gpufleet.stack import StackInvalid
from tests.kubernetes.conftest import REPO, rendered
from tests.kubernetes.invariants import node_groups, release_values, selects, tolerates

KUEUE = "kubernetes:kueue.x-k8s.io/v1beta2"


def prod():
    return rendered("prod", str(REPO / "stacks"))


def kueue_configuration(result) -> dict:
    return yaml.safe_load(release_values(result, "kueue")["managerConfig"]["controllerManagerConfigYaml"])


def objects(result, kind: str) -> dict[str, dict]:
    return {r.inputs["metadata"]["name"]: r.inputs for r in result.resources if r.type.endswith(f":{kind}")}


def matches(selector: dict | None, labels: dict[str, str]) -> bool:
    """A label selector as the API server evaluates it (matchLabels and In/NotIn/Exists); a
    missing selector matches nothing, as Kueue documents for ClusterQueue.namespaceSelector."""
    if selector is None:
        return False
    if not all(labels.get(k) == v for k, v in selector.get("matchLabels", {}).items()):
        return False
    for expression in selector.get("matchExpressions", []):
        value, operator = labels.get(expression["key"]), expression["operator"]
        if operator == "In" and value not in expression["values"]:
            return False
        if operator == "NotIn" and value in expression["values"]:
            return False
        if operator == "Exists" and value is None:
            return False
    return True


def assign_flavor(queue: dict, flavors: dict[str, dict], requests: dict[str, float], node_selector: dict[str, str]) -> str | None:
    """Kueue's flavor assignment for one pod set, as cluster_queue.md and flavorassigner.go state
    it: every requested resource must be covered (ephemeral-storage aside, excluded by the
    config); flavors are tried in order, each judged on the pod's selector keys that flavor's
    own nodeLabels carry; the first with enough unused nominal quota wins (no borrowing here:
    every quota lends 0)."""
    (group,) = queue["resourceGroups"]
    covered = set(group["coveredResources"])
    if set(requests) - covered - {"ephemeral-storage"}:
        return None
    for entry in group["flavors"]:
        labels = flavors[entry["name"]]["spec"]["nodeLabels"]
        if any(key in labels and labels[key] != value for key, value in node_selector.items()):
            continue
        quota = {q["name"]: float(str(q["nominalQuota"]).removesuffix("Mi")) for q in entry["resources"]}
        if all(quota.get(resource, 0) >= amount for resource, amount in requests.items() if resource in covered):
            return entry["name"]
    return None


# EKS UG ml/node-efa.adoc, its NCCL test worker: "nvidia.com/gpu: 8, hugepages-2Mi: 5120Mi,
# vpc.amazonaws.com/efa: 32, memory: 32000Mi" (and CPU).
EFA_WORKER = {"nvidia.com/gpu": 8, "hugepages-2Mi": 5120, "vpc.amazonaws.com/efa": 32, "memory": 32000, "cpu": 90}


def test_kueue_runs_the_stacks_whole_configuration() -> None:
    """Kueue chart 0.19.2 values.yaml: ``managerConfig.controllerManagerConfigYaml`` is the whole
    Configuration as one string (Helm replaces it whole); it enables PyTorchJob nowhere and
    installs no JobSet controller. gpufleet writes every key, the chart's own ones included,
    admits exactly the kinds whose controllers run (JobSet installed beside Kueue), and says which
    kinds in the plan."""
    plan, result = prod()
    config = kueue_configuration(result)
    catalog = load_catalog()
    assert {k: config[k] for k in catalog.kubernetes.kueue.base_configuration} == catalog.kubernetes.kueue.base_configuration
    assert config["integrations"]["frameworks"] == ["batch/job", "jobset.x-k8s.io/jobset", "pod", "deployment", "statefulset"]
    assert "kubeflow.org/pytorchjob" not in config["integrations"]["frameworks"]
    assert release_values(result, "jobset") == {}
    assert "jobset.x-k8s.io/v1alpha2 JobSet" in plan.kubernetes.cluster_facts().admitted_kinds


def test_a_16_node_efa_job_lands_on_its_pool_with_the_pools_tolerations() -> None:
    """resource_flavor.md: "Kueue adds the ResourceFlavor labels to the `.nodeSelector` of the
    underlying Workload Pod templates" and "adds the tolerations". A 16-pod JobSet of the EKS EFA
    worker submitted to training-h200-141gb is assigned train-h200: its pods' selector picks
    exactly that pool's nodes and tolerates every taint of its node group; the huge pages it asks
    are covered (administer_cluster_quotas.md: "administrators must specify all resources
    required by Pods"), and the pool's quota is its nodes' huge pages (5128 pages of 2 MiB)."""
    plan, result = prod()
    queue = objects(result, "ClusterQueue")["training-h200-141gb"]["spec"]
    flavors = objects(result, "ResourceFlavor")
    job = {resource: amount * 16 for resource, amount in EFA_WORKER.items()}
    chosen = assign_flavor(queue, flavors, job, {})
    assert chosen == "train-h200"
    groups = node_groups(plan, result)
    picked = [pool for pool, group in groups.items() if selects(group["labels"], flavors[chosen]["spec"]["nodeLabels"])]
    assert picked == ["train-h200"]
    for taint in groups["train-h200"]["taints"]:
        assert tolerates(flavors[chosen]["spec"]["tolerations"], taint)
    hugepages = next(q for q in queue["resourceGroups"][0]["flavors"][0]["resources"] if q["name"] == "hugepages-2Mi")
    assert hugepages["nominalQuota"] == f"{load_catalog().efa_host.hugepages_2mib * 2 * 16}Mi"
    assert kueue_configuration(result)["resources"]["excludeResourcePrefixes"] == ["ephemeral-storage"]


def test_a_pod_selecting_a_gpu_type_gets_only_a_flavor_of_that_type() -> None:
    """flavorassigner.go (v0.19.2): "Use only this flavor's own label keys" of a pod's node
    selector. Flavors carry the accelerator, workload and instance-type labels of their nodes, so
    a pod selecting ``gpufleet.io/accelerator: H100-80GB`` is never given the L4 lab flavor (where
    it would stay Pending): in lab it is not admitted at all."""
    _, result = prod()
    queues, flavors = objects(result, "ClusterQueue"), objects(result, "ResourceFlavor")
    for flavor in flavors.values():
        assert {"gpufleet.io/accelerator", "gpufleet.io/workload", "node.kubernetes.io/instance-type"} <= set(
            flavor["spec"]["nodeLabels"]
        )
    h100 = {"gpufleet.io/accelerator": "H100-80GB"}
    assert assign_flavor(queues["lab"]["spec"], flavors, {"cpu": 1}, h100) is None
    assert assign_flavor(queues["lab"]["spec"], flavors, {"cpu": 1}, {}) == "lab-l4"
    assert assign_flavor(queues["inference"]["spec"], flavors, {"cpu": 1}, h100) == "serve-h100"


def test_nothing_is_lent_so_lab_never_lands_on_another_pool() -> None:
    """cluster_queue.md: "Kueue assigns the first flavor in the ClusterQueue's
    `.spec.resourceGroups[*].flavors` list that has enough unused `nominalQuota` quota in the
    ClusterQueue or the ClusterQueue's cohort" and "If the `lendingLimit` field is not specified,
    a ClusterQueue can lend out all of its resources". A CPU-only lab job larger than lab-l4's
    CPU quota must find no flavor at all (not serve-h100's, whose nodes the autoscaler would then
    launch): lab lists lab pools only and every quota lends and borrows 0. The kube-scheduler gets
    the same priorities as Kueue (PriorityClass values == WorkloadPriorityClass values)."""
    plan, result = prod()
    queues, flavors = objects(result, "ClusterQueue"), objects(result, "ResourceFlavor")
    lab_pools = {pool.name for pool in plan.pools if pool.workload == "lab"}
    assert {f["name"] for f in queues["lab"]["spec"]["resourceGroups"][0]["flavors"]} <= lab_pools
    lab_cpu = sum(
        q["nominalQuota"]
        for f in queues["lab"]["spec"]["resourceGroups"][0]["flavors"]
        for q in f["resources"]
        if q["name"] == "cpu"
    )
    assert assign_flavor(queues["lab"]["spec"], flavors, {"cpu": lab_cpu + 1}, {}) is None
    for queue in queues.values():
        for entry in queue["spec"]["resourceGroups"][0]["flavors"]:
            assert all(q["lendingLimit"] == 0 and q["borrowingLimit"] == 0 for q in entry["resources"])
    workload = {name: body["value"] for name, body in objects(result, "WorkloadPriorityClass").items()}
    pods = {name: body["value"] for name, body in objects(result, "PriorityClass").items()}
    assert workload == pods and set(pods) == {"gpufleet-inference", "gpufleet-training", "gpufleet-lab"}


def test_multi_node_training_is_admitted_one_job_at_a_time() -> None:
    """setup_wait_for_pods_ready.md: "a pair of such jobs may deadlock if the physical
    availability of resources do not match the configured quotas"; "`blockAdmission` ... When
    enabled, then the workloads are admitted sequentially". Kueue v0.19 turns waitForPodsReady on
    by default with blockAdmission false (defaults.go), so prod (16-node training) states it on."""
    plan, result = prod()
    ready = kueue_configuration(result)["waitForPodsReady"]
    assert ready == {"timeout": "30m", "blockAdmission": True}
    reasons = {d["what"]: d["why"] for d in plan.kubernetes.decisions()}
    assert "not atomic" in reasons["kueue: managerConfig.waitForPodsReady.blockAdmission"]


def test_each_queue_admits_exactly_its_namespaces_and_queue_less_work_is_suspended(stack) -> None:
    """ClusterQueue CRD namespaceSelector: "Defaults to null which is a nothing selector (no
    namespaces eligible). If set to an empty selector `{}`, then all namespaces are eligible."
    manage_jobs_without_queue_name.md: "In all namespaces that match the namespace selector, any
    Workloads submitted without a `kueue.x-k8s.io/queue-name` label will be suspended". Each
    ClusterQueue selects exactly the namespaces listed for its workload class; Kueue manages
    exactly the stack's namespaces (never gpu-operator or kube-system), by the name label the API
    server sets; only Kueue's controller may lift its admission gate there."""
    _, plan, result = stack
    namespaces = {"training": plan.queues.training, "inference": plan.queues.inference, "lab": plan.queues.lab}
    everyone = {*plan.kubernetes.namespaces, "gpu-operator", "kube-system", "kueue-system", "default"}
    for queue in objects(result, "ClusterQueue").values():
        workload = queue["metadata"]["labels"]["gpufleet.io/workload"]
        admitted = {ns for ns in everyone if matches(queue["spec"].get("namespaceSelector"), {"kubernetes.io/metadata.name": ns})}
        assert admitted == set(namespaces[workload]), queue["metadata"]["name"]
    tenants = {ns for listed in namespaces.values() for ns in listed}
    config = kueue_configuration(result)
    if not tenants:
        assert "manageJobsWithoutQueueName" not in config
        return
    assert config["manageJobsWithoutQueueName"] is True
    managed = {ns for ns in everyone if matches(config["managedJobsNamespaceSelector"], {"kubernetes.io/metadata.name": ns})}
    assert managed == tenants
    (binding,) = objects(result, "ValidatingAdmissionPolicyBinding").values()
    bound = {
        ns
        for ns in everyone
        if matches(binding["spec"]["matchResources"]["namespaceSelector"], {"kubernetes.io/metadata.name": ns})
    }
    assert bound == tenants
    (policy,) = objects(result, "ValidatingAdmissionPolicy").values()
    expression = policy["spec"]["validations"][0]["expression"]
    assert (
        "system:serviceaccount:kueue-system:kueue-controller-manager" in expression and "kueue.x-k8s.io/admission" in expression
    )


def test_a_queue_kueue_would_refuse_is_refused_here(stacks) -> None:
    """clusterqueues CRD (v0.19.2): ``resourceGroups[].flavors`` ``maxItems: 64``; the webhook:
    "number of flavor-resource combinations in a resourceGroup must be ≤ 512". 70 inference pools
    make one queue of 70 flavors: refused at the first pool past the limit (GF-K8S-011)."""
    pools = "".join(
        f"  serve-{i:02d}: {{workload: inference, instance_type: g6.xlarge, nodes: {{min: 0, max: 1}}}}\n" for i in range(70)
    )
    path = stacks.aws("\nnode_pools:\n", stacks.system_pool, pools)
    with pytest.raises(StackInvalid) as caught:
        stacks.plan(path)
    [finding] = caught.value.findings
    assert (finding.rule_id, finding.field) == ("GF-K8S-011", "node_pools.serve-64")
    assert "70 flavors" in finding.message and "at most 64" in finding.message
    assert load_catalog().kubernetes.kueue.limits.flavors_allowed(9) == 56
