"""Ordinary edits of prod, each classified resource by resource and checked against what the two
previews' ``resources.json`` actually change.

Every test starts from ``stacks/prod.yaml``, makes one edit, previews both sides offline as the
same stack and classifies. The classes come from the provider facts in
``catalog/data/impact.yaml``: Terraform's ``ForceNew`` (pulumi-aws plans through the bridged
provider), pulumi-kubernetes' force-new table, the API server's immutables and EKS's node
update behaviour; each docstring quotes the fact that decides its edit.
"""

from __future__ import annotations

import re
from typing import Any

from tests.impact.conftest import PROD, Edit


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """resources.json inputs as dotted paths; lists of plain values are one value."""
    flat: dict[str, Any] = {}
    if isinstance(value, dict):
        if not value and prefix:
            flat[prefix] = {}
        for key, item in value.items():
            flat.update(_flatten(item, f"{prefix}.{key}" if prefix else key))
    elif isinstance(value, list) and any(isinstance(item, dict | list) for item in value):
        for index, item in enumerate(value):
            flat.update(_flatten(item, f"{prefix}[{index}]"))
    elif prefix:
        flat[prefix] = value
    return flat


def assert_matches_resources_json(edit: Edit) -> None:
    """What the report says changed directly is exactly what resources.json changes: the same
    resources created and deleted (a rename pairs one of each), the same inputs changed; every
    other change it reports is inferred from a replaced resource or a new template version."""
    before = {r["urn"]: r for r in edit.before.resources_json if r["custom"]}
    after = {r["urn"]: r for r in edit.after.resources_json if r["custom"]}
    report = {r.urn: r for r in edit.report.resources}
    renamed = {r.renamed_from: r.urn for r in edit.report.resources if r.renamed_from}
    created = {urn for urn, r in report.items() if r.change == "created"}
    deleted = {urn for urn, r in report.items() if r.change == "deleted"}
    assert created == set(after) - set(before) - set(renamed.values())
    assert deleted == set(before) - set(after) - set(renamed)
    compared = 0
    for urn in set(after) & set(before) | set(renamed.values()):
        old = before[urn] if urn in before else before[next(k for k, v in renamed.items() if v == urn)]
        changed = {
            path for path, value in _flatten(after[urn]["inputs"]).items() if _flatten(old["inputs"]).get(path) != value
        } | {path for path in _flatten(old["inputs"]) if path not in _flatten(after[urn]["inputs"])}
        direct = {change.path for change in report[urn].inputs if change.caused_by is None} if urn in report else set()
        assert direct == changed, urn
        compared += bool(changed)
    assert compared or created or deleted, "the edit changed nothing the check could see"
    for resource in edit.report.resources:
        for change in resource.inputs:
            if change.caused_by is not None:
                cause = report[change.caused_by]
                assert cause.impact == "replace" or any(c.new_version for c in cause.inputs), (resource.urn, change.path)


def test_an_ami_release_bump_rolls_every_launched_pool(edit) -> None:
    """The AMI is the launch template's ``imageId``; terraform-provider-aws updates a template by
    ``CreateLaunchTemplateVersion`` ("if d.HasChanges(updateKeys...)", imageId among them), and
    the node group points at the latest version, so it calls ``UpdateNodegroupVersion``: "every
    node is recycled" (EKS user guide). The capacity block cannot surge and EKS wants it at
    desired 0 first; the on-demand GPU pool updates in place too (MINIMAL, issue 23 #22)."""
    result = edit(PROD.replace("ami_release: v20250620", "ami_release: v20250715"))
    assert_matches_resources_json(result)
    for pool in ("system", "train-h200", "serve-h100", "lab-l4"):
        assert result.impact("LaunchTemplate", f"{pool}-template") == "in_place"
        assert result.impact("NodeGroup", f"{pool}-nodes") == "rolls_nodes"
    assert result.report.counts == {"in_place": 4, "rolls_nodes": 4}
    pools = {pool.pool: pool for pool in result.report.pools}
    assert pools["train-h200"].strategy == "MINIMAL" and pools["train-h200"].surge_nodes == 0
    assert pools["train-h200"].cannot_surge and pools["train-h200"].waves == 16
    assert any("desired size of the node group is set to 0" in note for note in pools["train-h200"].notes)
    # GPU pools replace nodes in place: no surge node, one node at a time.
    assert pools["serve-h100"].strategy == "MINIMAL" and pools["serve-h100"].surge_nodes == 0
    assert pools["serve-h100"].gpu_hours == 2 * 8 * 0.25 and pools["serve-h100"].gpu_hours_max == 8 * 8 * 0.25


def test_a_kubernetes_version_bump_upgrades_the_control_plane_and_rolls_nodes(edit) -> None:
    """``version`` on the cluster is ``UpdateClusterVersion`` ("if d.HasChange(names.AttrVersion)"),
    in place; add-on versions are ``UpdateAddon``; nodes follow only through the new AMI
    parameter in each launch template, a new version that rolls them."""
    result = edit(PROD, old=PROD.replace('kubernetes_version: "1.33"', 'kubernetes_version: "1.32"'))
    assert_matches_resources_json(result)
    assert result.impact("eks/cluster:Cluster", "ai-prod-eks") == "in_place"
    assert result.impact("Addon", "ai-prod-coredns") == "in_place"
    assert result.impact("Addon", "ai-prod-kube-proxy") == "in_place"
    assert result.pools() == dict.fromkeys(("lab-l4", "serve-h100", "system", "train-h200"), "rolls_nodes")


def test_an_instance_type_change_rolls_its_pool_not_replaces_it(edit) -> None:
    """gpufleet writes the instance type into the launch template, not the node group's
    ``instanceTypes`` (which is ForceNew): a new template version, so a roll."""
    result = edit(PROD.replace("instance_type: m7i.2xlarge", "instance_type: m7i.4xlarge"))
    assert_matches_resources_json(result)
    template = next(r for r in result.report.resources if r.name == "system-template")
    assert {change.path for change in template.inputs} == {"description", "instanceType"}
    assert result.impact("NodeGroup", "system-nodes") == "rolls_nodes"
    assert result.pools() == {"system": "rolls_nodes"}


def test_raising_nodes_max_updates_in_place(edit) -> None:
    """``scaling_config`` changes go through ``UpdateNodegroupConfig`` ("if
    d.HasChange(\\"scaling_config\\")"), which keeps the nodes; the autoscaler's Helm values and
    the Kueue quota follow, in place."""
    result = edit(
        PROD.replace(
            "instance_type: g6.12xlarge\n    nodes: {min: 0, max: 4}", "instance_type: g6.12xlarge\n    nodes: {min: 0, max: 8}"
        )
    )
    assert_matches_resources_json(result)
    assert result.impact("NodeGroup", "lab-l4-nodes") == "in_place"
    assert result.impact("helm.sh/v3:Release", "cluster-autoscaler") == "in_place"
    assert result.impact("ClusterQueue", "lab") == "in_place"
    assert result.pools() == {}


def test_a_label_rolls_the_pool_through_user_data(edit) -> None:
    """EKS applies node-group labels in place (``UpdateNodegroupConfig``), but gpufleet also
    writes them into the kubelet's ``--node-labels`` in the template's user data, and user data
    is one of the template's update keys: a new version, so every node is recycled."""
    result = edit(
        PROD.replace(
            "    sharing: {time_slicing: {replicas: 4}}\n",
            "    sharing: {time_slicing: {replicas: 4}}\n    labels: {team: research}\n",
        )
    )
    assert_matches_resources_json(result)
    group = next(r for r in result.report.resources if r.name == "lab-l4-nodes")
    assert {change.path: change.impact for change in group.inputs} == {
        "labels.team": "in_place",
        "launchTemplate.version": "rolls_nodes",
    }
    template = next(r for r in result.report.resources if r.name == "lab-l4-template")
    (user_data,) = template.inputs
    assert user_data.path == "userData" and any("team=research" in line for line in user_data.after)
    assert result.change("autoscaling/tag:Tag", "lab-l4-k8s.io/cluster-autoscaler/node-template/label/team") == "created"
    assert result.pools() == {"lab-l4": "rolls_nodes"}


def test_a_taint_change_replaces_the_node_group_and_its_tags(edit) -> None:
    """Taints follow the workload, and the workload picks the node role: ``node_role_arn`` is
    ForceNew ("\\"node_role_arn\\": { ... ForceNew: true"), so the group is replaced, and each Auto
    Scaling group tag takes the group's ASG name (``autoscaling_group_name`` ForceNew)."""
    result = edit(
        PROD.replace("  lab-l4:\n    workload: lab\n", "  lab-l4:\n    workload: inference\n")
        .replace("    sharing: {time_slicing: {replicas: 4}}\n", "")
        .replace("  lab: [sandbox]\n", "")
    )
    assert_matches_resources_json(result)
    assert result.impact("NodeGroup", "lab-l4-nodes") == "replace"
    assert (
        result.impact("autoscaling/tag:Tag", "lab-l4-k8s.io/cluster-autoscaler/node-template/label/gpufleet.io/pool") == "replace"
    )
    assert result.impact("ResourceFlavor", "lab-l4") == "in_place"
    assert result.pools() == {"lab-l4": "replace"}


def test_a_mig_layout_change_replaces_the_config_map_and_rolls_no_node(edit) -> None:
    """pulumi-kubernetes replaces a ConfigMap whose data changes unless the provider sets
    ``enableConfigMapMutable`` ("clients.IsConfigMap(obj) && (!k.enableConfigMapMutable ..."),
    which gpufleet's does not; the nodes' ``nvidia.com/mig.config`` label is unchanged, so no
    launch template changes and no node rolls."""
    result = edit(PROD.replace("layout: {3g.40gb: 1, 2g.20gb: 1, 1g.10gb: 2}", "layout: {3g.40gb: 2}"))
    assert_matches_resources_json(result)
    assert result.impact("ConfigMap", "gpufleet-mig-parted-config") == "replace"
    assert result.impact("ClusterQueue", "inference") == "in_place"
    assert result.impact("NodeGroup", "serve-h100-nodes") == "no_change"
    assert result.pools() == {}


def test_adding_a_zone_replaces_every_multi_zone_node_group(edit) -> None:
    """``subnet_ids`` of a node group is ForceNew ("names.AttrSubnetIDs: { Type: schema.TypeSet,
    Required: true, ForceNew: true"): every pool spread over the zones gets a new group; the
    single-zone capacity block and the file system keep their subnet."""
    result = edit(
        PROD.replace("availability_zones: [us-east-1a, us-east-1b]", "availability_zones: [us-east-1a, us-east-1b, us-east-1c]")
    )
    assert_matches_resources_json(result)
    assert result.pools() == {"lab-l4": "replace", "serve-h100": "replace", "system": "replace"}
    assert result.impact("NodeGroup", "train-h200-nodes") == "no_change"
    assert result.impact("LustreFileSystem", "scratch-fs") == "no_change"
    assert result.change("ec2/subnet:Subnet", "network-private-us-east-1c") == "created"
    tags = [r for r in result.report.resources if r.type.endswith("autoscaling/tag:Tag")]
    assert tags and {r.impact for r in tags} == {"replace"}
    assert all(change.caused_by for r in tags for change in r.inputs), "the mocks keep the ASG name: inferred"


def test_an_fsx_throughput_change_is_in_place(edit) -> None:
    """``per_unit_storage_throughput`` has no ForceNew and no CustomizeDiff: the update handler
    sends it ("if d.HasChange(\\"per_unit_storage_throughput\\")")."""
    result = edit(PROD.replace("throughput_per_tib: 1000", "throughput_per_tib: 500"))
    assert_matches_resources_json(result)
    assert result.impact("LustreFileSystem", "scratch-fs") == "in_place"
    assert [r.name for r in result.report.resources] == ["scratch-fs"]


def test_an_fsx_deployment_type_change_is_blocked_by_protection(edit) -> None:
    """``deployment_type`` is ForceNew, and the file system is protected: "any deployment that
    would delete it (including a replacement) fails with an error instead" (Pulumi). Nothing
    downstream is replaced: the apply stops at the file system."""
    result = edit(
        PROD.replace("deployment: PERSISTENT_2", "deployment: PERSISTENT_1").replace(
            "throughput_per_tib: 1000", "throughput_per_tib: 200"
        )
    )
    assert_matches_resources_json(result)
    fsx = next(r for r in result.report.resources if r.name == "scratch-fs")
    assert fsx.impact == "blocked" and fsx.protected
    assert {c.path: c.impact for c in fsx.inputs}["deploymentType"] == "replace"
    assert result.impact("DataRepositoryAssociation", "scratch-import") == "no_change"
    assert result.report.worst == "blocked"


def test_a_pool_renamed_replaces_its_resources_under_new_names(edit) -> None:
    """A new name is a new URN: Pulumi creates the new resource and deletes the old one; the
    device-plugin ConfigMap's data is keyed by pool, so it is replaced too."""
    result = edit(PROD.replace("  lab-l4:\n", "  lab-l4x:\n"))
    assert_matches_resources_json(result)
    for type_suffix, name in (
        ("LaunchTemplate", "lab-l4x-template"),
        ("NodeGroup", "lab-l4x-nodes"),
        ("ResourceFlavor", "lab-l4x"),
    ):
        assert (result.impact(type_suffix, name), result.change(type_suffix, name)) == ("replace", "renamed")
    assert result.impact("ConfigMap", "gpufleet-device-plugin-config") == "replace"
    assert result.impact("ClusterQueue", "lab") == "in_place"
    assert result.pools() == {"lab-l4x": "replace"}
    assert not [r for r in result.report.resources if r.change == "deleted" and re.search(r"lab-l4(?!x)", r.name)]


def test_diff_impact_as_json_sarif_and_markdown(tmp_path) -> None:
    """The CLI's three machine forms of one report (an AMI bump): JSON with each resource's
    class and source, SARIF 2.1.0 with a result per disrupted resource at its pool's line, and
    the Markdown diff table with an impact column for the difference that causes it."""
    import json

    import jsonschema
    from typer.testing import CliRunner

    from gpufleet.cli import app
    from tests.impact.conftest import REPO

    for side, text in (("old", PROD), ("new", PROD.replace("ami_release: v20250620", "ami_release: v20250715"))):
        (tmp_path / side).mkdir()
        (tmp_path / side / "prod.yaml").write_text(text, encoding="utf-8")
        (tmp_path / side / "prod.subnets.lock").write_bytes((REPO / "stacks" / "prod.subnets.lock").read_bytes())
    old, new = str(tmp_path / "old" / "prod.yaml"), str(tmp_path / "new" / "prod.yaml")
    runner = CliRunner()
    as_json = runner.invoke(app, ["diff", old, new, "--impact", "--json"])
    assert as_json.exit_code == 1, as_json.output
    impact = json.loads(as_json.stdout)["impact"]
    assert impact["worst"] == "rolls_nodes" and impact["counts"] == {"in_place": 4, "rolls_nodes": 4}
    group = next(r for r in impact["resources"] if r["name"] == "train-h200-nodes")
    (version,) = group["inputs"]
    assert (version["path"], version["impact"], version["src"]) == (
        "launchTemplate.version",
        "rolls_nodes",
        "tf eks/func.resourceNodeGroupUpdate:41-77",
    )
    assert version["caused_by"].endswith("::train-h200-template")
    sarif = json.loads(runner.invoke(app, ["diff", old, new, "--format", "sarif"]).stdout)
    jsonschema.validate(sarif, json.loads((REPO / "tests" / "data" / "sarif-schema-2.1.0.json").read_text(encoding="utf-8")))
    results = sarif["runs"][0]["results"]
    rolled = [r for r in results if r["ruleId"] == "GF-IMP-002"]
    assert len(rolled) == 4 and {r["level"] for r in rolled} == {"warning"}
    new_lines = (tmp_path / "new" / "prod.yaml").read_text(encoding="utf-8").splitlines()
    train = next(i for i, line in enumerate(new_lines, 1) if line == "  train-h200:")
    assert train in {r["locations"][0]["physicalLocation"]["region"]["startLine"] for r in rolled}
    markdown = runner.invoke(app, ["diff", old, new, "--impact", "--format", "markdown"]).stdout
    (row,) = [line for line in markdown.splitlines() if "ami_release" in line]
    assert row.rstrip().endswith("| rolls nodes |"), "the AMI release reaches every launched pool"
