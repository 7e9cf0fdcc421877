"""`gpufleet preview`: the README's first command, end to end."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from gpufleet.cli import app

REPO = Path(__file__).resolve().parents[2]
GPUFLEET = Path(sys.executable).with_name("gpufleet")


def test_preview_json_reports_each_pool_as_rendered(tmp_path):
    result = CliRunner().invoke(app, ["preview", str(REPO / "stacks" / "prod.yaml"), "--out", str(tmp_path), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    pools = {pool["pool"]: pool for pool in report["pools"]}
    assert pools["train-h200"]["efa_interfaces"] == 32
    assert pools["train-h200"]["capacity"] == "CAPACITY_BLOCK"
    assert pools["train-h200"]["placement_group"] is None
    assert pools["train-h200"]["zones"] == ["us-east-1a"]
    assert pools["serve-h100"]["efa_interfaces"] == 0
    assert pools["serve-h100"]["mig_config"] == "serve-balanced"
    assert pools["serve-h100"]["zones"] == ["us-east-1a", "us-east-1b"]
    assert pools["lab-l4"]["capacity"] == "SPOT"
    written = json.loads((tmp_path / "resources.json").read_text())
    assert len(written["resources"]) == report["resource_count"]
    assert report["counts_by_type"]["aws:eks/nodeGroup:NodeGroup"] == 4
    # The cost block is validate's (tests/cli/test_cost_cli.py), under a key of its own.
    assert report["cost"]["totals"]["ceiling"]["usd_per_30_days"] == "822585.60"


def test_invalid_stack_exits_1_with_located_errors_and_writes_nothing(tmp_path):
    stack = tmp_path / "broken.yaml"
    stack.write_text((REPO / "stacks" / "prod.yaml").read_text().replace("p5e.48xlarge", "p5e.48xl"))
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["preview", str(stack), "--out", str(out)])
    assert result.exit_code == 1
    assert "node_pools.train-h200.instance_type: unknown instance type 'p5e.48xl' (did you mean 'p5e.48xlarge'?)" in result.stderr
    assert "Traceback" not in result.output
    assert not out.exists()


def test_missing_stack_file_is_a_usage_error(tmp_path):
    result = CliRunner().invoke(app, ["preview", str(tmp_path / "nope.yaml")])
    assert result.exit_code == 2
    assert "cannot read stack file" in result.stderr


def test_preview_from_two_processes_writes_identical_files(tmp_path):
    outputs = []
    for run in ("first", "second"):
        target = tmp_path / run
        completed = subprocess.run(
            [str(GPUFLEET), "preview", "stacks/dev.yaml", "--out", str(target)],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert completed.returncode == 0, completed.stderr
        assert "resources written to" in completed.stdout
        outputs.append({str(p.relative_to(target)): p.read_bytes() for p in sorted(target.rglob("*")) if p.is_file()})
    assert outputs[0] == outputs[1]
    assert {"resources.json", "k8s/ClusterQueue.lab.yaml", "helm/gpu-operator.yaml"} <= set(outputs[0])


def test_preview_writes_the_stacks_mig_parted_config_matching_the_pool_labels(tmp_path):
    from gpufleet.catalog import load_catalog
    from gpufleet.mig import judge_mig_parted_config
    from tests.kubernetes.invariants import kubelet_node_labels

    result = CliRunner().invoke(app, ["preview", str(REPO / "stacks" / "prod.yaml"), "--out", str(tmp_path), "--json"])
    assert result.exit_code == 0, result.output
    config = tmp_path / "mig-parted-config.yaml"
    assert json.loads(result.stdout)["mig_parted_config_file"] == str(config)
    verdicts = judge_mig_parted_config(load_catalog(), config)
    judged = {(v.config, v.gpu): v.status for v in verdicts if v.status != "not-judged"}
    assert judged[("serve-balanced", "H100-80GB")] == "ok"
    assert all(status == "ok" for status in judged.values())
    resources = json.loads((tmp_path / "resources.json").read_text())["resources"]
    # The label reaches nodes through the launch template's kubelet flags only (not the node group's labels).
    assert not any(
        "nvidia.com/mig.config" in r["inputs"]["labels"] for r in resources if r["type"] == "aws:eks/nodeGroup:NodeGroup"
    )
    labels = {
        r["name"]: kubelet_node_labels(r["inputs"]).get("nvidia.com/mig.config")
        for r in resources
        if r["type"] == "aws:ec2/launchTemplate:LaunchTemplate"
    }
    assert labels["serve-h100-template"] == "serve-balanced"
    assert labels["train-h200-template"] == "all-disabled"
    configs = {v.config for v in verdicts}
    assert {label for label in labels.values() if label} <= configs
