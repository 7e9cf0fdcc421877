"""What each Kubernetes component renders, read back from the preview's recorded resources."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from typer.testing import CliRunner

from gpufleet import program
from gpufleet.catalog import load_catalog
from gpufleet.cli import app
from gpufleet.model.plan import ExistingNodes
from gpufleet.preview import run_preview
from tests.kubernetes.conftest import REPO, rendered
from tests.kubernetes.invariants import release_values

KUEUE = "kubernetes:kueue.x-k8s.io/v1beta2"


def full(full_stack_dir: Path):
    return rendered("full", str(full_stack_dir))


def onprem():
    return rendered("onprem", str(REPO / "stacks"))


def test_an_existing_cluster_gets_no_cloud_resource_and_its_own_driver() -> None:
    _, result = onprem()
    assert not [r.type for r in result.resources if r.type.startswith("aws:")]
    operator = release_values(result, "gpu-operator")
    assert operator["driver"] == {
        "enabled": True,
        "version": load_catalog().kubernetes.gpu_operator.driver_version,
        "rdma": {"enabled": True, "useHostMofed": True},
    }
    assert operator["toolkit"] == {"enabled": True}


def test_the_nic_cluster_policy_selects_exactly_the_fabrics_nodes() -> None:
    plan, result = onprem()
    [policy] = result.of_type("kubernetes:mellanox.com/v1alpha1:NicClusterPolicy")
    terms = policy.inputs["spec"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
    selected = [{e["key"]: e["values"][0] for e in term["matchExpressions"]} for term in terms]
    on_fabric = [p.source.node_selector for p in plan.pools if p.fabric_name == "hdr-ib" and isinstance(p.source, ExistingNodes)]
    assert selected == on_fabric and on_fabric
    config = json.loads(policy.inputs["spec"]["rdmaSharedDevicePlugin"]["config"])
    assert [c["resourceName"] for c in config["configList"]] == ["hdr_ib"]
    assert release_values(result, "network-operator") == {"nfd": {"enabled": False}}


def test_an_existing_cluster_is_reached_through_the_configured_context(tmp_path) -> None:
    config = {"gpufleet:spec": str(REPO / "stacks" / "onprem.yaml"), "kubernetes:context": "dgx-admin"}
    result = run_preview(program.run, project="gpufleet", stack="onprem", config=config)
    [provider] = [r for r in result.resources if r.type == "pulumi:providers:kubernetes"]
    assert provider.inputs["context"] == "dgx-admin"
    assert all(r.provider.startswith(provider.urn) for r in result.resources if r.custom and r.type.startswith("kubernetes:"))


def test_each_fsx_namespace_gets_a_volume_bound_to_the_file_system_and_a_claim(full_stack_dir) -> None:
    _, result = full(full_stack_dir)
    [file_system] = result.of_type("aws:fsx/lustreFileSystem:LustreFileSystem")
    volumes = {r.inputs["metadata"]["name"]: r.inputs["spec"] for r in result.of_type("kubernetes:core/v1:PersistentVolume")}
    claims = {
        (r.inputs["metadata"]["namespace"], r.inputs["metadata"]["name"]): r.inputs["spec"]
        for r in result.of_type("kubernetes:core/v1:PersistentVolumeClaim")
    }
    assert set(volumes) == {"scratch-research", "scratch-serving"}
    for name, spec in volumes.items():
        namespace = name.removeprefix("scratch-")
        assert spec["csi"]["volumeHandle"] == file_system.id
        assert spec["csi"]["volumeAttributes"] == {
            "dnsname": file_system.outputs["dnsName"],
            "mountname": file_system.outputs["mountName"],
        }
        assert spec["claimRef"] == {"namespace": namespace, "name": "scratch"}
        assert claims[(namespace, "scratch")]["volumeName"] == name
        assert spec["capacity"]["storage"] == claims[(namespace, "scratch")]["resources"]["requests"]["storage"] == "2400Gi"


def test_local_nvme_gets_no_storage_class_nothing_could_bind(full_stack_dir) -> None:
    """A ``kubernetes.io/no-provisioner`` class binds only PersistentVolumes someone creates, and
    nothing creates them for the RAID0 nodeadm builds (local-static-provisioner operations.md:
    it "only discovers ... mount points ... in discovery directories"). amazon-eks-ami v20250620
    setup-local-disks mounts the array at ``<dir>/0`` and bind-mounts the kubelet's directory
    onto it, so pods reach the NVMe through emptyDir: the plan says so instead of a class."""
    plan, result = full(full_stack_dir)
    classes = {r.inputs["metadata"]["name"]: r.inputs for r in result.of_type("kubernetes:storage.k8s.io/v1:StorageClass")}
    assert set(classes) == {"gp3"}
    assert classes["gp3"]["parameters"] == {"type": "gp3", "encrypted": "true"}
    assert classes["gp3"]["metadata"]["annotations"] == {"storageclass.kubernetes.io/is-default-class": "true"}
    notes = {d["what"]: d["why"] for d in plan.kubernetes.decisions()}
    assert "emptyDir" in notes["storage cache"] and "/mnt/nvme/0" in notes["storage cache"]


def test_time_sliced_lab_nodes_pick_their_config_by_label(full_stack_dir) -> None:
    _, result = full(full_stack_dir)
    [lab_group] = [r for r in result.of_type("aws:eks/nodeGroup:NodeGroup") if r.name == "lab-nodes"]
    label = lab_group.inputs["labels"]["nvidia.com/device-plugin.config"]
    maps = {r.inputs["metadata"]["name"]: r.inputs["data"] for r in result.of_type("kubernetes:core/v1:ConfigMap")}
    config = yaml.safe_load(maps["gpufleet-device-plugin-config"][label])
    assert config["sharing"]["timeSlicing"]["resources"] == [{"name": "nvidia.com/gpu", "replicas": 8}]
    assert config["flags"]["migStrategy"] == "mixed"
    assert release_values(result, "gpu-operator")["devicePlugin"]["config"]["default"] == "default"


def test_training_queues_one_per_gpu_type_and_local_queues_per_namespace(full_stack_dir) -> None:
    _, result = full(full_stack_dir)
    queues = {r.inputs["metadata"]["name"]: r.inputs["spec"] for r in result.of_type(f"{KUEUE}:ClusterQueue")}
    assert set(queues) == {"training-h100-80gb", "training-b200-180gb", "inference", "lab"}
    flavors = lambda q: [f["name"] for g in queues[q]["resourceGroups"] for f in g["flavors"]]  # noqa: E731
    assert flavors("training-h100-80gb") == ["train-h100"] and flavors("training-b200-180gb") == ["train-b200"]
    assert sorted(flavors("lab")) == ["lab"]  # nothing is lent to lab (issue 23, #8)
    local = sorted(
        (r.inputs["metadata"]["namespace"], r.inputs["spec"]["clusterQueue"]) for r in result.of_type(f"{KUEUE}:LocalQueue")
    )
    assert local == [
        ("research", "lab"),
        ("research", "training-b200-180gb"),
        ("research", "training-h100-80gb"),
        ("sandbox", "lab"),
        ("serving", "inference"),
    ]
    assert {q["cohortName"] for q in queues.values()} == {"fleet-gpus"}


def test_each_queue_waits_only_for_what_it_names(full_stack_dir) -> None:
    """Kueue holds a flavor or ClusterQueue in use behind a finalizer, so each queue must be
    created after (and destroyed before) what it names; Kueue's release waits only for the
    untainted node groups that keep a node, where its controller runs. Depending on every
    flavor and every node group instead made the SDK's cycle check quadratic in pools."""
    _, result = full(full_stack_dir)
    by_urn = {r.urn: r for r in result.resources}
    named = lambda urns, kind: sorted(by_urn[u].name for u in urns if by_urn[u].type == f"{KUEUE}:{kind}")  # noqa: E731
    for queue in result.of_type(f"{KUEUE}:ClusterQueue"):
        wanted = sorted(f["name"] for g in queue.inputs["spec"]["resourceGroups"] for f in g["flavors"])
        assert named(queue.depends_on, "ResourceFlavor") == wanted, queue.name
        assert [by_urn[u].type for u in queue.depends_on].count("kubernetes:helm.sh/v3:Release") == 1
    (kueue,) = [r for r in result.of_type("kubernetes:helm.sh/v3:Release") if r.name == "kueue"]
    waits_for = sorted(by_urn[u].name for u in kueue.depends_on)
    assert waits_for and all(by_urn[u].type == "aws:eks/nodeGroup:NodeGroup" for u in kueue.depends_on)
    untainted = sorted(
        group.name
        for group in result.of_type("aws:eks/nodeGroup:NodeGroup")
        if not group.inputs.get("taints") and group.inputs["scalingConfig"]["minSize"] >= 1
    )
    assert waits_for == untainted
    for local in result.of_type(f"{KUEUE}:LocalQueue"):
        assert named(local.depends_on, "ClusterQueue") == [local.inputs["spec"]["clusterQueue"]], local.name
        assert [
            by_urn[u].inputs["metadata"]["name"] for u in local.depends_on if by_urn[u].type == "kubernetes:core/v1:Namespace"
        ] == [local.inputs["metadata"]["namespace"]]


def test_autoscaler_scales_only_elastic_pools_with_node_templates_on_their_groups(full_stack_dir) -> None:
    plan, result = full(full_stack_dir)
    values = release_values(result, "cluster-autoscaler")
    groups = {r.name.removesuffix("-nodes"): r for r in result.of_type("aws:eks/nodeGroup:NodeGroup")}
    elastic = sorted(p.name for p in plan.pools if p.nodes.min < p.nodes.max)
    assert "train-b200" not in elastic
    assert sorted((g["minSize"], g["maxSize"]) for g in values["autoscalingGroups"]) == sorted(
        (p.nodes.min, p.nodes.max) for p in plan.pools if p.name in elastic
    )
    asg = {p: groups[p].outputs["resources"][0]["autoscalingGroups"][0]["name"] for p in groups}
    assert {g["name"] for g in values["autoscalingGroups"]} == {asg[p] for p in elastic}
    tags: dict[str, dict[str, str]] = {}
    for tag in result.of_type("aws:autoscaling/tag:Tag"):
        tags.setdefault(tag.inputs["autoscalingGroupName"], {})[tag.inputs["tag"]["key"]] = tag.inputs["tag"]["value"]
    assert set(tags) == {asg[p] for p in elastic}
    template = "k8s.io/cluster-autoscaler/node-template"
    train = tags[asg["train-h100"]]
    assert train[f"{template}/resources/nvidia.com/gpu"] == "8"
    assert train[f"{template}/resources/vpc.amazonaws.com/efa"] == "32"
    assert train[f"{template}/taint/gpufleet.io/workload"] == "training:NoSchedule"
    assert train[f"{template}/label/gpufleet.io/efa"] == "true"
    assert train[f"{template}/label/k8s.amazonaws.com/accelerator"] == "H100-80GB"
    assert train[f"{template}/autoscaling-options/scaledowngpuutilizationthreshold"] == "0.01"
    # EKS tags every managed node group's scaling group for discovery; those tags are not gpufleet's.
    assert not {"k8s.io/cluster-autoscaler/fleet", "k8s.io/cluster-autoscaler/enabled"} & {k for t in tags.values() for k in t}
    serve = tags[asg["serve"]]
    assert any(key.startswith(f"{template}/resources/nvidia.com/mig-") for key in serve)
    assert f"{template}/autoscaling-options/scaledowngpuutilizationthreshold" not in serve


def test_autoscaler_role_is_its_own_and_scales_only_this_clusters_groups(full_stack_dir) -> None:
    _, result = full(full_stack_dir)
    # The VPC CNI has its own association too (issue 8): pick the autoscaler's.
    [association] = [
        r for r in result.of_type("aws:eks/podIdentityAssociation:PodIdentityAssociation") if r.name == "cluster-autoscaler"
    ]
    values = release_values(result, "cluster-autoscaler")
    assert (association.inputs["namespace"], association.inputs["serviceAccount"]) == (
        "kube-system",
        values["rbac"]["serviceAccount"]["name"],
    )
    [role] = [r for r in result.of_type("aws:iam/role:Role") if r.name == "cluster-autoscaler"]
    trust = json.loads(role.inputs["assumeRolePolicy"])
    assert trust["Statement"][0]["Principal"] == {"Service": "pods.eks.amazonaws.com"}
    [policy] = [r for r in result.of_type("aws:iam/rolePolicy:RolePolicy") if r.name == "cluster-autoscaler"]
    statements = json.loads(policy.inputs["policy"])["Statement"]
    scaling = next(s for s in statements if "autoscaling:SetDesiredCapacity" in s["Action"])
    assert scaling["Condition"] == {"StringEquals": {"aws:ResourceTag/k8s.io/cluster-autoscaler/fleet": "owned"}}
    reads = next(s for s in statements if s is not scaling)
    assert all(":Describe" in action or ":Get" in action for action in reads["Action"])


def test_a_bad_sharing_field_exits_1_and_writes_nothing(tmp_path) -> None:
    stack = tmp_path / "bad.yaml"
    text = (REPO / "stacks" / "dev.yaml").read_text(encoding="utf-8")
    stack.write_text(
        text.replace("    workload: inference\n", "    workload: inference\n    sharing: {time_slicing: {replicas: 4}}\n", 1),
        encoding="utf-8",
    )
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["preview", str(stack), "--out", str(out)])
    assert result.exit_code == 1
    assert "sharing: time-slicing gives no memory or fault isolation" in result.stderr
    assert "Traceback" not in result.output
    assert not out.exists()


def test_preview_writes_every_object_and_release_and_removes_stale_files(tmp_path) -> None:
    out = tmp_path / "out"
    stale = out / "k8s" / "ConfigMap.gone.yaml"
    stale.parent.mkdir(parents=True)
    stale.write_text("stale\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["preview", str(REPO / "stacks" / "onprem.yaml"), "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert not stale.exists()
    written = sorted(p.name for p in (out / "k8s").iterdir())
    assert "NicClusterPolicy.nic-cluster-policy.yaml" in written and "LocalQueue.research.training-h100-80gb.yaml" in written
    assert sorted(p.name for p in (out / "helm").iterdir()) == [
        "gpu-operator.yaml",
        "jobset.yaml",
        "kube-prometheus-stack.yaml",
        "kueue.yaml",
        "network-operator.yaml",
    ]
    manifest = yaml.safe_load((out / "k8s" / "ResourceFlavor.train-h100.yaml").read_text())
    assert manifest["spec"]["nodeLabels"] == {"example.com/rack-group": "dgx-h100"}
    pools = {row["pool"]: row for row in report["pools"]}
    assert pools["train-h100"]["pod_resources"] == {"nvidia.com/gpu": 8, "rdma/hdr_ib": 63}
    assert pools["train-h100"]["flavor"] == "train-h100" and pools["train-h100"]["queues"] == ["training-h100-80gb"]


def test_the_default_storage_class_has_its_driver_with_its_own_role(full_stack_dir) -> None:
    _, result = full(full_stack_dir)
    [addon] = [r for r in result.of_type("aws:eks/addon:Addon") if r.inputs["addonName"] == "aws-ebs-csi-driver"]
    [association] = addon.inputs["podIdentityAssociations"]
    assert association["serviceAccount"] == "ebs-csi-controller-sa"
    [role] = [r for r in result.of_type("aws:iam/role:Role") if r.name == "aws-ebs-csi-driver"]
    assert association["roleArn"] == role.outputs["arn"]
    [attachment] = [
        r for r in result.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment") if r.name == "aws-ebs-csi-driver"
    ]
    assert attachment.inputs["policyArn"] == "arn:aws:iam::aws:policy/service-role/AmazonEBSCSIDriverPolicy"


def test_every_helm_value_gpufleet_sets_says_why(full_stack_dir) -> None:
    for stack in ("full", "onprem"):
        plan, _ = rendered(stack, str(full_stack_dir if stack == "full" else REPO / "stacks"))
        for release in plan.kubernetes.releases:
            named = {part.strip().split(".")[0] for reason in release.reasons for part in reason.subject.split(",")}
            assert set(release.values) <= named, release.name
