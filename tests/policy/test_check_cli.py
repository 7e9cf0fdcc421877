"""``gpufleet check``: the example stacks pass, output formats, exit codes, SARIF validity."""

from __future__ import annotations

import json

import jsonschema
import pytest
from typer.testing import CliRunner

from gpufleet.cli import app
from tests.policy.conftest import DEV, PROD, REPO, key_line

SARIF_SCHEMA = json.loads((REPO / "tests" / "data" / "sarif-schema-2.1.0.json").read_text(encoding="utf-8"))
runner = CliRunner()


@pytest.fixture(scope="module")
def sarif_run(tmp_path_factory):
    """Both example stacks, SARIF, with s3-tls-only made mandatory so the gate closes."""
    config = tmp_path_factory.mktemp("config") / "policy-config.json"
    config.write_text(json.dumps({"s3-tls-only": "mandatory"}), encoding="utf-8")
    return runner.invoke(app, ["check", str(PROD), str(DEV), "--format", "sarif", "--policy-config", str(config)])


def test_example_stacks_pass_with_advisories_grouped_by_pool_and_tier():
    stacks = sorted((REPO / "stacks").glob("*.yaml"))
    result = runner.invoke(app, ["check", *map(str, stacks)])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    summaries = [line for line in lines if line.startswith(tuple(str(stack) for stack in stacks)) or line.endswith("of 24 policies")]
    assert len(summaries) == len(stacks) >= 4 and all(" 0 mandatory, " in line for line in summaries)
    assert any(line.endswith("prod.yaml: 0 mandatory, 2 advisory violation(s) of 24 policies") for line in summaries)
    assert "  storage tier datasets (" in result.stdout and f"prod.yaml:{key_line(PROD, 'storage', 'datasets')}:3)" in result.stdout
    at = lines.index("    aws:s3/bucket:Bucket datasets-bucket")
    assert lines[at + 1].startswith("      advisory GF-SEC-004 s3-tls-only: storage tier datasets: bucket datasets-bucket accepts plain HTTP")
    assert "  feed: pool train-h200 <- scratch: 124,800 MB/s for 23,040 MB/s (128 GPUs of this pool), ratio 5.42" in lines
    assert lines[-1] == f"0 mandatory violation(s) in {len(stacks)} stack(s)"


def test_sarif_validates_against_the_2_1_0_schema_and_points_at_stack_lines(sarif_run):
    assert sarif_run.exit_code == 1, sarif_run.output
    document = json.loads(sarif_run.stdout)
    jsonschema.validate(document, SARIF_SCHEMA)
    (run,) = document["runs"]
    rules = [rule["id"] for rule in run["tool"]["driver"]["rules"]]
    assert rules == sorted(rules) and {"GF-SEC-004", "GF-SEC-009"} <= set(rules)
    tls = [r for r in run["results"] if r["ruleId"] == "GF-SEC-004"]
    assert {r["level"] for r in tls} == {"error"}
    where = {(r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"].rsplit("/", 1)[-1], r["locations"][0]["physicalLocation"]["region"]["startLine"]) for r in tls}
    assert where == {("prod.yaml", key_line(PROD, "storage", "datasets")), ("dev.yaml", key_line(DEV, "storage", "scratch-bucket"))}
    assert all(rules[r["ruleIndex"]] == r["ruleId"] for r in run["results"])
    assert tls[0]["locations"][0]["logicalLocations"][0]["kind"] == "resource"


def test_json_is_sorted_and_stable():
    first = runner.invoke(app, ["check", str(DEV), "--format", "json"])
    assert first.exit_code == 0, first.output
    document = json.loads(first.stdout)
    assert first.stdout == json.dumps(document, indent=2, sort_keys=True) + "\n"
    (stack,) = document["stacks"]
    assert (stack["stack"], stack["mandatory"], stack["advisory"], stack["policies"]) == ("dev", 0, 1, 24)
    (violation,) = stack["violations"]
    assert (violation["rule"], violation["field"], violation["line"], violation["enforcement"]) == ("GF-SEC-004", "storage.scratch-bucket", key_line(DEV, "storage", "scratch-bucket"), "advisory")


def test_an_invalid_stack_fails_with_its_located_problems_and_no_policy_run(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(PROD.read_text(encoding="utf-8").replace("instance_type: p5e.48xlarge", "instance_type: p5e.48xl"), encoding="utf-8")
    result = runner.invoke(app, ["check", str(bad), "--format", "json"])
    assert result.exit_code == 1
    (stack,) = json.loads(result.stdout)["stacks"]
    assert stack["policies"] == 0 and stack["violations"] == []
    (problem,) = stack["problems"]
    assert problem["field"] == "node_pools.train-h200.instance_type" and "did you mean 'p5e.48xlarge'" in problem["message"]


def test_usage_errors_exit_2(tmp_path):
    missing = runner.invoke(app, ["check", str(tmp_path / "nope.yaml")])
    assert missing.exit_code == 2 and "nope.yaml" in missing.stderr
    config = tmp_path / "config.json"
    config.write_text("{not json", encoding="utf-8")
    bad_config = runner.invoke(app, ["check", str(DEV), "--policy-config", str(config)])
    assert bad_config.exit_code == 2 and "policy config is not valid JSON" in bad_config.stderr
    bad_format = runner.invoke(app, ["check", str(DEV), "--format", "xml"])
    assert bad_format.exit_code == 2
