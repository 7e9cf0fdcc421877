"""The mig-parted config as a typed object: mig-parted's v1 rules, and a dump that reads back."""

from __future__ import annotations

import pytest
from pydantic import ValidationError
from ruamel.yaml import YAML

from gpufleet.catalog import load_catalog
from gpufleet.mig import DeviceLayout, MigPartedConfig, MigPartedEntry, render_mig_parted_config

CATALOG = load_catalog()

PLANS = {
    "serve": ("H100-80GB", (DeviceLayout(layout={"3g.40gb": 2}),)),
    "split": (
        "A30-24GB",
        (
            DeviceLayout(devices=(0,), layout={"1g.6gb": 4}),
            DeviceLayout(devices=(1,), layout={}),
            DeviceLayout(devices=(2, 3), layout=None),
        ),
    ),
}


def test_the_dump_is_yaml_that_parses_back_into_the_same_object():
    config = render_mig_parted_config(CATALOG, PLANS)
    document = YAML(typ="safe", pure=True).load(config.to_yaml())
    assert MigPartedConfig.model_validate(document) == config
    assert document["mig-configs"]["split"][2] == {
        "device-filter": ["0x20B710DE"],
        "devices": [2, 3],
        "mig-enabled": False,
    }


def test_the_config_keeps_each_plans_label_value_and_the_reset_entry():
    config = render_mig_parted_config(CATALOG, PLANS)
    assert config.label_values == {"serve": "serve", "split": "split"}
    (reset,) = config.mig_configs["all-disabled"]
    assert (reset.devices, reset.mig_enabled, reset.device_filter) == ("all", False, ())


# The rules of mig-parted's api/spec/v1 MigConfigSpec and Spec unmarshalling.
@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"mig-enabled": False}, "devices"),
        ({"devices": "all"}, "mig-enabled"),
        ({"devices": "some", "mig-enabled": False}, "devices"),
        ({"devices": "all", "mig-enabled": True}, "'mig-devices' is required when 'mig-enabled' is true"),
        (
            {"devices": "all", "mig-enabled": False, "mig-devices": {"1g.10gb": 1}},
            "'mig-devices' lists instances while 'mig-enabled' is false",
        ),
        ({"devices": "all", "mig-enabled": False, "colour": "red"}, "colour"),
        ({"devices": [-1], "mig-enabled": False}, "greater than or equal to 0"),
        ({"devices": "all", "mig-enabled": True, "mig-devices": {"1g.10gb": -1}}, "greater than or equal to 0"),
    ],
)
def test_entries_follow_mig_parteds_v1_schema(entry, message):
    with pytest.raises(ValidationError, match=message):
        MigPartedEntry.model_validate(entry)


def test_an_enabled_entry_without_instances_and_a_disabled_one_with_an_empty_map_are_valid():
    assert MigPartedEntry.model_validate({"devices": [0], "mig-enabled": True, "mig-devices": {}}).mig_devices == {}
    assert not MigPartedEntry.model_validate({"devices": "all", "mig-enabled": False, "mig-devices": {}}).mig_enabled


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"version": "v2", "mig-configs": {"a": [{"devices": "all", "mig-enabled": False}]}}, "v1"),
        ({"version": "v1", "mig-configs": {}}, "at least 1 item"),
        ({"version": "v1", "mig-configs": {"a": []}}, "config\\(s\\) a need at least one entry"),
        ({"version": "v1", "mig-configs": {"Bad Name": [{"devices": "all", "mig-enabled": False}]}}, "pattern"),
    ],
)
def test_configs_follow_mig_parteds_v1_schema(document, message):
    with pytest.raises(ValidationError, match=message):
        MigPartedConfig.model_validate(document)
