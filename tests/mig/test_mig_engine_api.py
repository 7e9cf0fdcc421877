"""The engine reasons over the catalog its caller passes, and stays free of CLI and Pulumi."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from gpufleet.catalog import Catalog, load_catalog
from gpufleet.mig import DeviceLayout, ServiceDemand, check_layout, plan_demand, resolve_gpu

CATALOG = load_catalog()
INFRA = Path(__file__).resolve().parents[2] / "infra"


def with_max_instances(catalog: Catalog, gpu: str, max_instances: int) -> Catalog:
    """A catalog that differs from ``catalog`` in one fact: how many instances ``gpu`` holds."""
    variant = copy.copy(catalog)
    tighter = catalog.mig[gpu].model_copy(update={"max_instances": max_instances})
    variant.__dict__["mig"] = {**catalog.mig, gpu: tighter}
    return variant


def test_checks_use_the_catalog_they_are_given():
    tight = with_max_instances(CATALOG, "H100-80GB", 4)
    assert check_layout(CATALOG, "H100-80GB", {"1g.10gb": 5}).feasible
    assert check_layout(tight, "H100-80GB", {"1g.10gb": 5}).reasons == (
        "Instance limit: 5 GPU instances but H100-80GB holds at most 4.",
    )


def test_cached_layouts_are_never_shared_between_geometries_that_differ():
    demand = [ServiceDemand("small", 5, replicas=14)]
    default = resolve_gpu(CATALOG, "H100-80GB")
    tight = resolve_gpu(with_max_instances(CATALOG, "H100-80GB", 4), "H100-80GB")
    assert plan_demand(default, demand).gpus_used == 2
    assert plan_demand(tight, demand).gpus_used == 4
    assert plan_demand(default, demand).gpus_used == 2


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"devices": (True,), "layout": {"1g.10gb": 1}}, "valid integer"),
        ({"devices": (-1,), "layout": {"1g.10gb": 1}}, "greater than or equal to 0"),
        ({"devices": "some", "layout": {"1g.10gb": 1}}, "'all'"),
        ({"layout": {"1g.10gb": 0}}, "greater than or equal to 1"),
        ({"layout": {"1g.10gb": "2"}}, "valid integer"),
        ({"layout": {"1g.10gb": 1.0}}, "valid integer"),
        ({"devices": "all"}, "Field required"),
    ],
)
def test_a_device_layout_is_strict_about_indexes_and_counts(fields, message):
    with pytest.raises(ValidationError, match=message):
        DeviceLayout(**fields)


def test_importing_the_engine_loads_no_catalog_and_no_cli_or_pulumi():
    probe = (
        "import json, sys\n"
        "import gpufleet.mig\n"
        "from gpufleet.catalog import load_catalog\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('typer', 'rich', 'pulumi'))\n"
        "print(json.dumps({'catalogs': load_catalog.cache_info().currsize, 'heavy': heavy}))\n"
    )
    completed = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, env={"PYTHONPATH": str(INFRA)}
    )
    assert json.loads(completed.stdout) == {"catalogs": 0, "heavy": []}
