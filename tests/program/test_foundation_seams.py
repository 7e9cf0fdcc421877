"""The seams the next capabilities build on: one resolution per preview, pool rows that state
what each pool's own component registered, the mock engine's warnings shown, backends chosen
by provider, the public ``Fleet`` component, and commands that do not import Pulumi."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pulumi
import pytest
from typer.testing import CliRunner

import gpufleet
from gpufleet.catalog import load_catalog
from gpufleet.cli import app
from gpufleet.model import resolve
from gpufleet.model import view as view_module
from gpufleet.preview import run_preview
from gpufleet.stack import load_stack

REPO = Path(__file__).resolve().parents[2]
PROD = REPO / "stacks" / "prod.yaml"


def test_preview_resolves_the_stack_exactly_once(tmp_path, monkeypatch):
    resolutions = []
    original = view_module.StackView.__init__

    def counting(self, loaded, catalog, *rest):
        resolutions.append(loaded.path)
        original(self, loaded, catalog, *rest)

    monkeypatch.setattr(view_module.StackView, "__init__", counting)
    result = CliRunner().invoke(app, ["preview", str(PROD), "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert resolutions == [PROD]


def test_preview_rows_state_what_each_pools_component_registered(tmp_path):
    """A pool's row is the pool's projection in the plan (``PoolFacts``); the renderer writes
    the plan verbatim, so the row says what the template its component registered carries."""
    result = CliRunner().invoke(app, ["preview", str(PROD), "--out", str(tmp_path), "--json"])
    report = json.loads(result.stdout)
    resources = json.loads((tmp_path / "resources.json").read_text())["resources"]
    component = next(r for r in resources if r["type"] == "gpufleet:aws:NodePool" and r["name"] == "train-h200")
    template = next(
        r for r in resources if r["parent"] == component["urn"] and r["type"] == "aws:ec2/launchTemplate:LaunchTemplate"
    )
    row = next(p for p in report["pools"] if p["pool"] == "train-h200")
    assert row["instance_type"] == template["inputs"]["instanceType"]
    assert row["efa_interfaces"] == sum(
        1 for nic in template["inputs"]["networkInterfaces"] if nic.get("interfaceType") in ("efa", "efa-only")
    )


def test_preview_prints_what_the_mock_engine_could_not_stand_in_for(tmp_path, monkeypatch):
    from gpufleet.preview import result as result_module

    original = result_module.PreviewResult.warnings
    monkeypatch.setattr(
        result_module.PreviewResult, "warnings", lambda self: [*original(self), "the mocks do not know the invoke x:y/z:w"]
    )
    result = CliRunner().invoke(app, ["preview", str(PROD), "--out", str(tmp_path)])
    assert result.exit_code == 0
    assert "gpufleet: warning: the mocks do not know the invoke x:y/z:w" in result.stderr


def test_unknown_invokes_become_warnings():
    from gpufleet.preview.result import PreviewResult

    result = PreviewResult(project="p", stack="s", resources=(), stack_outputs={}, unknown_invokes=("aws:foo/bar:Baz",))
    assert result.warnings() == ["the mocks do not know the invoke aws:foo/bar:Baz; it echoed its arguments"]


def test_fleet_is_one_public_component_with_typed_outputs():
    plan = resolve(load_stack(PROD), load_catalog())
    captured = {}

    def program():
        fleet = gpufleet.Fleet("mine", plan=plan)
        captured["fleet"] = fleet
        pulumi.export("groups", fleet.node_groups)
        pulumi.export("cluster", fleet.cluster_name)

    result = run_preview(program, project="gpufleet", stack="prod", config={"aws:region": "us-east-1"})
    fleet = result.named("gpufleet:index:Fleet", "mine")
    children = {r.type for r in result.resources if r.parent == fleet.urn}
    assert {"gpufleet:aws:Network", "gpufleet:aws:Cluster", "gpufleet:aws:NodePool", "gpufleet:aws:StorageTier"} <= children
    assert sorted(result.stack_outputs["groups"]) == [pool.name for pool in plan.pools]
    assert result.stack_outputs["cluster"] == "ai-prod"


def test_fleet_takes_a_plan_or_a_stack_file_not_both():
    with pytest.raises(ValueError, match="exactly one of plan or stack_file"):
        gpufleet.Fleet("x")


@pytest.mark.parametrize("args", [["validate", "stacks/prod.yaml"], ["mig", "profiles", "H100"], ["rules"]])
def test_light_commands_import_no_pulumi(args):
    completed = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "gpufleet.cli", *args], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    imported = [line.rsplit("|", 1)[-1].strip() for line in completed.stderr.splitlines() if line.startswith("import time:")]
    assert "gpufleet.commands.validate" in imported or args[0] != "validate"
    assert "gpufleet.policy.pack.definitions" in imported or args[0] != "rules", "rules lists the policy pack too"
    assert not [
        name for name in imported if name.split(".")[0] in ("pulumi", "pulumi_aws", "pulumi_kubernetes", "pulumi_policy", "grpc")
    ]


def test_mig_engine_holds_no_cli():
    engine = REPO / "infra" / "gpufleet" / "mig"
    sources = "\n".join(path.read_text() for path in engine.glob("*.py"))
    for forbidden in ("import typer", "from typer", "import rich", "from rich", "import pulumi"):
        assert forbidden not in sources
