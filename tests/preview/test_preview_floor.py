"""bench/floor.py must re-register exactly what the program registered."""

from __future__ import annotations

import dataclasses
import importlib.util
import sys
from pathlib import Path

import pytest
from preview_programs import gpu_cluster_program

from gpufleet.preview import RecordedResource, run_preview

FLOOR_PATH = Path(__file__).resolve().parents[2] / "bench" / "floor.py"
CONFIG = {"aws:region": "us-west-2", "gpufleet:spec": "fleet.yaml"}


@pytest.fixture(scope="module")
def floor():
    spec = importlib.util.spec_from_file_location("bench_floor", FLOOR_PATH)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve annotations through sys.modules
    spec.loader.exec_module(module)
    yield module
    del sys.modules[spec.name]


def registration(resource: RecordedResource) -> RecordedResource:
    """What the floor promises to reproduce: everything but outputs, secretness and which
    input came from which resource (the floor passes plain values)."""
    return dataclasses.replace(resource, outputs={}, secret_paths=(), property_dependencies={})


@pytest.fixture(scope="module")
def original():
    return run_preview(gpu_cluster_program, project="gpufleet", stack="dev", config=CONFIG)


def test_floor_program_registers_the_same_resources(floor, original):
    replayed = run_preview(floor.floor_program(original.resources), project="gpufleet", stack="dev", config=CONFIG)

    assert [registration(r) for r in replayed.resources] == [registration(r) for r in original.resources]
    assert replayed.unknown_invokes == ()


def test_floor_order_puts_parents_providers_and_dependencies_first(floor, original):
    position = {r.urn: index for index, r in enumerate(floor.dependency_order(original.resources))}

    assert original.stack_urn not in position
    for resource in original.resources:
        if resource.urn not in position:
            continue
        before = [resource.parent, *resource.depends_on]
        if resource.provider:
            before.append(resource.provider.rsplit("::", 1)[0])
        assert all(position[urn] < position[resource.urn] for urn in before if urn in position)
