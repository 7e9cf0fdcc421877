"""Previews of the example stacks and of a stack using every Kubernetes feature, run once per session."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pytest

from gpufleet.catalog import load_catalog
from gpufleet.model import FleetPlan, resolve
from gpufleet.preview import PreviewResult
from gpufleet.stack import load_stack
from tests.program.conftest import HEAD, preview_file

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = ("dev", "prod", "onprem")

# Every Kubernetes feature on AWS: FSx claims in two namespaces (every pool their queues reach
# mounts the file system), time-sliced lab GPUs, MIG by demand, two training GPU types, local
# NVMe on one pool, queues for every class, the validation jobs created with the fleet.
FULL = (
    HEAD
    + """\
storage:
  data: {kind: s3}
  scratch: {kind: fsx-lustre, capacity_tib: 2.4, throughput_per_tib: 250, namespaces: [research, serving]}
  cache: {kind: local-nvme}
mig_plans:
  packed:
    gpu: H100-80GB
    demand:
      - {name: chat, memory_gib: 18, replicas: 9}
      - {name: embed, memory_gib: 8, replicas: 4}
node_pools:
  sys:
    workload: system
    instance_type: m7i.xlarge
    nodes: {min: 1, max: 3}
  train-h100:
    workload: training
    instance_type: p5.48xlarge
    nodes: {min: 0, max: 4}
    fabric: rdma
    storage: [scratch, cache]
  train-b200:
    workload: training
    instance_type: p6-b200.48xlarge
    nodes: {min: 2, max: 2}
    fabric: rdma
    storage: [scratch]
  serve:
    workload: inference
    instance_type: p5.48xlarge
    nodes: {min: 1, max: 3}
    mig: packed
    storage: [scratch]
  lab:
    workload: lab
    instance_type: g6e.12xlarge
    nodes: {min: 0, max: 2}
    sharing: {time_slicing: {replicas: 8}}
    storage: [scratch]
queues:
  training: [research]
  inference: [serving]
  lab: [research, sandbox]
validation: {create: true}
"""
)


@cache
def rendered(stack: str, root: str) -> tuple[FleetPlan, PreviewResult]:
    path = Path(root) / f"{stack}.yaml"
    plan = resolve(load_stack(path), load_catalog())
    return plan, preview_file(path, region=plan.cluster.region or "us-east-1")


@pytest.fixture(scope="session")
def full_stack_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("full")
    (folder / "full.yaml").write_text(FULL, encoding="utf-8")
    return folder


@pytest.fixture(scope="session", params=[*EXAMPLES, "full"])
def stack(request, full_stack_dir) -> tuple[str, FleetPlan, PreviewResult]:
    root = full_stack_dir if request.param == "full" else REPO / "stacks"
    plan, result = rendered(request.param, str(root))
    return request.param, plan, result
