"""``gpufleet templates`` and ``gpufleet new``: listing, stamping, refusing, and writing nothing
when parameters or the rendered stack are wrong."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from gpufleet.cli import app
from gpufleet.findings import RULES

REPO = Path(__file__).resolve().parents[2]


def invoke(*args: str) -> Any:
    return CliRunner().invoke(app, list(args))


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty project folder as the working directory: templates come from the repo."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def files_in(folder: Path) -> list[str]:
    return sorted(str(path.relative_to(folder)) for path in folder.rglob("*") if path.is_file())


# -- templates ---------------------------------------------------------------------------------


def test_templates_json_lists_every_parameter_with_type_default_and_range(project: Path) -> None:
    result = invoke("templates", "--json")
    assert result.exit_code == 0, result.output
    templates = {t["template"]: t for t in json.loads(result.stdout)["templates"]}
    assert sorted(templates) == ["ai-lab", "llm-training", "realtime-inference"]
    nodes = next(p for p in templates["llm-training"]["parameters"] if p["name"] == "nodes")
    assert nodes == {
        "name": "nodes",
        "type": "integer",
        "default": 4,
        "minimum": 1,
        "maximum": 128,
        "description": "Training nodes, all running at once (one job on identical GPUs).",
    }
    gpu = next(p for p in templates["llm-training"]["parameters"] if p["name"] == "gpu")
    assert gpu["instances"] == {"H200-141GB": "p5e.48xlarge", "B200-180GB": "p6-b200.48xlarge", "B300-288GB": "p6-b300.48xlarge"}
    # Shared groups carry each template's own defaults.
    names = {t: next(p["default"] for p in templates[t]["parameters"] if p["name"] == "cluster_name") for t in templates}
    assert names == {"ai-lab": "ai-lab", "llm-training": "ai-train", "realtime-inference": "ai-serve"}


def test_templates_table_names_each_template_and_parameter(project: Path) -> None:
    result = invoke("templates")
    assert result.exit_code == 0
    for word in ("llm-training", "realtime-inference", "ai-lab", "read_mbs_per_gpu", "services", "mid_gpus"):
        assert word in result.stdout


# -- new ---------------------------------------------------------------------------------------


def test_new_writes_the_stack_and_its_pulumi_config(project: Path) -> None:
    result = invoke(
        "new", "llm-training", "--stack", "team", "--set", "nodes=8", "--set", "gpu=B200", "--set", "region=us-west-2"
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(
        "wrote stacks/team.yaml, Pulumi.team.yaml and stacks/team.subnets.lock: 2 pools, up to 64 accelerators"
    )
    # The stamped stack's subnet record, so that its first `pulumi up` finds it current.
    record = (project / "stacks" / "team.subnets.lock").read_text(encoding="utf-8")
    assert "control_plane_zones: [us-west-2a, us-west-2b]\npool_subnets:\n  train-b200: 10.40.128.0/21\n" in record
    text = (project / "stacks" / "team.yaml").read_text(encoding="utf-8")
    assert "# template: llm-training\n" in text
    # The alias B200 is recorded by its catalog name, numbers as numbers.
    assert "#   gpu: B200-180GB\n" in text and "#   nodes: 8\n" in text
    assert "instance_type: p6-b200.48xlarge" in text
    assert (project / "Pulumi.team.yaml").read_text(encoding="utf-8").endswith("config:\n  aws:region: us-west-2\n")
    validated = invoke("validate", "stacks/team.yaml")
    assert validated.exit_code == 0, validated.output


def test_new_refuses_to_overwrite_without_force(project: Path) -> None:
    assert invoke("new", "ai-lab", "--stack", "lab").exit_code == 0
    before = (project / "stacks" / "lab.yaml").read_text(encoding="utf-8")
    again = invoke("new", "ai-lab", "--stack", "lab", "--set", "mid_nodes_max=9")
    assert again.exit_code == 2
    assert (
        "stacks/lab.yaml, Pulumi.lab.yaml, stacks/lab.subnets.lock already exist(s); pass --force to overwrite (nothing written)"
        in again.stderr
    )
    assert (project / "stacks" / "lab.yaml").read_text(encoding="utf-8") == before
    forced = invoke("new", "ai-lab", "--stack", "lab", "--set", "mid_nodes_max=9", "--force")
    assert forced.exit_code == 0
    assert "nodes: {min: 0, max: 9}" in (project / "stacks" / "lab.yaml").read_text(encoding="utf-8")


def test_bad_value_names_parameter_origin_and_expectation_and_writes_nothing(project: Path) -> None:
    result = invoke("new", "llm-training", "--stack", "x", "--set", "nodes=abc", "--set", "gpu=A100", "--set", "zones=0")
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        "gpufleet: parameters for template llm-training do not fit (nothing written):",
        # EKS needs two zones (issue 8, GF-AWS-001): the parameter's minimum is 2.
        "  zones: expected a whole number from 2 to 6, got 0 (from --set zones=0)",
        "  gpu: expected a GPU of H200-141GB, B200-180GB, B300-288GB, got 'A100' (from --set gpu=A100)",
        "  nodes: expected a whole number from 1 to 128, got 'abc' (from --set nodes=abc)",
    ]  # in the template's parameter order
    assert files_in(project) == []


def test_unknown_parameter_suggests_the_close_one(project: Path) -> None:
    result = invoke("new", "realtime-inference", "--stack", "x", "--set", "mig_node_max=3")
    assert result.exit_code == 2
    assert (
        "mig_node_max: template realtime-inference has no parameter 'mig_node_max' (did you mean 'mig_nodes_max'?) (from --set mig_node_max=3)"
        in result.stderr
    )
    assert files_in(project) == []


def test_set_without_equals_is_a_usage_error(project: Path) -> None:
    result = invoke("new", "ai-lab", "--stack", "x", "--set", "nodes")
    assert result.exit_code == 2
    assert "--set 'nodes': expected KEY=VALUE, e.g. --set nodes=4" in result.stderr


def test_values_file_errors_point_at_line_and_column(project: Path) -> None:
    Path("values.yaml").write_text("nodes: 4\nmid_gpus: [L4, H100]\nmid_nodes_max: many\n", encoding="utf-8")
    result = invoke("new", "ai-lab", "--stack", "x", "--values", "values.yaml")
    assert result.exit_code == 2
    lines = result.stderr.splitlines()
    # An unknown key is the key's fault; a list is placed at its key, a scalar at its value.
    assert "  values.yaml:1:1: nodes: template ai-lab has no parameter 'nodes' (did you mean 'zones'?)" in lines
    assert any(
        line.startswith("  values.yaml:2:1: mid_gpus: expected a list of different GPUs of L4-24GB, L40S-48GB")
        and line.endswith('(\'H100\' is not one of them), got ["L4", "H100"]')
        for line in lines
    )
    assert "  values.yaml:3:16: mid_nodes_max: expected a whole number from 1 to 32, got 'many'" in lines
    assert files_in(project) == ["values.yaml"]


def test_a_minimum_above_its_maximum_is_the_parameters_fault(project: Path) -> None:
    result = invoke("new", "realtime-inference", "--stack", "x", "--set", "mig_nodes_min=5", "--set", "mig_nodes_max=3")
    assert result.exit_code == 2
    assert "  mig_nodes_min: 5 is above mig_nodes_max (3) (from --set mig_nodes_min=5)" in result.stderr.splitlines()


def test_reserved_capacity_needs_its_reservation_id(project: Path) -> None:
    result = invoke("new", "llm-training", "--stack", "x", "--set", "capacity=capacity-block")
    assert result.exit_code == 2
    assert "  reservation_id: needed when capacity is capacity-block: expected text like 'cr-0a1b2c3d4e5f60718'" in result.stderr
    assert files_in(project) == []


def test_a_stack_that_does_not_resolve_is_reported_and_not_written(project: Path) -> None:
    services = "[{name: huge, memory_gib: 70, replicas: 40}]"
    result = invoke("new", "realtime-inference", "--stack", "x", "--set", f"services={services}", "--set", "mig_nodes_max=2")
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    assert (
        lines[0]
        == "gpufleet: template realtime-inference renders a stack that does not resolve with these parameters; nothing written:"
    )
    assert lines[1].startswith("stacks/x.yaml:") and "node_pools.serve-h100.mig: MIG plan 'services' needs 5 nodes" in lines[1]
    assert files_in(project) == []


def test_stack_name_must_be_a_name(project: Path) -> None:
    result = invoke("new", "ai-lab", "--stack", "Prod_1")
    assert result.exit_code == 2
    assert "--stack 'Prod_1': use lowercase letters" in result.stderr


def test_unknown_template_suggests_one(project: Path) -> None:
    result = invoke("new", "llm-train", "--stack", "x")
    assert result.exit_code == 2
    assert "unknown template 'llm-train' (did you mean 'llm-training'?)" in result.stderr


def test_from_re_renders_a_stamped_stack_with_one_change(project: Path) -> None:
    assert invoke("new", "llm-training", "--stack", "a", "--set", "nodes=6", "--set", "lab_nodes_max=2").exit_code == 0
    result = invoke("new", "llm-training", "--stack", "a", "--from", "stacks/a.yaml", "--set", "nodes=7", "--force")
    assert result.exit_code == 0, result.output
    text = (project / "stacks" / "a.yaml").read_text(encoding="utf-8")
    assert "#   nodes: 7\n" in text and "#   lab_nodes_max: 2\n" in text
    wrong = invoke("new", "ai-lab", "--stack", "b", "--from", "stacks/a.yaml")
    assert wrong.exit_code == 2 and "was made from template llm-training, not ai-lab" in wrong.stderr


@pytest.mark.parametrize(
    ("failure", "exit_code", "message"),
    [
        (
            PermissionError(13, "Permission denied", "Pulumi.lab.yaml"),
            2,
            "Pulumi.lab.yaml: cannot write it: Permission denied; nothing was changed",
        ),
        (KeyboardInterrupt(), 130, "interrupted by SIGINT"),
    ],
)
def test_a_failed_second_write_restores_the_first_file(
    project: Path, monkeypatch: pytest.MonkeyPatch, failure: BaseException, exit_code: int, message: str
) -> None:
    assert invoke("new", "ai-lab", "--stack", "lab").exit_code == 0
    before = {name: (project / name).read_bytes() for name in ("stacks/lab.yaml", "Pulumi.lab.yaml", "stacks/lab.subnets.lock")}
    real_replace = os.replace

    def failing_replace(source: str, target: Any) -> None:
        if Path(target).name == "Pulumi.lab.yaml":
            raise failure
        real_replace(source, target)

    monkeypatch.setattr(os, "replace", failing_replace)
    result = invoke("new", "ai-lab", "--stack", "lab", "--set", "mid_nodes_max=7", "--force")
    assert result.exit_code == exit_code
    assert message in result.stderr
    assert {name: (project / name).read_bytes() for name in before} == before
    assert files_in(project) == ["Pulumi.lab.yaml", "stacks/lab.subnets.lock", "stacks/lab.yaml"]  # no staged leftovers


def test_template_rules_are_declared_with_ids() -> None:
    assert {"GF-TPL-001", "GF-TPL-002", "GF-TPL-003", "GF-TPL-004", "GF-TPL-005"} <= set(RULES)


def test_set_reads_each_value_as_its_parameter_type(project: Path) -> None:
    """Numbers and lists are read from the text; names stay text, so `zones=2` is a number
    and a cluster named `007x` is not mangled."""
    result = invoke(
        "new",
        "ai-lab",
        "--stack",
        "lab",
        "--set",
        "zones=3",
        "--set",
        "mid_gpus=L4,T4",
        "--set",
        "cluster_name=lab-007",
        "--set",
        "admins=[arn:aws:iam::123456789012:role/a, arn:aws:iam::123456789012:role/b]",
        "--set",
        "deployer=arn:aws:iam::123456789012:role/b",
    )
    assert result.exit_code == 0, result.output
    text = (project / "stacks" / "lab.yaml").read_text(encoding="utf-8")
    assert "availability_zones: [us-west-2a, us-west-2b, us-west-2c]" in text
    assert "  lab-l4:\n" in text and "  lab-t4:\n" in text and "name: lab-007" in text
    assert 'admins: ["arn:aws:iam::123456789012:role/a", "arn:aws:iam::123456789012:role/b"]' in text
