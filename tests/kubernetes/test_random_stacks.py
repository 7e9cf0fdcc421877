"""The cross-layer invariants for random valid stacks (the generators of tests/stack/test_properties.py)."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gpufleet.catalog import load_catalog
from gpufleet.model import resolve
from gpufleet.stack import load_stack
from tests.kubernetes.invariants import violations
from tests.program.conftest import preview_file
from tests.stack.test_properties import valid_stacks, write

# Each example is a full offline preview (a few seconds), so fewer than the model's properties.
PREVIEWS = settings(
    max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)


@st.composite
def stacks_with_kubernetes_options(draw):
    """A valid stack, with time-slicing on some lab GPU pools and namespaces for the classes it has."""
    data = draw(valid_stacks())
    for pool in data["node_pools"].values():
        shareable = pool["workload"] == "lab" and "mig" not in pool and not pool["instance_type"].startswith(("trn", "inf"))
        if shareable and draw(st.booleans()):
            pool["sharing"] = {"time_slicing": {"replicas": draw(st.integers(2, 16))}}
    classes = sorted({p["workload"] for p in data["node_pools"].values()} - {"system"})
    data["queues"] = {workload: [f"{workload}-{i}" for i in range(draw(st.integers(0, 2)))] for workload in classes}
    return data


@PREVIEWS
@given(data=stacks_with_kubernetes_options())
def test_random_stacks_keep_the_cross_layer_invariants(tmp_path_factory, data) -> None:
    path, _ = write(tmp_path_factory.mktemp("k8s"), data)
    plan = resolve(load_stack(path), load_catalog())
    assert violations(plan, preview_file(path, region=plan.cluster.region)) == []
