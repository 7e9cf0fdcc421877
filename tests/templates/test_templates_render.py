"""Every template renders into a stack the loader, resolver and Pulumi program accept: with
its defaults, with every numeric parameter at its smallest and at its largest, and with each
GPU it allows."""

from __future__ import annotations

from pathlib import Path

import pytest

from gpufleet.catalog import load_catalog
from gpufleet.model.subnets import record_drift
from gpufleet.stack import StackInvalid, load_stack
from gpufleet.templating import Given, default_templates_dir, load_template, stamp, template_names
from tests.program.conftest import preview_file

REPO = Path(__file__).resolve().parents[2]
TEMPLATES = REPO / "infra" / "gpufleet" / "templates"
NAMES = template_names(TEMPLATES)
# What the catalog's price table cannot price in a template's defaults (rule, pool): its snapshot
# of 2026-12-05 has no on-demand row for p5e.48xlarge (AWS sells it through capacity blocks) and
# no spot figure for p5.4xlarge in us-west-2. Anything else found is a failure.
PRICE_GAPS = {
    "ai-lab": {("GF-COST-004", "lab-h100")},
    "llm-training": {("GF-COST-002", "train-h200")},
    "realtime-inference": set(),
}


def price_gaps(findings) -> set[tuple[str, str]]:
    return {(finding.rule_id, str(finding.path[1])) for finding in findings}


def given(**values: object) -> dict[str, Given]:
    return {name: Given(value, "test") for name, value in values.items()}


def at_bound(template_name: str, bound: str) -> dict[str, Given]:
    template = load_template(template_name, TEMPLATES)
    return given(**{name: getattr(p, bound) for name, p in template.parameters.items() if hasattr(p, bound)})


def gpu_choices() -> list[tuple[str, str, str]]:
    return [
        (name, parameter_name, gpu)
        for name in NAMES
        for parameter_name, parameter in load_template(name, TEMPLATES).parameters.items()
        for gpu in getattr(parameter, "instances", {})
    ]


def test_the_three_use_cases_ship() -> None:
    assert NAMES == ["ai-lab", "llm-training", "realtime-inference"]


def test_outside_a_project_the_shipped_templates_are_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert default_templates_dir() == TEMPLATES
    (tmp_path / "templates" / "mine").mkdir(parents=True)
    (tmp_path / "templates" / "mine" / "template.yaml").write_text("description: x\n", encoding="utf-8")
    assert template_names(default_templates_dir()) == ["mine"]


@pytest.mark.parametrize("name", NAMES)
def test_defaults_render_resolve_and_preview(name: str, tmp_path: Path) -> None:
    rendered, written = stamp(load_template(name, TEMPLATES), "check", {}, tmp_path, force=False)
    assert written == [
        tmp_path / "stacks" / "check.yaml",
        tmp_path / "Pulumi.check.yaml",
        tmp_path / "stacks" / "check.subnets.lock",
    ]
    assert written[0].read_text(encoding="utf-8") == rendered.stack_text
    assert price_gaps(rendered.plan.findings) == PRICE_GAPS[name]
    # The record it wrote is current: the stamped stack's first `pulumi up` takes it as it is.
    assert record_drift(load_stack(written[0]).record.record, rendered.plan.network.record) == []
    assert preview_node_groups(rendered, written) == sorted(f"{pool.name}-nodes" for pool in rendered.plan.pools)


def preview_node_groups(rendered, written: list[Path]) -> list[str]:
    """Run the Pulumi program on the stamped stack: the node groups it registers."""
    result = preview_file(written[0], region=rendered.plan.cluster.region)
    return sorted(r.name for r in result.of_type("aws:eks/nodeGroup:NodeGroup"))


@pytest.mark.parametrize("bound", ["minimum", "maximum"])
@pytest.mark.parametrize("name", NAMES)
def test_every_number_at_its_bound_still_resolves_and_previews(name: str, bound: str, tmp_path: Path) -> None:
    template = load_template(name, TEMPLATES)
    rendered, written = stamp(template, "edge", at_bound(name, bound), tmp_path, force=False)
    plan = rendered.plan
    assert preview_node_groups(rendered, written) == sorted(f"{pool.name}-nodes" for pool in plan.pools)
    # Nothing but the table's known gaps: `gpufleet validate --strict` passes where the table prices the pools.
    assert price_gaps(plan.findings) <= PRICE_GAPS[name]
    if name == "llm-training":
        (train,) = [pool for pool in plan.pools if pool.workload == "training"]
        nodes = template.parameters["nodes"]
        assert train.nodes.max == getattr(nodes, bound)
        # Smallest: one node, no placement group; largest: many on-demand nodes in one cluster group.
        assert train.source.placement.strategy == ("none" if bound == "minimum" else "cluster")


@pytest.mark.parametrize(("name", "parameter", "gpu"), gpu_choices())
def test_each_allowed_gpu_renders_a_pool_of_that_gpu(name: str, parameter: str, gpu: str) -> None:
    template = load_template(name, TEMPLATES)
    value = [gpu] if template.parameters[parameter].type == "gpu-list" else gpu
    # Optional pools are left out at 0 nodes; switch every one on so the GPU's pool exists.
    pools_on = {n: max(p.default, 1) for n, p in template.parameters.items() if n.endswith("_nodes_max")}
    # us-west-2a-c offer every allowed type; one region offers none of some (GF-AWS-005, issue 8).
    plan = template.render("gpus", given(**pools_on, region="us-west-2", zones=3, **{parameter: value})).plan
    instance = template.parameters[parameter].instances[gpu]
    pools = [pool for pool in plan.pools if pool.source.instance.name == instance]
    assert pools and all(pool.accelerator.name == gpu for pool in pools)


# The template's default region (us-east-2) offers no p6-b300 (catalog zone offerings); us-west-2a-b do.
@pytest.mark.parametrize(
    ("gpu", "region"), [("H200-141GB", "us-east-2"), ("B200-180GB", "us-east-2"), ("B300-288GB", "us-west-2")]
)
def test_each_training_gpu_previews_with_its_efa_layout(gpu: str, region: str, tmp_path: Path) -> None:
    """The training GPUs differ most where the program works hardest: EFA interfaces per card."""
    rendered, written = stamp(
        load_template("llm-training", TEMPLATES), "train", given(gpu=gpu, region=region), tmp_path, force=False
    )
    (train,) = [pool for pool in rendered.plan.pools if pool.workload == "training"]
    result = preview_file(written[0], region=rendered.plan.cluster.region)
    template = result.named("aws:ec2/launchTemplate:LaunchTemplate", f"{train.name}-template").inputs
    efa = [nic for nic in template["networkInterfaces"] if nic.get("interfaceType") in ("efa", "efa-only")]
    assert len(efa) == train.source.efa.efa_count == load_catalog().instance_type(train.source.instance.name).max_efa_interfaces


def test_gpu_parameters_name_only_catalog_gpus_on_instances_that_carry_them() -> None:
    catalog = load_catalog()
    for _, parameter_name, gpu in gpu_choices():
        assert catalog.accelerator(gpu).name == gpu, parameter_name


def test_training_lustre_grows_until_it_feeds_every_gpu() -> None:
    template = load_template("llm-training", TEMPLATES)
    small_data = template.render("t", given(nodes=32, dataset_tib=1, read_mbs_per_gpu=1250)).plan
    scratch = small_data.storage_tier("scratch")
    # 32 nodes x 8 GPUs x 1250 MB/s = 320,000 MB/s; PERSISTENT_2's disks at 1000 give 1000 MB/s per TiB.
    assert scratch.disk_throughput_mbs >= 320_000
    assert scratch.fsx.storage_capacity_gib == 321_600  # 320 TiB rounded up to FSx's 2.4 TiB steps
    (train,) = [pool for pool in small_data.pools if pool.workload == "training"]
    assert train.read_mbs_per_gpu == 1250, "the pool carries what the tier was sized for"
    big_data = template.render("t", given(nodes=1, dataset_tib=500)).plan
    assert big_data.storage_tier("scratch").fsx.storage_capacity_gib == 501_600


def test_inference_services_become_a_demand_plan_packed_on_the_mig_pool() -> None:
    services = [{"name": "chat", "memory_gib": 18, "replicas": 8}]
    plan = load_template("realtime-inference", TEMPLATES).render("s", given(services=services)).plan
    serve = next(pool for pool in plan.pools if pool.mig is not None)
    assert [d.name for d in serve.mig.demand] == ["chat"]
    # Each of the eight replicas gets a GPU instance of its own, on the node's eight GPUs.
    slices = sum(len(entry.devices) * count for entry in serve.mig.device_layouts for count in (entry.layout or {}).values())
    assert slices == 8
    assert all(pool.source.zones == plan.network.zones for pool in plan.pools if pool.workload == "inference")


def test_lab_pools_are_spot_and_scale_to_zero() -> None:
    plan = load_template("ai-lab", TEMPLATES).render("lab", {}).plan
    gpu_pools = [pool for pool in plan.pools if pool.accelerator is not None]
    assert len(gpu_pools) == 4
    assert all(pool.source.capacity.type == "spot" and pool.nodes.min == 0 for pool in gpu_pools)
    assert not plan.storage_tier("scratch-bucket").protected


def test_lab_time_slicing_on_the_mid_range_gpus_only() -> None:
    plan = load_template("ai-lab", TEMPLATES).render("lab", given(mid_time_slicing=8)).plan
    sharing = {pool.name: pool.time_slicing_replicas for pool in plan.pools}
    assert sharing == {"lab-a10g": 8, "lab-h100": None, "lab-l40s": 8, "serve-l4": None, "system": None}
    whole = load_template("ai-lab", TEMPLATES).render("lab", given(mid_time_slicing=1)).plan
    assert all(pool.time_slicing_replicas is None for pool in whole.pools)


def test_queue_namespaces_and_the_training_file_systems_claims() -> None:
    plan = (
        load_template("llm-training", TEMPLATES)
        .render("t", given(training_namespaces=["research"], lab_namespaces=["sandbox"], lab_nodes_max=2))
        .plan
    )
    assert plan.queues.training == ("research",) and plan.queues.lab == ("sandbox",) and plan.queues.inference == ()
    assert plan.storage_tier("scratch").namespaces == ("research",)


def test_a_queue_for_a_workload_the_stack_lacks_is_caught_before_writing(tmp_path: Path) -> None:
    with pytest.raises(StackInvalid) as caught:
        stamp(load_template("llm-training", TEMPLATES), "t", given(lab_namespaces=["sandbox"]), tmp_path, force=False)
    assert [f.field for f in caught.value.findings] == ["queues.lab"]
    assert "no lab pool" in caught.value.findings[0].message
    assert not (tmp_path / "stacks").exists() and not (tmp_path / "Pulumi.t.yaml").exists()
