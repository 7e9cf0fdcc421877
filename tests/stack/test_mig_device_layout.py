"""A stack's per-device MIG layouts are the engine's DeviceLayout, narrowed to layouts with instances."""

from __future__ import annotations

import pytest

from gpufleet import mig


def devices_stack(stacks, entry: str):
    return stacks.aws(
        f"""
        mig_plans:
          p:
            gpu: H100
            devices:
              - {entry}
        node_pools:
        """,
        stacks.system_pool,
    )


def test_stack_device_layouts_are_the_engines(stacks) -> None:
    loaded = stacks.load(devices_stack(stacks, "{devices: [0, 1], layout: {1g.10gb: 7}}"))
    (entry,) = loaded.spec.mig_plans["p"].devices
    assert isinstance(entry, mig.DeviceLayout)
    assert (entry.devices, entry.layout) == ((0, 1), {"1g.10gb": 7})


# Line 13 is "  - {devices: [0], layout: ...}": an empty mapping is located at its key (column 24), a
# null at its value (column 32), as the loader locates any other missing or empty mapping.
@pytest.mark.parametrize(
    ("layout", "column", "message"),
    [
        ("{}", 24, "dictionary should have at least 1 item after validation, not 0"),
        ("null", 32, "must be a mapping (key: value pairs), got nothing (an empty value)"),
    ],
)
def test_a_stack_layout_must_create_instances(stacks, layout, column, message) -> None:
    path = devices_stack(stacks, f"{{devices: [0], layout: {layout}}}")
    assert stacks.load_problems(path) == [(13, column, "mig_plans.p.devices.0.layout", message)]


def test_a_missing_layout_is_a_missing_field(stacks) -> None:
    path = devices_stack(stacks, "{devices: [0]}")
    assert stacks.load_problems(path) == [(13, 9, "mig_plans.p.devices.0.layout", "required field is missing")]
