"""The mig-parted config as a typed object: mig-parted's v1 rules, and a dump that reads back."""

from __future__ import annotations

import pytest
from pydantic import ValidationError
from ruamel.yaml import YAML

from gpufleet.catalog import load_catalog
from gpufleet.mig import (
    DeviceLayout,
    MigConfigInvalid,
    MigPartedConfig,
    MigPartedEntry,
    read_mig_parted_config,
    render_mig_parted_config,
)
from tests.reference import reference_names, reference_path

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


def test_the_config_keeps_each_plan_under_its_name_and_the_reset_entry():
    config = render_mig_parted_config(CATALOG, PLANS)
    assert sorted(config.mig_configs) == ["all-disabled", "serve", "split"]
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
        ({"devices": [-1], "mig-enabled": False}, "must be 'all' or a list of GPU indexes from 0 to 15"),
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
        ({"mig-configs": {"a": [{"devices": "all", "mig-enabled": False}]}}, "version"),
        ({"version": "v1", "mig-configs": {}}, "at least one config is required"),
        ({"version": "v1", "mig-configs": {"a": []}}, "a config needs at least one entry"),
        (
            {"version": "v1", "mig-configs": {"Bad Name": [{"devices": "all", "mig-enabled": False}]}},
            "cannot be the nvidia.com/mig.config label value",
        ),
    ],
)
def test_configs_follow_mig_parteds_v1_schema(document, message):
    with pytest.raises(ValidationError, match=message):
        MigPartedConfig.model_validate(document)


@pytest.mark.parametrize("name", reference_names("nvidia-mig-configs"))
def test_one_model_reads_nvidias_configs_and_writes_what_it_reads_back(name):
    """Both directions are the one model: each NVIDIA file read, dumped and read again is the same
    config, and the dump is the text gpufleet writes for its own plans."""
    config = read_mig_parted_config(reference_path(f"nvidia-mig-configs/{name}"))
    assert len(config.mig_configs) >= 5
    assert read_mig_parted_config(config.to_yaml()) == config


def test_reading_takes_the_files_spelling_only_while_code_may_use_python_names():
    """mig-parted's JSON tags are the only keys it knows (``mig-enabled``); ``mig_enabled`` in a file
    is an unexpected field there, so here too."""
    with pytest.raises(MigConfigInvalid, match="unknown field 'mig_enabled'"):
        read_mig_parted_config("version: v1\nmig-configs:\n  a:\n    - devices: all\n      mig_enabled: false\n")
    assert MigPartedEntry(devices="all", mig_enabled=False) == MigPartedEntry.model_validate(
        {"devices": "all", "mig-enabled": False}
    )
