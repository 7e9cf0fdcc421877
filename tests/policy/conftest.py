"""Run the real policy pack (policies/) through the Analyzer protocol on previewed stacks.

Fixtures are the example stacks as the program renders them, changed one resource at a time:
``analyze`` sends them to a pack process exactly as ``gpufleet check`` does and returns the
located findings, so every assertion goes through the same path a user's check takes.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from gpufleet import program
from gpufleet.policy.analyzer import AnalyzedResource, PolicyPackSession, StackIdentity
from gpufleet.policy.check import analyzed
from gpufleet.policy.results import PolicyFinding, policy_findings
from gpufleet.preview import run_preview
from gpufleet.stack import load_stack
from tests.program.conftest import record_subnets

REPO = Path(__file__).resolve().parents[2]
PACK = REPO / "policies"
PROD = REPO / "stacks" / "prod.yaml"
DEV = REPO / "stacks" / "dev.yaml"

Resources = list[AnalyzedResource]
Analyze = Callable[..., list[PolicyFinding]]


def preview_resources(spec: Path, region: str) -> Resources:
    record_subnets(spec)
    config = {"gpufleet:spec": str(spec.resolve()), "aws:region": region}
    return [analyzed(r) for r in run_preview(program.run, project="gpufleet", stack=spec.stem, config=config).resources]


def identity(spec: Path, **config: str) -> StackIdentity:
    return StackIdentity(project="gpufleet", stack=spec.stem, config={"gpufleet:spec": str(spec.resolve()), **config})


# A stack whose training pool outruns its file system and whose models outgrow their GPUs.
TIGHT = """\
cluster: {name: ai-tight, provider: aws, region: us-east-2, kubernetes_version: "1.33", endpoint: {deploy_from: in-vpc}}
network: {vpc_cidr: 10.50.0.0/16, availability_zones: [us-east-2a, us-east-2b]}
fabrics:
  train-efa: {kind: efa}
storage:
  scratch: {kind: fsx-lustre, deployment: PERSISTENT_2, capacity_tib: 2.4, throughput_per_tib: 125}
node_pools:
  system: {workload: system, instance_type: m7i.xlarge, nodes: {min: 2, max: 2}}
  train-h200:
    workload: training
    instance_type: p5e.48xlarge
    nodes: {min: 16, max: 16}
    fabric: train-efa
    storage: [scratch]
    models:
      - {name: giant, parameters_b: 4000, precision: fp32}
  serve-l4:
    workload: inference
    instance_type: g6.xlarge
    nodes: {min: 0, max: 2}
    models:
      - {name: llama-70b, parameters_b: 70, precision: bf16}
"""


@pytest.fixture(scope="session")
def prod_resources() -> Resources:
    return preview_resources(PROD, "us-east-1")


@pytest.fixture(scope="session")
def dev_resources() -> Resources:
    return preview_resources(DEV, "us-west-2")


def _session(spec: Path, stack_identity: StackIdentity) -> Iterator[Analyze]:
    locator = load_stack(spec).locator
    with PolicyPackSession(PACK, stack_identity) as session:

        def analyze(resources: Resources, policy_config: Mapping[str, Any] | None = None) -> list[PolicyFinding]:
            run = session.analyze(resources, policy_config or {})
            return policy_findings(run, resources, locator)

        yield analyze


@pytest.fixture(scope="session")
def analyze_prod() -> Iterator[Analyze]:
    yield from _session(PROD, identity(PROD))


@pytest.fixture(scope="session")
def analyze_dev() -> Iterator[Analyze]:
    yield from _session(DEV, identity(DEV))


@pytest.fixture(scope="session")
def prod_baseline(analyze_prod: Analyze, prod_resources: Resources) -> list[PolicyFinding]:
    """The example production stack's findings as rendered: the compliant fixture of most policies."""
    return analyze_prod(prod_resources)


@pytest.fixture(scope="session")
def dev_baseline(analyze_dev: Analyze, dev_resources: Resources) -> list[PolicyFinding]:
    return analyze_dev(dev_resources)


def session_for(spec: Path) -> Iterator[Analyze]:
    """A pack session for another stack file (the pack reads its plan from ``gpufleet:spec``)."""
    return _session(spec, identity(spec))


def changed(resources: Resources, name: str, change: Callable[[dict[str, Any]], None]) -> Resources:
    """A copy of the graph with the inputs of the resource called ``name`` changed in place."""
    names = [r.name for r in resources]
    assert name in names, f"no resource {name}"
    out = []
    for resource in resources:
        if resource.name == name:
            inputs = copy.deepcopy(dict(resource.inputs))
            change(inputs)
            resource = replace(resource, inputs=inputs)
        out.append(resource)
    return out


def added(
    resources: Resources, like: str, type_token: str, name: str, inputs: dict[str, Any], depends_on: tuple[str, ...] = ()
) -> Resources:
    """The graph plus one resource, parented like the resource called ``like``."""
    sibling = next(r for r in resources if r.name == like)
    prefix, _, _ = sibling.urn.rpartition("::")
    parent_types = prefix.split("::")[2].rsplit("$", 1)[0]
    urn = f"{'::'.join(prefix.split('::')[:2])}::{parent_types}${type_token}::{name}"
    return [
        *resources,
        AnalyzedResource(urn=urn, type=type_token, name=name, inputs=inputs, parent=sibling.parent, dependencies=depends_on),
    ]


def removed(resources: Resources, name: str) -> Resources:
    assert any(r.name == name for r in resources), f"no resource {name}"
    return [r for r in resources if r.name != name]


def urn_of(resources: Resources, name: str) -> str:
    return next(r.urn for r in resources if r.name == name)


def of_rule(findings: list[PolicyFinding], rule_id: str) -> list[PolicyFinding]:
    return [f for f in findings if f.finding.rule_id == rule_id]


def messages(findings: list[PolicyFinding], rule_id: str, field: str, spec: Path = PROD) -> str:
    """The messages of one rule's findings on one stack field, checking they sit on its line."""
    matched = [f for f in of_rule(findings, rule_id) if f.finding.field == field]
    assert matched, f"no {rule_id} finding on {field} in {[str(f.finding) for f in of_rule(findings, rule_id)]}"
    path = tuple(int(part) if part.isdigit() else part for part in field.split("."))
    assert {f.finding.line for f in matched} == {load_stack(spec).locator.location(path, at_key=True).line}
    return " | ".join(f.finding.message for f in matched)


def key_line(spec: Path, section: str, name: str | None = None) -> int:
    """The 1-based line of ``section:`` or of ``name:`` inside it, read from the file's text."""
    lines = spec.read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"{section}:"))
    if name is None:
        return start + 1
    return next(i for i, line in enumerate(lines[start:], start) if line.strip().startswith(f"{name}:")) + 1
