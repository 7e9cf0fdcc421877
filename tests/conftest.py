"""Shared helpers for the spec, model and CLI tests: write a stack file, load it, and read
back its located problems as ``(line, column, dotted.path, message)``.

They are handed out through the ``stacks`` fixture (not imported) so that other test
directories can have their own conftest modules without name clashes.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from gpufleet.catalog import load_catalog
from gpufleet.model import FleetPlan, resolve
from gpufleet.stack import LoadedStack, StackInvalid, load_stack

REPO = Path(__file__).resolve().parent.parent

Located = tuple[int, int, str, str]

# A valid 8-line head for AWS stacks; tests append from line 9 on. pulumi up runs inside the
# VPC (rule GF-K8S-008 wants the deploy path stated).
#  1 cluster:
#  2   name: demo
#  3   provider: aws
#  4   region: us-east-1
#  5   kubernetes_version: "1.33"
#  6   endpoint: {deploy_from: in-vpc}
#  7 network: {vpc_cidr: 10.0.0.0/16,
#  8   availability_zones: [us-east-1a, us-east-1b]}
AWS_HEAD = """\
cluster:
  name: demo
  provider: aws
  region: us-east-1
  kubernetes_version: "1.33"
  endpoint: {deploy_from: in-vpc}
network: {vpc_cidr: 10.0.0.0/16,
  availability_zones: [us-east-1a, us-east-1b]}
"""

# Four lines that complete `node_pools:` with an untainted pool.
SYSTEM_POOL = """\
  system:
    workload: system
    instance_type: m7i.xlarge
    nodes: {min: 1, max: 2}
"""


def located(error: StackInvalid) -> list[Located]:
    return [(p.line, p.column, ".".join(str(part) for part in p.path), p.message) for p in error.findings]


def rule_ids(error: StackInvalid) -> list[str]:
    return [finding.rule_id for finding in error.findings]


@dataclass
class StackFiles:
    directory: Path
    head: str = AWS_HEAD
    system_pool: str = SYSTEM_POOL
    repo: Path = REPO
    rules: list[str] = field(default_factory=list)
    """Rule ids of the findings the last ``*_problems`` call returned, in the same order."""

    def write(self, *parts: str, name: str = "stack.yaml") -> Path:
        """Write the parts one after the other. A part that starts with a newline (a
        triple-quoted block in a test) is dedented; others (``system_pool``) are kept as is."""
        path = self.directory / name
        text = "".join(textwrap.dedent(part).lstrip("\n") if part.startswith("\n") else part for part in parts)
        path.write_text(text, encoding="utf-8")
        return path

    def aws(self, *parts: str, name: str = "stack.yaml") -> Path:
        """The AWS head (lines 1-8) followed by the parts (each dedented), from line 9."""
        return self.write(AWS_HEAD, *parts, name=name)

    def load(self, path: Path) -> LoadedStack:
        return load_stack(path)

    def plan(self, path: Path) -> FleetPlan:
        return resolve(load_stack(path), load_catalog())

    def load_problems(self, path: Path) -> list[Located]:
        """Problems from loading alone (shape, types, local ranges)."""
        with pytest.raises(StackInvalid) as caught:
            load_stack(path)
        self.rules = rule_ids(caught.value)
        return located(caught.value)

    def resolve_problems(self, path: Path) -> list[Located]:
        """Problems from resolving a file that loads cleanly."""
        stack = load_stack(path)
        with pytest.raises(StackInvalid) as caught:
            resolve(stack, load_catalog())
        self.rules = rule_ids(caught.value)
        return located(caught.value)


@pytest.fixture
def stacks(tmp_path: Path) -> StackFiles:
    return StackFiles(tmp_path)


@pytest.fixture(autouse=True)
def priced_on_the_tables_day(monkeypatch: pytest.MonkeyPatch) -> None:
    """Commands judge the price table's age on its own date, not the day the tests run, so no
    output changes as the calendar moves; tests of the age set GPUFLEET_TODAY themselves."""
    monkeypatch.setenv("GPUFLEET_TODAY", load_catalog().prices.as_of.isoformat())
