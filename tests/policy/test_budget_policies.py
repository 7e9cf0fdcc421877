"""The budget gate: monthly-budget fails `check` when a stack's 30-day floor or ceiling is over
its budget, monthly-budget-headroom warns from 80% of it; both point at the costliest pool.

prod's figures (tests/model/test_cost.py works each out): floor $578,193.41 and ceiling
$822,585.60 per 30 days; at the ceiling train-h200 costs most ($498,355.20, its capacity block),
as it does at the floor.
"""

from __future__ import annotations

import json
import shutil

import pytest
from typer.testing import CliRunner

from gpufleet.cli import app
from tests.policy.conftest import PROD, key_line

BUDGET = ("monthly-budget", "monthly-budget-headroom")


def budget_config(value, **extra) -> dict:
    return {name: {"monthly_budget_usd": value, **(extra if name == "monthly-budget-headroom" else {})} for name in BUDGET}


def budget_findings(findings) -> list[tuple[str, str, str]]:
    return sorted((f.finding.rule_id, f.finding.severity, f.owner) for f in findings if f.finding.rule_id.startswith("GF-CST"))


def test_no_budget_no_finding(prod_baseline) -> None:
    assert budget_findings(prod_baseline) == []


def test_over_budget_fails_at_the_costliest_pool_and_the_band_warns(analyze_prod, prod_resources) -> None:
    findings = analyze_prod(prod_resources, budget_config(700_000))
    assert budget_findings(findings) == [
        ("GF-CST-001", "error", "pool train-h200"),
        ("GF-CST-002", "warning", "pool train-h200"),
    ]
    over = next(f for f in findings if f.finding.rule_id == "GF-CST-001")
    assert over.finding.line == key_line(PROD, "node_pools", "train-h200")
    assert over.finding.message.startswith(
        "the 30-day ceiling $822,585.60 is over the budget $700,000.00 (policy config monthly_budget_usd) "
        "(pool train-h200 costs most: $498,355.20)"
    )
    assert "spot at the 2026-12-05 snapshot" in over.finding.message
    assert "without storage tier datasets, storage tier scratch, which have no price" in over.finding.message
    near = next(f for f in findings if f.finding.rule_id == "GF-CST-002")
    assert "the 30-day floor $578,193.41 is 83% of the budget $700,000.00" in near.finding.message


def test_per_environment_budget_applies_to_its_stack_only(analyze_prod, prod_resources) -> None:
    assert budget_findings(analyze_prod(prod_resources, budget_config({"dev": 1}))) == []
    findings = analyze_prod(prod_resources, budget_config({"prod": 900_000, "dev": 1}))
    assert budget_findings(findings) == [("GF-CST-002", "warning", "pool train-h200")]
    (near,) = [f for f in findings if f.finding.rule_id == "GF-CST-002"]
    assert "the 30-day ceiling $822,585.60 is 91% of the budget $900,000.00 (policy config monthly_budget_usd.prod)" in (
        near.finding.message
    )


def test_the_warning_band_is_configurable(analyze_prod, prod_resources) -> None:
    findings = analyze_prod(prod_resources, budget_config(900_000, warn_fraction=0.95))
    assert budget_findings(findings) == []


@pytest.fixture
def prod_with_budget(tmp_path):
    """prod.yaml with `monthly_budget_usd: 500000` under cluster:, its subnet record beside it."""
    text = PROD.read_text(encoding="utf-8").replace(
        "\n  ami_release: v20250620\n", "\n  ami_release: v20250620\n  monthly_budget_usd: 500000\n", 1
    )
    path = tmp_path / "prod.yaml"
    path.write_text(text, encoding="utf-8")
    shutil.copy(PROD.with_name("prod.subnets.lock"), tmp_path / "prod.subnets.lock")
    return path


def test_a_budget_in_the_stack_fails_check_with_sarif_at_the_costliest_pool(prod_with_budget) -> None:
    """SARIF results carry a physicalLocation; GitHub code scanning shows each at that line."""
    result = CliRunner().invoke(app, ["check", str(prod_with_budget), "--format", "sarif"])
    assert result.exit_code == 1, result.output
    (run,) = json.loads(result.stdout)["runs"]
    budget = [r for r in run["results"] if r["ruleId"] == "GF-CST-001"]
    assert sorted(r["message"]["text"].split(" (pool")[0] for r in budget) == [
        "node_pools.train-h200: the 30-day ceiling $822,585.60 is over the budget $500,000.00 (cluster.monthly_budget_usd)",
        "node_pools.train-h200: the 30-day floor $578,193.41 is over the budget $500,000.00 (cluster.monthly_budget_usd)",
    ]
    line = key_line(prod_with_budget, "node_pools", "train-h200")
    assert {r["locations"][0]["physicalLocation"]["region"]["startLine"] for r in budget} == {line}
    assert {r["level"] for r in budget} == {"error"}
    # The smallest budget holds: a larger one in the policy config does not lift the stack's.
    config = prod_with_budget.with_name("budget.json")
    config.write_text(json.dumps(budget_config(2_000_000)), encoding="utf-8")
    again = CliRunner().invoke(app, ["check", str(prod_with_budget), "--policy-config", str(config), "--format", "json"])
    (stack,) = json.loads(again.stdout)["stacks"]
    assert [v["rule"] for v in stack["violations"] if v["rule"].startswith("GF-CST")] == ["GF-CST-001", "GF-CST-001"]
