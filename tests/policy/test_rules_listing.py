"""``gpufleet rules`` lists the pack's policies from the definitions the pack is built from."""

from __future__ import annotations

import json
from typing import Any

from typer.testing import CliRunner

from gpufleet.cli import app
from gpufleet.policy.analyzer import PolicyInfo, run_pack
from tests.policy.conftest import PACK, PROD, identity


def reported(policy: PolicyInfo) -> dict[str, Any]:
    """A policy as the engine learns it from GetAnalyzerInfo, in the listing's terms."""
    rule_id, category = policy.tags
    return {
        "id": rule_id,
        "name": policy.name,
        "kind": policy.kind,
        "category": category,
        "enforcement": policy.enforcement,
        "description": policy.description,
        "fix": policy.remediation,
        "config": dict(policy.config_schema),
    }


def test_rules_lists_every_policy_as_the_pack_reports_it_through_the_analyzer():
    result = CliRunner().invoke(app, ["rules", "--json"])
    assert result.exit_code == 0, result.output
    listed = json.loads(result.stdout)["policies"]
    run = run_pack(PACK, identity(PROD), [])
    assert listed == sorted((reported(policy) for policy in run.policies), key=lambda policy: policy["id"])
    assert len(listed) == 33 and {policy["category"] for policy in listed} == {"security", "practice", "cost", "impact"}
    feed = next(policy for policy in listed if policy["id"] == "GF-PRC-008")
    assert feed["name"] == "hot-storage-feeds-training" and feed["config"]["read_mbs_per_gpu"]["default"] == 180


def test_rules_lists_the_checks_own_rules_beside_validates():
    rules = {rule["id"]: rule for rule in json.loads(CliRunner().invoke(app, ["rules", "--json"]).stdout)["rules"]}
    assert rules["GF-POL-000"]["severity"] == "error" and "raised an error" in rules["GF-POL-000"]["description"]
    assert rules["GF-POL-001"]["severity"] == "warning"
    assert "GF-POOL-001" in rules and not any(rule_id.startswith(("GF-SEC-", "GF-PRC-")) for rule_id in rules)


def test_rules_prints_the_policies_with_their_default_level():
    result = CliRunner().invoke(app, ["rules"])
    assert result.exit_code == 0
    assert "33 policies (gpufleet check" in result.stdout
    row = next(line for line in result.stdout.splitlines() if "GF-SEC-001" in line)
    assert "imdsv2-required" in row and "mandatory" in row
