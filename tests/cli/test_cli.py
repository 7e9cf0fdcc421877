"""The ``gpufleet`` command: validate / catalog / schema, exit codes, stderr, JSON output.

Most tests drive ``gpufleet.cli.app`` through typer's CliRunner; a few run the installed
console script in a subprocess, as a user would.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML
from typer.testing import CliRunner

from gpufleet.catalog import load_catalog
from gpufleet.cli import app

REPO = Path(__file__).resolve().parents[2]
DEV = REPO / "stacks" / "dev.yaml"
PROD = REPO / "stacks" / "prod.yaml"
SCRIPT = Path(sys.executable).with_name("gpufleet")

INVALID = """\
cluster:
  name: demo
  provider: aws
  region: us-east-1
  kubernetes_version: "1.33"
  endpoint: {deploy_from: in-vpc}
network:
  vpc_cidr: 10.0.0.0/16
  availability_zones: [us-east-1a, us-east-1b]
fabrics:
  ib: {kind: infiniband}
node_pools:
  train-h200:
    workload: training
    instance_type: p5e.48xl
    nodes: {min: 2, max: 2}
"""
# Expected problems of INVALID, sorted by line: the fabric (line 11, 'infiniband' at column
# 14) and the instance type (line 15, value at column 20).
INVALID_LINES = [
    "bad.yaml:11:14: fabrics.ib.kind: AWS offers no InfiniBand; its RDMA fabric is EFA (kind: efa)",
    "bad.yaml:15:20: node_pools.train-h200.instance_type: unknown instance type 'p5e.48xl' (did you mean 'p5e.48xlarge'?)",
]


def invoke(*args: str) -> Any:
    return CliRunner().invoke(app, list(args))


@pytest.fixture
def bad_stack(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "bad.yaml"
    path.write_text(INVALID, encoding="utf-8")
    return path


# -- validate ---------------------------------------------------------------------------------


def test_validate_example_stacks_exit_zero() -> None:
    result = invoke("validate", str(DEV), str(PROD))
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""
    # The summary table names every pool of both stacks.
    for pool in ("system", "serve-l4", "lab-l40s", "train-h200", "serve-h100", "lab-l4"):
        assert pool in result.stdout
    assert "p5e.48xlarge" in result.stdout and "capacity-block" in result.stdout


def test_validate_invalid_stack_exit_one_with_located_messages(bad_stack: Path) -> None:
    result = invoke("validate", "bad.yaml")
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    assert lines == [*INVALID_LINES, "2 problem(s) found"]
    assert "Traceback" not in result.stderr + result.stdout
    assert result.stdout == ""


def test_validate_issue_example_on_the_prod_stack(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The issue's example: prod.yaml with a truncated instance type."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "stacks").mkdir()
    text = PROD.read_text(encoding="utf-8").replace("instance_type: p5e.48xlarge", "instance_type: p5e.48xl")
    Path("stacks/prod.yaml").write_text(text, encoding="utf-8")
    lines = text.splitlines()
    line = next(i for i, row in enumerate(lines, 1) if row.strip() == "instance_type: p5e.48xl")
    column = lines[line - 1].index("p5e.48xl") + 1
    result = invoke("validate", "stacks/prod.yaml")
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        f"stacks/prod.yaml:{line}:{column}: node_pools.train-h200.instance_type: unknown instance type 'p5e.48xl' (did you mean 'p5e.48xlarge'?)",
        "1 problem(s) found",
    ]


def test_validate_reports_every_file(bad_stack: Path) -> None:
    result = invoke("validate", str(DEV), "bad.yaml")
    assert result.exit_code == 1
    assert "serve-l4" in result.stdout  # the valid file's table still prints
    assert result.stderr.splitlines()[:2] == INVALID_LINES


def test_validate_yaml_syntax_error_exit_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    Path("broken.yaml").write_text("cluster:\n  name: demo: x\n", encoding="utf-8")
    result = invoke("validate", "broken.yaml")
    assert result.exit_code == 1
    assert result.stderr.startswith("broken.yaml:2:13: YAML syntax error: ")
    assert "Traceback" not in result.stderr


def test_validate_duplicate_key_exit_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    text = INVALID.replace("fabrics:\n  ib: {kind: infiniband}\n", "") + "  train-h200:\n    workload: system\n"
    Path("dup.yaml").write_text(text, encoding="utf-8")
    result = invoke("validate", "dup.yaml")
    assert result.exit_code == 1
    # Lines 11-14 are the first train-h200, line 15 the second.
    assert result.stderr.splitlines()[0] == (
        "dup.yaml:15:3: duplicate key 'train-h200': a key may appear only once in a mapping (names must be unique)"
    )


def test_validate_missing_file_exit_two(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    result = invoke("validate", str(missing))
    assert result.exit_code == 2
    assert "nope.yaml: cannot read stack file" in result.stderr
    assert "Traceback" not in result.stderr


def test_validate_missing_file_wins_over_invalid(bad_stack: Path) -> None:
    result = invoke("validate", "bad.yaml", "nope.yaml")
    assert result.exit_code == 2


@pytest.mark.parametrize(
    "args",
    [("validate",), ("bogus",), ("validate", "--bogus", "x.yaml"), ("catalog", "extra"), ("schema", "--json")],
)
def test_bad_usage_exit_two(args: tuple[str, ...]) -> None:
    result = invoke(*args)
    assert result.exit_code == 2
    assert "Usage:" in result.stderr
    assert "Traceback" not in result.stderr


def test_no_arguments_prints_help() -> None:
    result = invoke()
    assert "validate" in result.stdout + result.stderr
    assert result.exit_code in (0, 2)


# -- validate --json -----------------------------------------------------------------------------


def test_validate_json_is_stable_and_machine_readable() -> None:
    first = invoke("validate", "--json", str(DEV), str(PROD))
    second = invoke("validate", "--json", str(DEV), str(PROD))
    assert first.exit_code == 0
    assert first.stdout == second.stdout  # byte-identical
    document = json.loads(first.stdout)
    assert [s["stack"] for s in document["stacks"]] == ["dev", "prod"]
    prod = document["stacks"][1]
    assert prod["valid"] is True and prod["problems"] == []
    train = next(p for p in prod["pools"] if p["pool"] == "train-h200")
    assert train["instance_type"] == "p5e.48xlarge"
    assert train["accelerator"] == "H200-141GB"
    assert train["accelerators_per_node"] == 8 and train["accelerators_max"] == 128
    # Issue 8: a capacity-block group is created at 0 before the block starts, EKS's own advice.
    assert train["nodes"] == {"min": 0, "desired": 0, "max": 16}
    assert train["update_strategy"] == "MINIMAL"
    assert train["efa_interfaces"] == 32
    assert train["placement"] == "none" and train["capacity"] == "capacity-block"
    assert train["zones"] == ["us-east-1a"]
    # Keys are sorted so the output diffs cleanly.
    assert first.stdout == json.dumps(document, indent=2, sort_keys=True) + "\n"


def test_validate_json_for_an_invalid_stack(bad_stack: Path) -> None:
    result = invoke("validate", "--json", "bad.yaml")
    assert result.exit_code == 1
    document = json.loads(result.stdout)
    [entry] = document["stacks"]
    assert entry["valid"] is False
    located = [{key: problem[key] for key in ("file", "line", "column", "field", "message")} for problem in entry["problems"]]
    assert all(problem["rule"].startswith("GF-") and problem["severity"] == "error" for problem in entry["problems"])
    assert located == [
        {
            "file": "bad.yaml",
            "line": 11,
            "column": 14,
            "field": "fabrics.ib.kind",
            "message": "AWS offers no InfiniBand; its RDMA fabric is EFA (kind: efa)",
        },
        {
            "file": "bad.yaml",
            "line": 15,
            "column": 20,
            "field": "node_pools.train-h200.instance_type",
            "message": "unknown instance type 'p5e.48xl' (did you mean 'p5e.48xlarge'?)",
        },
    ]


def test_validate_json_names_files_the_same_way_valid_or_not(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Both kinds of entry say which file they are about, in the same form."""
    monkeypatch.chdir(tmp_path)
    Path("bad.yaml").write_text(INVALID, encoding="utf-8")
    Path("good.yaml").write_text(DEV.read_text(encoding="utf-8"), encoding="utf-8")
    result = invoke("validate", "--json", str(tmp_path / "good.yaml"), str(tmp_path / "bad.yaml"))
    good, bad = json.loads(result.stdout)["stacks"]
    assert good["file"] == "good.yaml"
    assert bad["file"] == "bad.yaml"
    assert bad["problems"][0]["file"] == "bad.yaml"


# -- catalog --------------------------------------------------------------------------------------


def test_catalog_json_lists_every_type() -> None:
    result = invoke("catalog", "--json")
    assert result.exit_code == 0
    rows = json.loads(result.stdout)["instance_types"]
    catalog = load_catalog()
    assert [row["instance_type"] for row in rows] == sorted(catalog.instance_types)
    by_name = {row["instance_type"]: row for row in rows}
    p5 = by_name["p5.48xlarge"]
    assert (p5["accelerator"], p5["accelerator_count"], p5["accelerator_memory_mib"]) == ("H100-80GB", 8, 81920)
    assert (p5["network_cards"], p5["max_efa_interfaces"], p5["local_nvme_gb"]) == (32, 32, 8 * 3800)
    assert p5["capacity_block"] is True and p5["mig"] is True
    assert by_name["g6.xlarge"]["mig"] is False
    assert by_name["g5g.xlarge"]["architecture"] == "arm64"
    assert by_name["m7i.xlarge"]["accelerator"] is None
    assert all(row["sources"] for row in rows)
    assert invoke("catalog", "--json").stdout == result.stdout


def test_catalog_table() -> None:
    result = invoke("catalog")
    assert result.exit_code == 0
    for name in load_catalog().instance_types:
        assert name in result.stdout


# -- schema ---------------------------------------------------------------------------------------


def test_schema_structure() -> None:
    result = invoke("schema")
    assert result.exit_code == 0
    schema = json.loads(result.stdout)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["title"] == "gpufleet stack"
    assert set(schema["properties"]) == {
        "cluster",
        "network",
        "fabrics",
        "storage",
        "mig_plans",
        "node_pools",
        "queues",
        "may_replace",
        "validation",
        "monitoring",
    }
    assert set(schema["required"]) == {"cluster", "node_pools"}
    for model in (
        "NodePoolSpec",
        "NodeCount",
        "ClusterSpec",
        "NetworkSpec",
        "Capacity",
        "S3TierSpec",
        "FsxLustreTierSpec",
        "LocalNvmeTierSpec",
        "MigPlanSpec",
        "QueuesSpec",
        "SharingSpec",
        "TimeSlicingSpec",
    ):
        assert model in schema["$defs"]
        assert schema["$defs"][model]["additionalProperties"] is False
    assert invoke("schema").stdout == result.stdout


@pytest.mark.parametrize("stack", [DEV, PROD])
def test_schema_accepts_the_example_stacks(stack: Path) -> None:
    schema = json.loads(invoke("schema").stdout)
    data = YAML(typ="safe").load(stack.read_text(encoding="utf-8"))
    assert validate_against(schema, data) == []


@pytest.mark.parametrize(
    ("change", "where"),
    [
        (lambda d: d["node_pools"]["system"].update(workload="batch"), "/node_pools/system/workload"),
        (lambda d: d["node_pools"]["system"]["nodes"].update(min=-1), "/node_pools/system/nodes/min"),
        (lambda d: d["node_pools"]["system"]["nodes"].update(max=True), "/node_pools/system/nodes/max"),
        (lambda d: d["node_pools"]["system"].update(instance_typ="m7i.xlarge"), "/node_pools/system"),
        (lambda d: d["cluster"].update(kubernetes_version=1.33), "/cluster/kubernetes_version"),
        (lambda d: d["storage"].update(cache={"kind": "ebs"}), "/storage/cache"),
        (lambda d: d.update(node_pools={"Bad_Name": d["node_pools"]["system"]}), "/node_pools"),
    ],
)
def test_schema_rejects_what_the_loader_rejects(change, where: str) -> None:
    schema = json.loads(invoke("schema").stdout)
    data = YAML(typ="safe").load(DEV.read_text(encoding="utf-8"))
    change(data)
    errors = validate_against(schema, data)
    assert any(error.startswith(where) for error in errors), errors


def validate_against(schema: dict[str, Any], data: Any) -> list[str]:
    """A small JSON Schema checker for the keywords pydantic emits (jsonschema is not a
    dependency). Returns 'json/pointer: reason' strings."""
    errors: list[str] = []

    def resolve_ref(node: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in node:
            node = schema["$defs"][node["$ref"].removeprefix("#/$defs/")]
        return node

    def matches(node: dict[str, Any], value: Any, where: str) -> list[str]:
        found: list[str] = []
        check(node, value, where, found)
        return found

    def check(node: dict[str, Any], value: Any, where: str, out: list[str]) -> None:
        node = resolve_ref(node)
        if "anyOf" in node and not any(not matches(option, value, where) for option in node["anyOf"]):
            out.append(f"{where}: matches none of anyOf")
        if "oneOf" in node and sum(not matches(option, value, where) for option in node["oneOf"]) != 1:
            out.append(f"{where}: does not match exactly one of oneOf")
        kind = node.get("type")
        types = {
            "object": lambda v: isinstance(v, dict),
            "array": lambda v: isinstance(v, list),
            "string": lambda v: isinstance(v, str),
            "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
            "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
            "boolean": lambda v: isinstance(v, bool),
            "null": lambda v: v is None,
        }
        if kind and not types[kind](value):
            out.append(f"{where}: not of type {kind}")
            return
        if "enum" in node and value not in node["enum"]:
            out.append(f"{where}: not one of {node['enum']}")
        if "const" in node and value != node["const"]:
            out.append(f"{where}: not {node['const']!r}")
        if isinstance(value, str):
            if "pattern" in node and not re.search(node["pattern"], value):
                out.append(f"{where}: does not match {node['pattern']}")
            if len(value) < node.get("minLength", 0):
                out.append(f"{where}: too short")
        if isinstance(value, int | float) and not isinstance(value, bool):
            if "minimum" in node and value < node["minimum"]:
                out.append(f"{where}: below minimum")
            if "maximum" in node and value > node["maximum"]:
                out.append(f"{where}: above maximum")
            if "exclusiveMinimum" in node and value <= node["exclusiveMinimum"]:
                out.append(f"{where}: not above exclusiveMinimum")
            if "exclusiveMaximum" in node and value >= node["exclusiveMaximum"]:
                out.append(f"{where}: not below exclusiveMaximum")
        if isinstance(value, list):
            if len(value) < node.get("minItems", 0):
                out.append(f"{where}: too few items")
            if "items" in node:
                for index, item in enumerate(value):
                    check(node["items"], item, f"{where}/{index}", out)
        if isinstance(value, dict):
            if len(value) < node.get("minProperties", 0):
                out.append(f"{where}: too few properties")
            for key in node.get("required", ()):
                if key not in value:
                    out.append(f"{where}: missing {key}")
            properties, patterns = node.get("properties", {}), node.get("patternProperties", {})
            for key, item in value.items():
                if "pattern" in node.get("propertyNames", {}) and not re.search(node["propertyNames"]["pattern"], key):
                    out.append(f"{where}: property name {key!r} does not match")
                matched = False
                if key in properties:
                    matched = True
                    check(properties[key], item, f"{where}/{key}", out)
                for pattern, sub in patterns.items():
                    if re.search(pattern, key):
                        matched = True
                        check(sub, item, f"{where}/{key}", out)
                extra = node.get("additionalProperties", True)
                if not matched and extra is False:
                    out.append(f"{where}: unexpected property {key!r}")
                elif not matched and isinstance(extra, dict):
                    check(extra, item, f"{where}/{key}", out)

    check(schema, data, "", errors)
    return errors


# -- the installed console script -------------------------------------------------------------------


def run_script(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    assert SCRIPT.exists(), f"console script not installed next to {sys.executable}"
    env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1"}
    return subprocess.run([str(SCRIPT), *args], cwd=cwd, capture_output=True, text=True, timeout=120, env=env, check=False)


def test_console_script_validates_the_examples() -> None:
    result = run_script("validate", "stacks/dev.yaml", "stacks/prod.yaml", cwd=REPO)
    assert result.returncode == 0, result.stderr
    assert "train-h200" in result.stdout and "serve-l4" in result.stdout


def test_console_script_invalid_stack(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text(INVALID, encoding="utf-8")
    result = run_script("validate", "bad.yaml", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.splitlines() == [*INVALID_LINES, "2 problem(s) found"]
    assert "Traceback" not in result.stderr


def test_console_script_missing_file(tmp_path: Path) -> None:
    missing = run_script("validate", "nope.yaml", cwd=tmp_path)
    assert missing.returncode == 2
    assert missing.stderr.strip() == "gpufleet: nope.yaml: cannot read stack file: No such file or directory"


def test_console_script_json_is_byte_identical_across_runs() -> None:
    # Two processes, two hash seeds: set or dict ordering leaking into the output would show.
    first = run_script("validate", "--json", "stacks/prod.yaml", cwd=REPO)
    second = run_script("validate", "--json", "stacks/prod.yaml", cwd=REPO)
    assert first.returncode == 0
    assert first.stdout == second.stdout
    assert json.loads(first.stdout)["stacks"][0]["file"] == "stacks/prod.yaml"


def test_rules_json_lists_every_rule_with_id_severity_and_description() -> None:
    result = invoke("rules", "--json")
    assert result.exit_code == 0
    rules = json.loads(result.stdout)["rules"]
    ids = [rule["id"] for rule in rules]
    assert ids == sorted(ids) and len(ids) == len(set(ids))
    assert all(re.fullmatch(r"GF-[A-Z0-9]+-\d{3}", rule_id) for rule_id in ids)
    assert {"GF-YAML-001", "GF-STACK-002", "GF-POOL-001", "GF-EFA-001", "GF-MIG-006", "GF-TRAIN-002"} <= set(ids)
    assert all(rule["severity"] in ("error", "warning", "info") and rule["description"] for rule in rules)
    assert next(r for r in rules if r["id"] == "GF-TRAIN-002")["severity"] == "warning"


SPOT_TRAINING = """\
cluster: {name: demo, provider: aws, region: us-east-1, kubernetes_version: "1.33", admins: ["arn:aws:iam::123456789012:role/a"], deployer: "arn:aws:iam::123456789012:role/a", endpoint: {deploy_from: in-vpc}}
network: {vpc_cidr: 10.0.0.0/16, availability_zones: [us-east-1a, us-east-1b]}
fabrics: {efa: {kind: efa}}
node_pools:
  train:
    workload: training
    instance_type: p5.48xlarge
    nodes: {min: 0, max: 4}
    fabric: efa
    capacity: {type: spot}
  system: {workload: system, instance_type: m7i.xlarge, nodes: {min: 1, max: 2}}
"""


def test_warnings_are_shown_and_fail_validate_only_when_strict(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    Path("spot.yaml").write_text(SPOT_TRAINING)
    relaxed = invoke("validate", "spot.yaml")
    assert relaxed.exit_code == 0
    assert "spot.yaml:10:22: warning: node_pools.train.capacity.type: multi-node training on spot" in relaxed.stderr
    strict = invoke("validate", "--strict", "spot.yaml")
    assert strict.exit_code == 1
    document = json.loads(invoke("validate", "--json", "spot.yaml").stdout)
    [warning] = document["stacks"][0]["problems"]
    assert (warning["rule"], warning["severity"], warning["line"]) == ("GF-TRAIN-002", "warning", 10)
