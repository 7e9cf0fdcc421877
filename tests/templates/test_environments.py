"""stacks/dev, staging and prod are stamped from the templates: re-rendering each from its own
header gives the very same bytes, for the stack and for its Pulumi config."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from gpufleet.catalog import load_catalog
from gpufleet.cli import app
from gpufleet.model import resolve
from gpufleet.model.diff import compare
from gpufleet.stack import load_stack
from gpufleet.templating import header_values, load_template
from tests.program.conftest import preview_file

REPO = Path(__file__).resolve().parents[2]
ENVIRONMENTS = {"dev": "ai-lab", "staging": "llm-training", "prod": "llm-training"}


@pytest.mark.parametrize("env", sorted(ENVIRONMENTS))
def test_environment_re_renders_byte_identical(env: str) -> None:
    stack_text = (REPO / "stacks" / f"{env}.yaml").read_text(encoding="utf-8")
    template_name, given = header_values(stack_text)
    assert template_name == ENVIRONMENTS[env]
    rendered = load_template(template_name, REPO / "infra" / "gpufleet" / "templates").render(env, given, root=REPO)
    assert rendered.stack_text == stack_text
    assert rendered.pulumi_text == (REPO / f"Pulumi.{env}.yaml").read_text(encoding="utf-8")


def test_every_environment_has_a_pulumi_config_with_its_region() -> None:
    for env in ENVIRONMENTS:
        config = yaml.safe_load((REPO / f"Pulumi.{env}.yaml").read_text(encoding="utf-8"))["config"]
        spec = yaml.safe_load((REPO / "stacks" / f"{env}.yaml").read_text(encoding="utf-8"))
        assert config == {"aws:region": spec["cluster"]["region"]}


def test_staging_is_prod_scaled_down() -> None:
    """The same template keeps them alike: staging differs from prod in sizes, names and how
    the training capacity is bought, never in which pools, fabrics and tiers exist."""
    template = load_template("llm-training", REPO / "infra" / "gpufleet" / "templates")
    plans = {}
    for env in ("staging", "prod"):
        _, given = header_values((REPO / "stacks" / f"{env}.yaml").read_text(encoding="utf-8"))
        plans[env] = template.render(env, given, root=REPO).plan
    differences = compare(plans["staging"], plans["prod"])
    assert not [d for d in differences if d.kind != "changed"]
    # Region-bound values: the autoscaler's Region and the EFA plugin's registry in it.
    regional = ("values.awsRegion", "values.image.repository")
    fields = {d.field.split(".")[0] for d in differences if d.field not in regional}
    assert fields <= {
        "name",
        "vpc_cidr",
        "accelerators_max",
        "nodes_max",
        "nodes",
        "instance_type",
        "placement",
        "capacity",
        "reservation",
        "update_strategy",
        "capacity_gib",
        "throughput_mbs",
        "disk_throughput_mbs",
        "read_mbs_per_gpu",
        # What a node can hold follows its instance type (kube-reserved by maxPods, EC2 memory).
        "pod_allocatable",
        # Staging buys p5e on demand, which us-east-1 does not offer (issue 8, GF-AWS-005).
        "region",
        "zones",
        "zone",
        "subnets",
        # The Kubernetes side follows: queue quotas and autoscaled group sizes scale, names change.
        "cohort",
        "quotas",
        "min_size",
        "max_size",
        "tags",
        # What the pools cost follows their sizes and how their capacity is bought.
        "usd_per_hour",
        "usd_per_30_days",
        "usd_per_node_hour",
        "unpriced",
    }


@pytest.mark.parametrize("env", sorted(ENVIRONMENTS))
def test_environment_previews_with_a_node_group_per_pool(env: str) -> None:
    path = REPO / "stacks" / f"{env}.yaml"
    plan = resolve(load_stack(path), load_catalog())
    result = preview_file(path, region=plan.cluster.region)
    names = sorted(r.name for r in result.of_type("aws:eks/nodeGroup:NodeGroup"))
    assert names == sorted(f"{pool.name}-nodes" for pool in plan.pools)


def test_readme_example_errors_point_where_the_stamped_prod_has_them(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The README shows two errors in prod.yaml; the header moves prod's lines, so its example
    positions must move with them. Reproduce both edits and compare with what validate says."""
    text = (REPO / "stacks" / "prod.yaml").read_text(encoding="utf-8")
    serve = text.index("  serve-h100:\n")
    broken = text[:serve].replace("instance_type: p5e.48xlarge", "instance_type: p5e.48xl") + (
        text[serve:]
        .replace("instance_type: p5.48xlarge", "instance_type: g6.xlarge", 1)
        .replace("    mig: serve-balanced\n", "", 1)
        .replace("fabric: frontend", "fabric: train-efa", 1)
    )
    monkeypatch.chdir(tmp_path)
    (tmp_path / "stacks").mkdir()
    (tmp_path / "stacks" / "prod.yaml").write_text(broken, encoding="utf-8")
    printed = CliRunner().invoke(app, ["validate", "stacks/prod.yaml"]).stderr.splitlines()
    readme = [
        line
        for line in (REPO / "README.md").read_text(encoding="utf-8").splitlines()
        if re.match(r"stacks/prod\.yaml:\d+:\d+: ", line)  # a located error, not a check summary
    ]
    assert len(readme) == 2
    assert readme[0] == printed[0]
    assert printed[1].startswith(readme[1].removesuffix("...)"))


# What each template's defaults are sized for: ai-lab's pools all fall to zero, the others keep
# nodes running, which GF-PRC-010 (mandatory) refuses outside production.
DEFAULTS_STACK = {"ai-lab": "lab", "llm-training": "prod", "realtime-inference": "prod"}


def test_environments_and_template_defaults_pass_gpufleet_check(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No mandatory policy violation in any stamped environment or a template's defaults, each
    stamped as the stack it is sized for; staging and the lab scale their GPU pools to zero."""
    stacks = [str(REPO / "stacks" / f"{env}.yaml") for env in sorted(ENVIRONMENTS)]
    for name, stack in sorted(DEFAULTS_STACK.items()):
        (tmp_path / name).mkdir()
        monkeypatch.chdir(tmp_path / name)
        stamped = CliRunner().invoke(
            app, ["new", name, "--stack", stack, "--templates", str(REPO / "infra" / "gpufleet" / "templates")]
        )
        assert stamped.exit_code == 0, stamped.output
        stacks.append(str(tmp_path / name / "stacks" / f"{stack}.yaml"))
    result = CliRunner().invoke(app, ["check", "--format", "json", *stacks])
    assert result.exit_code == 0, result.output
    assert "GF-PRC-010" not in json.dumps([s for s in json.loads(result.stdout)["stacks"] if s["stack"] in ("staging", "lab")])
