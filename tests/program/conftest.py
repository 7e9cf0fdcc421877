"""Run the real Pulumi program (``gpufleet.program.run``) under the preview's mocks."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from gpufleet import program
from gpufleet.catalog import load_catalog
from gpufleet.model import resolve
from gpufleet.preview import PreviewResult, run_preview
from gpufleet.records import refresh_record
from gpufleet.stack import load_stack

HEAD = """\
cluster:
  name: fleet
  provider: aws
  region: us-east-1
  kubernetes_version: "1.33"
  endpoint: {deploy_from: in-vpc}
network:
  vpc_cidr: 10.40.0.0/16
  availability_zones: [us-east-1a, us-east-1b, us-east-1c]
fabrics:
  rdma: {kind: efa}
  tcp: {kind: ethernet}
"""


REPO = Path(__file__).resolve().parents[2]


def record_subnets(path: Path) -> None:
    """What `gpufleet preview` does before `pulumi up`: write the stack's subnet record.

    The repository's stacks keep the records committed beside them, which must be current:
    those are never rewritten here, so a stale one fails the run as it would on `pulumi up`.
    """
    if REPO in path.resolve().parents:
        return
    loaded = load_stack(path)
    refresh_record(loaded, resolve(loaded, load_catalog()))


def preview_file(path: Path, region: str = "us-east-1") -> PreviewResult:
    record_subnets(path)
    config = {"gpufleet:spec": str(path.resolve()), "aws:region": region}
    return run_preview(program.run, project="gpufleet", stack=path.stem, config=config)


@pytest.fixture
def preview_stack(tmp_path: Path) -> Callable[[str], PreviewResult]:
    """Preview HEAD plus the given YAML (storage, node_pools, ...) as stack `test`."""

    def run(body: str) -> PreviewResult:
        path = tmp_path / "test.yaml"
        path.write_text(HEAD + textwrap.dedent(body), encoding="utf-8")
        return preview_file(path)

    return run


def children_of(result: PreviewResult, component_type: str, component_name: str) -> list:
    parent = next(r for r in result.resources if r.type == component_type and r.name == component_name)
    return [r for r in result.resources if r.parent == parent.urn]
