"""The GPU Operator does what the stack says, on day 1 and day 2 (issue 23: #13, #15, #19, #20, #21, S1, S5)."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from gpufleet.catalog import load_catalog
from gpufleet.model import resolve
from gpufleet.stack import load_stack
from tests.kubernetes.conftest import REPO, rendered
from tests.kubernetes.invariants import release_values, tolerates
from tests.kubernetes.references import chart_defaults
from tests.program.conftest import preview_file
from tests.reference import reference_path

PROD = REPO / "stacks" / "prod.yaml"
RELEASE = "kubernetes:helm.sh/v3:Release"


def prod_variant(tmp_path: Path, old: str, new: str):
    """prod with one edit, previewed beside a copy of its subnet record."""
    text = PROD.read_text(encoding="utf-8")
    assert old in text
    (tmp_path / "prod.yaml").write_text(text.replace(old, new), encoding="utf-8")
    (tmp_path / "prod.subnets.lock").write_text((REPO / "stacks" / "prod.subnets.lock").read_text(encoding="utf-8"))
    return preview_file(tmp_path / "prod.yaml")


def changed_resources(before, after) -> dict[str, str]:
    """URN name -> update, create or delete, between two previews of one stack."""
    old = {r.urn: r for r in before.resources}
    new = {r.urn: r for r in after.resources}
    found = {new[urn].name: "create" for urn in new.keys() - old.keys()}
    found |= {old[urn].name: "delete" for urn in old.keys() - new.keys()}
    found |= {new[urn].name: "update" for urn in new.keys() & old.keys() if new[urn].inputs != old[urn].inputs}
    return found


def test_the_mig_manager_may_reboot_a_node_to_change_mig_mode() -> None:
    """EKS UG ml-device-management-nvidia-mig: its AL2023 values set ``migManager.env: [{name:
    WITH_REBOOT, value: "true"}]``; mig-parted v0.15.0 reconfigure.go reboots the node only ``if
    r.opts.WithReboot`` when changing MIG mode fails without a GPU reset, else the config fails.
    Every stack with a MIG pool sets it; ``migManager.env`` is a key of the chart's values."""
    _, result = rendered("prod", str(REPO / "stacks"))
    env = release_values(result, "gpu-operator")["migManager"]["env"]
    assert {"name": "WITH_REBOOT", "value": "true"} in env
    assert chart_defaults("gpu-operator")["migManager"]["env"] == []


def test_operands_keep_the_charts_default_tolerations(stack) -> None:
    """gpu-operator v26.7.0 values.yaml: ``daemonsets.tolerations`` is ``nvidia.com/gpu Exists``
    and NFD's worker also tolerates the control plane; Helm merges maps but a list given in values
    replaces the default list. Every rendered list still holds each chart default."""
    _, _, result = stack
    values = release_values(result, "gpu-operator")
    if values is None:
        return
    defaults = chart_defaults("gpu-operator")
    for given, default in (
        (values["daemonsets"]["tolerations"], defaults["daemonsets"]["tolerations"]),
        (values["node-feature-discovery"]["worker"]["tolerations"], defaults["node-feature-discovery"]["worker"]["tolerations"]),
    ):
        assert all(toleration in given for toleration in default), given


def test_existing_nodes_declare_their_taints_and_everything_tolerates_them(tmp_path: Path) -> None:
    """Existing nodes are tainted by their owners: the stack says how (``taints``), and the
    pool's flavor (Kueue adds a flavor's tolerations to admitted pods), the GPU Operator's
    operands and the fabric's NicClusterPolicy all tolerate each taint."""
    text = (REPO / "stacks" / "onprem.yaml").read_text(encoding="utf-8")
    text = text.replace(
        "    fabric: hdr-ib\n",
        "    fabric: hdr-ib\n    taints: [{key: example.com/dedicated, value: training}, {key: nvidia.com/gpu, effect: NoExecute}]\n",
    )
    path = tmp_path / "onprem.yaml"
    path.write_text(text, encoding="utf-8")
    plan = resolve(load_stack(path), load_catalog())
    result = preview_file(path)
    taints = [("example.com/dedicated", "training", "NoSchedule"), ("nvidia.com/gpu", "", "NoExecute")]
    flavor = next(
        r for r in result.resources if r.type.endswith(":ResourceFlavor") and r.inputs["metadata"]["name"] == "train-h100"
    )
    operator = release_values(result, "gpu-operator")
    (policy,) = [r for r in result.resources if r.type.endswith(":NicClusterPolicy")]
    for taint in taints:
        assert tolerates(flavor.inputs["spec"]["tolerations"], taint), taint
        assert tolerates(operator["daemonsets"]["tolerations"], taint), taint
        assert tolerates(operator["node-feature-discovery"]["worker"]["tolerations"], taint), taint
        assert tolerates(policy.inputs["spec"]["tolerations"], taint), taint
    facts = next(f for f in plan.pool_facts() if f.pool == "train-h100")
    assert facts.taints == ("example.com/dedicated=training:NoSchedule", "nvidia.com/gpu=:NoExecute")


def test_a_layout_change_under_the_same_name_restarts_the_mig_manager(tmp_path: Path) -> None:
    """mig-parted v0.15.0 cmd/nvidia-mig-manager/main.go reads its config file at start and, on
    an informer update, acts only ``if oldLabel != newLabel``: new content under an unchanged
    label reaches a node only when mig-manager restarts. Before/after a layout change of
    prod's serve-balanced: the ConfigMap updates and so does the gpu-operator Release, whose
    ``migManager.env`` carries the config's digest (the operator rolls mig-manager on it); the
    queues' quotas and the pool's node-template tags follow the new profiles in the same update,
    and no node group or launch template changes (the label is the same)."""
    _, before = rendered("prod", str(REPO / "stacks"))
    after = prod_variant(tmp_path, "layout: {3g.40gb: 1, 2g.20gb: 1, 1g.10gb: 2}", "layout: {3g.40gb: 2}")
    changed = changed_resources(before, after)
    assert changed["gpufleet-mig-parted-config"] == "update"
    assert changed["gpu-operator"] == "update"
    env = {e["name"]: e["value"] for e in release_values(after, "gpu-operator")["migManager"]["env"]}
    old = {e["name"]: e["value"] for e in release_values(before, "gpu-operator")["migManager"]["env"]}
    assert env["GPUFLEET_MIG_CONFIG_DIGEST"] != old["GPUFLEET_MIG_CONFIG_DIGEST"]
    deleted = sorted(name for name, change in changed.items() if change == "delete")
    assert deleted == [
        "serve-h100-k8s.io/cluster-autoscaler/node-template/resources/nvidia.com/mig-1g.10gb",
        "serve-h100-k8s.io/cluster-autoscaler/node-template/resources/nvidia.com/mig-2g.20gb",
    ]
    assert "create" not in changed.values()
    assert not [name for name in changed if name.endswith(("-nodes", "-template"))]


def test_a_mig_plan_rename_rolls_the_pool_and_never_relabels_running_nodes(tmp_path: Path) -> None:
    """EKS UG update-managed-node-group (4d52b4d): a node group config update is how "You want to
    add or remove Kubernetes labels from the instances in your managed node group", i.e. on the
    running nodes; managed-node-update-behavior: a new launch template version makes EKS launch
    new nodes and terminate the old ("until there are no nodes in the node group that are
    deployed with the earlier version of the launch template"); launch-templates: "If a custom AMI
    ID is specified in a launch template, Amazon EKS doesn't merge user data", so the kubelet's
    ``--node-labels`` in gpufleet's user data are what a new node registers with. The MIG label
    goes only that way. Before/after renaming prod's serve-balanced: the serve-h100 launch
    template updates, the node group's labels do not change (only its launch template version
    will), ``diff --impact`` says the pool rolls its nodes, one at a time
    (MINIMAL), and the ConfigMap names the new entry."""
    _, before = rendered("prod", str(REPO / "stacks"))
    text = PROD.read_text(encoding="utf-8").replace("serve-balanced", "serve-split")
    (tmp_path / "new").mkdir()
    (tmp_path / "new" / "prod.yaml").write_text(text, encoding="utf-8")
    (tmp_path / "new" / "prod.subnets.lock").write_text((REPO / "stacks" / "prod.subnets.lock").read_text(encoding="utf-8"))
    after = preview_file(tmp_path / "new" / "prod.yaml")
    changed = changed_resources(before, after)
    assert changed["serve-h100-template"] == "update"
    # Under the preview's mocks every launch template reports version 1: the node group's inputs
    # are unchanged here; at apply it takes the new version (``diff --impact`` below).
    assert "serve-h100-nodes" not in changed
    old_group = before.named("aws:eks/nodeGroup:NodeGroup", "serve-h100-nodes").inputs
    new_group = after.named("aws:eks/nodeGroup:NodeGroup", "serve-h100-nodes").inputs
    assert "nvidia.com/mig.config" not in old_group["labels"]
    assert new_group["labels"] == old_group["labels"]
    assert new_group["updateConfig"] == {"maxUnavailable": 1, "updateStrategy": "MINIMAL"}
    assert (
        "serve-split"
        in yaml.safe_load(
            after.named("kubernetes:core/v1:ConfigMap", "gpufleet-mig-parted-config").inputs["data"]["config.yaml"]
        )["mig-configs"]
    )
    # The launch template's kubelet flags carry the new name.
    assert (_user_data_labels(before, "serve-h100"), _user_data_labels(after, "serve-h100")) == (
        "serve-balanced",
        "serve-split",
    )
    from typer.testing import CliRunner

    from gpufleet.cli import app

    out = CliRunner().invoke(app, ["diff", str(PROD), str(tmp_path / "new" / "prod.yaml"), "--impact", "--json"])
    pools = {pool["pool"]: pool for pool in json.loads(out.stdout)["impact"]["pools"]}
    assert pools["serve-h100"]["impact"] == "rolls_nodes"
    assert all(pool["impact"] in (None, "no_change") for name, pool in pools.items() if name != "serve-h100")


def _user_data_labels(result, pool: str) -> str | None:
    """The ``nvidia.com/mig.config`` value in a pool's launch template user data (base64 MIME)."""
    import base64
    import re

    data = result.named("aws:ec2/launchTemplate:LaunchTemplate", f"{pool}-template").inputs["userData"]
    found = re.search(r"nvidia\.com/mig\.config=([\w.-]+)", base64.b64decode(data).decode())
    return found.group(1) if found else None


def test_a_time_slicing_change_rolls_the_device_plugin(tmp_path: Path) -> None:
    """k8s-device-plugin v0.20.0 config-manager: it watches the node label only (``UpdateFunc``
    ... ``if oldLabel != newLabel``) and then signals the plugin; a new replica count under the
    same label is never picked up. Before/after replicas 4 -> 8 on prod's lab-l4: the
    gpu-operator Release updates its ``devicePlugin.env`` digest, so the operator rolls the plugin."""
    _, before = rendered("prod", str(REPO / "stacks"))
    after = prod_variant(tmp_path, "sharing: {time_slicing: {replicas: 4}}", "sharing: {time_slicing: {replicas: 8}}")
    changed = changed_resources(before, after)
    assert changed["gpufleet-device-plugin-config"] == "update" and changed["gpu-operator"] == "update"
    digest = [e["value"] for e in release_values(after, "gpu-operator")["devicePlugin"]["env"]]
    assert digest != [e["value"] for e in release_values(before, "gpu-operator")["devicePlugin"]["env"]]


def test_gpu_operator_upgrades_may_run_its_crd_hook() -> None:
    """gpu-operator values.yaml: ``upgradeCRD: true`` "upgrade CRD on chart upgrade, requires
    --disable-openapi-validation flag to be passed during helm upgrade". The release passes it."""
    _, result = rendered("prod", str(REPO / "stacks"))
    (operator,) = [r for r in result.of_type(RELEASE) if r.inputs["name"] == "gpu-operator"]
    assert operator.inputs["disableOpenapiValidation"] is True
    assert chart_defaults("gpu-operator")["operator"]["upgradeCRD"] is True
    others = [r for r in result.of_type(RELEASE) if r.inputs["name"] != "gpu-operator"]
    assert others and not any(r.inputs.get("disableOpenapiValidation") for r in others)


def test_a_shared_gpu_is_never_given_twice_to_one_container() -> None:
    """k8s-device-plugin v0.20.0 README: "If `failRequestsGreaterThanOne=true`, then the plugin
    will fail to allocate any shared resources to a container if they request more than one ...
    Setting `failRequestsGreaterThanOne=true` is recommended". Every time-slicing config sets it,
    in the shape of NVIDIA's own tests/plugin-config.yaml."""
    _, result = rendered("prod", str(REPO / "stacks"))
    (config_map,) = [r for r in result.resources if r.name == "gpufleet-device-plugin-config"]
    shared = [json.loads(text) for text in config_map.inputs["data"].values() if "sharing" in json.loads(text)]
    assert shared and all(config["sharing"]["timeSlicing"]["failRequestsGreaterThanOne"] is True for config in shared)
    nvidia = yaml.safe_load(reference_path("k8s/gpu-operator__tests__plugin-config.yaml").read_text(encoding="utf-8"))
    assert set(shared[0]["sharing"]["timeSlicing"]) <= {
        *nvidia["sharing"]["timeSlicing"],
        "failRequestsGreaterThanOne",
        "renameByDefault",
    }
