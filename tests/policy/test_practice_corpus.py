"""Hand-written stacks, one per practice of the guide a user can break, each caught by the rule of
that practice at the line of the field that breaks it (``tests/data/practices``).

Each file says in its header what it breaks and what ``gpufleet check`` must say:
``# expect: RULE at a.b.c`` (a result of that rule on that field's line) and
``# expect-not: RULE [at a.b.c]`` (no such result, or none on that line). All of them go
through one ``gpufleet check --format sarif`` run, as CI uploads it to code scanning, so the
lines checked are the SARIF results' own.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema
import pytest
from typer.testing import CliRunner

from gpufleet.cli import app
from gpufleet.findings import RULES
from gpufleet.stack import load_stack
from tests.policy.conftest import REPO

CORPUS = REPO / "tests" / "data" / "practices"
STACKS = sorted(CORPUS.glob("*.yaml"))
SARIF_SCHEMA = json.loads((REPO / "tests" / "data" / "sarif-schema-2.1.0.json").read_text(encoding="utf-8"))
EXPECTATION = re.compile(r"^# (expect|expect-not): (GF-[A-Z0-9]+-[0-9]{3})(?: at (\S+))?$", re.MULTILINE)
STACK_TERMS = ("node_pools.", "storage.", "cluster.", "mig_plans")


def line_of(stack: Path, field: str) -> int:
    path = tuple(int(part) if part.isdigit() else part for part in field.split("."))
    assert load_stack(stack).locator.node(path[:-1]) is not None, f"{stack.name} writes no {field}"
    return load_stack(stack).locator.location(path, at_key=True).line


@pytest.fixture(scope="module")
def sarif() -> dict:
    result = CliRunner().invoke(app, ["check", "--format", "sarif", *map(str, STACKS)])
    assert result.exit_code == 1, result.output  # 1: violations, and one stack validate refuses
    document = json.loads(result.stdout)
    jsonschema.validate(document, SARIF_SCHEMA)
    return document


def results_for(sarif: dict, stack: Path) -> list[tuple[str, int, str]]:
    (run,) = sarif["runs"]
    return [
        (result["ruleId"], result["locations"][0]["physicalLocation"]["region"]["startLine"], result["message"]["text"])
        for result in run["results"]
        if result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"].endswith(stack.name)
    ]


def test_the_corpus_covers_the_practices_the_gate_catches() -> None:
    expected = {match[1] for stack in STACKS for match in EXPECTATION.findall(stack.read_text(encoding="utf-8"))}
    assert len(STACKS) >= 13
    assert {"GF-PRC-013", "GF-K8S-007", "GF-PRC-014", "GF-PRC-015", "GF-PRC-016", "GF-PRC-008", "GF-SEC-009"} <= expected
    assert all(EXPECTATION.search(stack.read_text(encoding="utf-8")) for stack in STACKS)


@pytest.mark.parametrize("stack", STACKS, ids=lambda path: path.stem)
def test_each_stack_is_caught_by_its_practice_at_its_field(sarif: dict, stack: Path) -> None:
    found = results_for(sarif, stack)
    for kind, rule, field in EXPECTATION.findall(stack.read_text(encoding="utf-8")):
        at = line_of(stack, field) if field else None
        hits = [(r, line) for r, line, _ in found if r == rule and (at is None or line == at)]
        if kind == "expect":
            assert hits, f"{stack.name}: no {rule} at {field} (line {at}) in {found}"
        else:
            assert not hits, f"{stack.name}: {rule} should not be reported{' at ' + field if field else ''}"


def test_validate_warnings_reach_sarif_with_their_rule(sarif: dict) -> None:
    stack = CORPUS / "validate-warning.yaml"
    (run,) = sarif["runs"]
    rule = next(r for r in run["tool"]["driver"]["rules"] if r["id"] == "GF-TRAIN-002")
    assert rule["defaultConfiguration"]["level"] == "warning"
    assert [(r, line) for r, line, _ in results_for(sarif, stack) if r == "GF-TRAIN-002"] == [
        ("GF-TRAIN-002", line_of(stack, "node_pools.train.capacity.type"))
    ]


def test_fixes_speak_the_stacks_terms(sarif: dict) -> None:
    """Every practice a stack can break tells the user which stack field to change."""
    (run,) = sarif["runs"]
    rules = {rule["id"]: rule for rule in run["tool"]["driver"]["rules"]}
    broken = {rule for stack in STACKS for rule, _, _ in results_for(sarif, stack) if rule.startswith(("GF-PRC-", "GF-SEC-"))}
    assert broken
    for rule in broken:
        assert any(term in rules[rule]["help"]["text"] for term in STACK_TERMS), (rule, rules[rule]["help"]["text"])
    placement = rules["GF-PRC-004"]["help"]["text"]
    assert "node_pools.<pool>.placement: cluster" in placement and "groupName" not in placement


def test_allow_non_rdma_says_check_still_fails_it(sarif: dict) -> None:
    """validate's hint names the flag and says the policy stays mandatory; the policy, when the
    flag is set, says so at the flag's line."""
    hint = RULES["GF-TRAIN-001"].fix
    assert "allow_non_rdma: true" in hint and "gpufleet check" in hint and "advisory" in hint
    stack = CORPUS / "allow-non-rdma.yaml"
    (message,) = [text for rule, _, text in results_for(sarif, stack) if rule == "GF-PRC-001"]
    assert "allow_non_rdma: true lets validate accept TCP, but this policy is mandatory" in message
