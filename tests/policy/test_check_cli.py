"""``gpufleet check``: the example stacks pass, output formats, exit codes, SARIF validity."""

from __future__ import annotations

import json
import os

import jsonschema
import pytest
from typer.testing import CliRunner

from gpufleet.cli import app
from tests.policy.conftest import DEV, PROD, REPO, TIGHT, key_line

SARIF_SCHEMA = json.loads((REPO / "tests" / "data" / "sarif-schema-2.1.0.json").read_text(encoding="utf-8"))
runner = CliRunner()


@pytest.fixture(scope="module")
def tight(tmp_path_factory):
    path = tmp_path_factory.mktemp("tight") / "tight.yaml"
    path.write_text(TIGHT, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def sarif_run(tight):
    """A stack with mandatory violations beside a clean one, SARIF."""
    return runner.invoke(app, ["check", str(tight), str(DEV), "--format", "sarif"])


def test_example_stacks_pass_with_no_violation_and_their_feed_ratios():
    stacks = sorted((REPO / "stacks").glob("*.yaml"))
    result = runner.invoke(app, ["check", *map(str, stacks)])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    summaries = [line for line in lines if "of 33 policies" in line]
    assert len(summaries) == len(stacks) >= 4 and all(": 0 mandatory, 0 advisory violation(s)" in line for line in summaries)
    # prod's scratch tier is sized for its disks to feed 128 GPUs x 900 MB/s: 115.2 TiB x 1000 MB/s per TiB.
    assert (
        "  feed: pool train-h200 <- scratch: 115,200 MB/s from its disks for 115,200 MB/s (128 GPUs x 900 MB/s of this pool), "
        "ratio 1.00"
    ) in lines
    # validate's warnings are check's too: staging buys p5e on demand where the price table has no figure.
    assert any(line.startswith("  validate GF-COST-002: stacks/staging.yaml:") for line in lines)
    assert lines[-1] == f"0 mandatory violation(s) in {len(stacks)} stack(s)"


def test_violations_are_grouped_by_pool_and_resource(tight):
    result = runner.invoke(app, ["check", str(tight)])
    assert result.exit_code == 1, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == f"{tight}: 4 mandatory, 0 advisory violation(s) of 33 policies; 1 warning(s) from validate"
    at = lines.index(f"  pool train-h200 ({tight}:{key_line(tight, 'node_pools', 'train-h200')}:3)")
    assert lines[at + 1] == "    gpufleet:aws:NodePool train-h200"
    assert lines[at + 2].startswith(
        "      mandatory GF-PRC-008 hot-storage-feeds-training: pool train-h200: storage tier scratch's disks deliver 300 MB/s"
    )
    assert f"  pool serve-l4 ({tight}:{key_line(tight, 'node_pools', 'serve-l4')}:3)" in lines
    assert lines[-1] == "4 mandatory violation(s) in 1 stack(s)"


def test_sarif_validates_against_the_2_1_0_schema_and_points_at_stack_lines(sarif_run, tight):
    assert sarif_run.exit_code == 1, sarif_run.output
    document = json.loads(sarif_run.stdout)
    jsonschema.validate(document, SARIF_SCHEMA)
    (run,) = document["runs"]
    rules = [rule["id"] for rule in run["tool"]["driver"]["rules"]]
    assert rules == sorted(rules) and {"GF-PRC-008", "GF-PRC-009", "GF-PRC-010"} <= set(rules)
    fits = [r for r in run["results"] if r["ruleId"] == "GF-PRC-009"]
    assert {r["level"] for r in fits} == {"error"}
    where = {
        (
            r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"].rsplit("/", 1)[-1],
            r["locations"][0]["physicalLocation"]["region"]["startLine"],
        )
        for r in fits
    }
    # Each at the model it is about, not the pool's first line.
    models = [index for index, line in enumerate(tight.read_text(encoding="utf-8").splitlines(), 1) if "parameters_b" in line]
    assert where == {("tight.yaml", line) for line in models}
    assert {r["level"] for r in run["results"] if r["ruleId"] == "GF-PRC-010"} == {"error"}
    assert all(rules[r["ruleIndex"]] == r["ruleId"] for r in run["results"])
    assert fits[0]["locations"][0]["logicalLocations"][0]["kind"] == "resource"


def test_json_is_sorted_and_stable(tight, tmp_path):
    config = tmp_path / "policy-config.json"
    config.write_text(json.dumps({"all": "advisory"}), encoding="utf-8")
    first = runner.invoke(app, ["check", str(tight), "--format", "json", "--policy-config", str(config)])
    assert first.exit_code == 0, first.output
    document = json.loads(first.stdout)
    assert first.stdout == json.dumps(document, indent=2, sort_keys=True) + "\n"
    (stack,) = document["stacks"]
    assert (stack["stack"], stack["mandatory"], stack["advisory"], stack["policies"]) == ("tight", 0, 4, 33)
    feed = next(v for v in stack["violations"] if v["rule"] == "GF-PRC-008")
    assert (feed["field"], feed["line"], feed["enforcement"]) == (
        "storage.scratch.capacity_tib",
        next(i for i, line in enumerate(tight.read_text(encoding="utf-8").splitlines(), 1) if "scratch:" in line),
        "advisory",
    )
    assert [w["rule"] for w in stack["warnings"]] == ["GF-COST-002"]
    again = runner.invoke(app, ["check", str(tight), "--format", "json", "--policy-config", str(config)])
    assert again.stdout == first.stdout


def test_an_invalid_stack_fails_with_its_located_problems_and_no_policy_run(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        PROD.read_text(encoding="utf-8").replace("instance_type: p5e.48xlarge", "instance_type: p5e.48xl"), encoding="utf-8"
    )
    result = runner.invoke(app, ["check", str(bad), "--format", "json"])
    assert result.exit_code == 1
    (stack,) = json.loads(result.stdout)["stacks"]
    assert stack["policies"] == 0 and stack["violations"] == []
    (problem,) = stack["problems"]
    assert problem["field"] == "node_pools.train-h200.instance_type" and "did you mean 'p5e.48xlarge'" in problem["message"]


def test_usage_errors_exit_2(tmp_path):
    missing = runner.invoke(app, ["check", str(tmp_path / "nope.yaml")])
    assert missing.exit_code == 2 and "nope.yaml:1:1: cannot read stack file: No such file or directory" in missing.stdout
    config = tmp_path / "config.json"
    config.write_text("{not json", encoding="utf-8")
    bad_config = runner.invoke(app, ["check", str(DEV), "--policy-config", str(config)])
    assert bad_config.exit_code == 2 and "config.json:1:2: policy config is not valid JSON" in bad_config.output
    bad_format = runner.invoke(app, ["check", str(DEV), "--format", "xml"])
    assert bad_format.exit_code == 2


def test_stacks_that_do_not_load_are_sarif_results_and_the_others_are_still_checked(tight, tmp_path):
    """A code-scanning upload needs SARIF whatever failed: a stack with a YAML error and one
    that cannot be read at all are results at their own file, and the next stack is still
    checked by the pack; the exit says an input could not be read."""
    broken = tmp_path / "broken.yaml"
    broken.write_text("cluster:\n  name: [x\n", encoding="utf-8")
    fifo = tmp_path / "fifo.yaml"
    os.mkfifo(fifo)
    result = runner.invoke(app, ["check", str(broken), str(fifo), str(tight), "--format", "sarif"])
    assert result.exit_code == 2, result.output
    document = json.loads(result.stdout)
    jsonschema.validate(document, SARIF_SCHEMA)
    results = document["runs"][0]["results"]
    where = {(r["ruleId"], r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"].rsplit("/", 1)[-1]) for r in results}
    assert ("GF-YAML-001", "broken.yaml") in where
    assert ("GF-FILE-001", "fifo.yaml") in where
    assert ("GF-PRC-008", "tight.yaml") in where  # the pack ran on the stack after them
