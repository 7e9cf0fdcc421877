"""`gpufleet mig ...` end to end through the Typer app, exit codes included."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from gpufleet.commands.mig import mig_app
from tests.reference import reference_path

runner = CliRunner()


def run(*args: str):
    return runner.invoke(mig_app, list(args))


def test_profiles_prints_the_placement_table():
    result = run("profiles", "RTX-PRO-6000-96GB")
    assert result.exit_code == 0
    assert "placement units 0-11" in result.stdout
    assert "{0,3,6,9}:3" in result.stdout and "1g.24gb+me.all" in result.stdout


def test_profiles_json_is_stable_and_complete():
    first = run("profiles", "0x233010DE", "--json")
    assert first.exit_code == 0 and first.stdout == run("profiles", "H100-80GB", "--json").stdout
    data = json.loads(first.stdout)
    assert data["gpu"] == "H100-80GB"
    assert [p["profile"] for p in data["profiles"]] == [
        "1g.10gb",
        "1g.10gb+me",
        "1g.20gb",
        "2g.20gb",
        "3g.40gb",
        "4g.40gb",
        "7g.80gb",
    ]
    assert data["profiles"][4]["placements"] == {"starts": [0, 4], "size": 4}


def test_check_feasible_prints_placement_and_creation_order():
    result = run("check", "H100-80GB", "3g.40gb=1", "1g.10gb=4")
    assert result.exit_code == 0
    assert "FEASIBLE on H100-80GB" in result.stdout
    assert "nvidia-smi mig -cgi 9,19,19,19,19 -C" in result.stdout


def test_check_infeasible_says_why_and_exits_1():
    result = run("check", "H100-80GB", "3g.40gb@0", "1g.10gb=4")
    assert result.exit_code == 1
    assert "INFEASIBLE" in result.stdout and "blocked by 3g.40gb@0" in result.stdout


def test_check_json_with_existing_instances():
    result = run("check", "H100-80GB", "2g.20gb=1", "--existing", "1g.10gb@0", "--existing", "1g.10gb@1", "--json")
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert data["feasible"] is True
    assert [(p["profile"], p["start"], p["existing"]) for p in data["placement"]] == [
        ("1g.10gb", 0, True),
        ("1g.10gb", 1, True),
        ("2g.20gb", 2, False),
    ]


def test_check_usage_errors_and_unknown_gpus_exit_2():
    assert run("check", "H100-80GB", "3g.40gb:2").exit_code == 2
    assert run("check", "H100-80GB", "2g.20gb=1", "--existing", "1g.10gb").exit_code == 2
    unknown = run("check", "V100", "1g.5gb=1")
    assert unknown.exit_code == 2
    assert "Unknown GPU 'V100'" in unknown.stderr
    assert "does not support MIG" in run("check", "L4", "1g.5gb=1").stderr
    assert run("check", "H100-80GB").exit_code == 2


def test_check_unknown_profile_is_infeasible_not_a_crash():
    result = run("check", "A30", "1g.10gb=1")
    assert result.exit_code == 1
    assert "1g.10gb does not exist on A30-24GB" in result.stdout


def test_check_config_on_nvidia_files():
    current = run(
        "check-config", str(reference_path("nvidia-mig-configs/mig-parted__deployments__systemd__config-default.yaml")), "--json"
    )
    assert current.exit_code == 0
    assert json.loads(current.stdout)["summary"] == {"not-judged": 5, "ok": 132}
    first = run(
        "check-config",
        str(reference_path("nvidia-mig-configs/gpu-operator__assets__state-mig-manager__0400_configmap@2e41c6e2d.yaml")),
    )
    assert first.exit_code == 1
    assert "Profile limit: 7 x 1g.10gb but A100-40GB allows at most 4." in first.stdout


def test_check_config_rejects_missing_or_foreign_files(tmp_path: Path):
    assert run("check-config", str(tmp_path / "missing.yaml")).exit_code == 2
    other = tmp_path / "other.yaml"
    other.write_text("apiVersion: v1\nkind: Pod\n", encoding="utf-8")
    result = run("check-config", str(other))
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr.splitlines() == [
        f"{other}:1:1: version: required field is missing",
        f"{other}:1:1: mig-configs: required field is missing",
        f"{other}:1:1: apiVersion: unknown field 'apiVersion' (did you mean 'version'?)",
        f"{other}:2:1: kind: unknown field 'kind'",
    ]


def test_plan_packs_demand_and_reports_the_bound(tmp_path: Path):
    demand = tmp_path / "demand.yaml"
    demand.write_text(
        "services:\n"
        "  - {name: chat-small, memory_gib: 8, replicas: 6}\n"
        "  - {name: embed, memory_gib: 4, compute_share: 0.1, replicas: 3}\n"
        "  - {name: chat-large, memory_gib: 35, replicas: 2}\n",
        encoding="utf-8",
    )
    human = run("plan", "--gpu", "H100-80GB", "--demand", str(demand), "--gpus-per-node", "8")
    assert human.exit_code == 0
    assert "GPUs used: 3 H100-80GB; lower bound: 3" in human.stdout
    assert "1 x 3g.40gb + 4 x 1g.10gb" in human.stdout
    machine = run("plan", "--gpu", "H100-80GB", "--demand", str(demand), "--json")
    data = json.loads(machine.stdout)
    assert (data["gpus_used"], data["lower_bound"]) == (3, 3)
    assert sum(len(gpu["instances"]) for gpu in data["gpus"]) == 11
    assert machine.stdout == run("plan", "--gpu", "H100-80GB", "--demand", str(demand), "--json").stdout


def test_plan_errors(tmp_path: Path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("- {name: x, memory_gib: -1}\n", encoding="utf-8")
    result = run("plan", "--gpu", "H100-80GB", "--demand", str(bad))
    # A demand file's problems are located like a stack's: file:line:column: field: message.
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [f"{bad}:1:25: 0.memory_gib: must be greater than 0"]
    huge = tmp_path / "huge.yaml"
    huge.write_text("- {name: x, memory_gib: 500}\n", encoding="utf-8")
    assert run("plan", "--gpu", "H100-80GB", "--demand", str(huge)).exit_code == 1
    assert run("plan", "--gpu", "T4", "--demand", str(huge)).exit_code == 2
