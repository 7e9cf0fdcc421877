"""Rendering a stack's MIG plans into one mig-parted config, and reading configs back."""

from __future__ import annotations

from pathlib import Path

import pytest

from gpufleet.catalog import load_catalog
from gpufleet.mig import (
    DeviceLayout,
    MigConfigError,
    MigPlanError,
    judge_mig_parted_config,
    render_mig_parted_config,
)

CATALOG = load_catalog()


def uniform(gpu: str, layout: dict[str, int] | None):
    """One layout (or MIG off) on every GPU of the node."""
    return (gpu, (DeviceLayout(devices="all", layout=layout),))


PLANS = {
    "inference": uniform("H100-80GB", {"1g.10gb": 2, "2g.20gb": 1, "3g.40gb": 1}),
    "mixed-a30": (
        "0x20B710DE",
        (
            DeviceLayout(devices=(0, 1), layout={"1g.6gb": 4}),
            DeviceLayout(devices=(2,), layout={}),
            DeviceLayout(devices=(3,), layout=None),
        ),
    ),
}

EXPECTED = """\
version: v1
mig-configs:
  all-disabled:
    - devices: all
      mig-enabled: false
  inference:
    - device-filter: ["0x232210DE", "0x232410DE", "0x233010DE", "0x233110DE"]
      devices: all
      mig-enabled: true
      mig-devices:
        "3g.40gb": 1
        "2g.20gb": 1
        "1g.10gb": 2
  mixed-a30:
    - device-filter: ["0x20B710DE"]
      devices: [0, 1]
      mig-enabled: true
      mig-devices:
        "1g.6gb": 4
    - device-filter: ["0x20B710DE"]
      devices: [2]
      mig-enabled: true
      mig-devices: {}
    - device-filter: ["0x20B710DE"]
      devices: [3]
      mig-enabled: false
"""


def test_plans_render_to_one_config_with_device_filters_and_a_reset_entry():
    rendered = render_mig_parted_config(CATALOG, PLANS)
    assert rendered.to_yaml() == EXPECTED
    assert rendered.label_values == {"inference": "inference", "mixed-a30": "mixed-a30"}


def test_rendering_is_byte_identical_whatever_the_input_order():
    again = render_mig_parted_config(CATALOG, dict(reversed(list(PLANS.items()))))
    assert again.to_yaml() == render_mig_parted_config(CATALOG, PLANS).to_yaml()


def test_rendered_config_reads_back_as_valid_for_exactly_its_gpus():
    verdicts = judge_mig_parted_config(CATALOG, render_mig_parted_config(CATALOG, PLANS).to_yaml())
    assert all(verdict.status == "ok" for verdict in verdicts)
    assert {(v.config, v.gpu) for v in verdicts if v.config != "all-disabled"} == {
        ("inference", "H100-80GB"),
        ("mixed-a30", "A30-24GB"),
    }


def test_an_infeasible_plan_is_refused_with_every_reason():
    with pytest.raises(MigPlanError) as caught:
        render_mig_parted_config(
            CATALOG,
            {
                "bad": uniform("H100-80GB", {"3g.40gb": 2, "1g.10gb": 1}),
                "foreign": uniform("A30", {"1g.5gb": 1}),
            },
        )
    message = str(caught.value)
    assert "bad (H100-80GB): Entry 0 (devices all): Memory slices:" in message
    assert "foreign (A30-24GB): Entry 0 (devices all): 1g.5gb does not exist on A30-24GB" in message


@pytest.mark.parametrize("name", ["all-disabled", "Bad Name", "-leading"])
def test_plan_names_must_be_usable_as_the_node_label_value(name):
    with pytest.raises(MigPlanError):
        render_mig_parted_config(CATALOG, {name: uniform("H100-80GB", None)})


def test_entries_that_break_the_v1_schema_are_invalid_not_crashes():
    text = """
version: v1
mig-configs:
  broken:
    - devices: all
      mig-enabled: true
    - devices: some
      mig-enabled: false
      mig-devices: {"1g.10gb": 1}
    - device-filter: "not-an-id"
      devices: all
      mig-enabled: true
      mig-devices: {"1g.10gb": -1, "huge": 1}
      colour: red
  empty: []
"""
    verdicts = {(v.config, v.entry): v for v in judge_mig_parted_config(CATALOG, text)}
    assert verdicts["broken", 0].reasons == ("'mig-devices' is required when 'mig-enabled' is true.",)
    assert verdicts["broken", 1].reasons == (
        "'devices' must be 'all' or a list of GPU indexes, got 'some'.",
        "'mig-devices' lists instances while 'mig-enabled' is false.",
    )
    assert verdicts["broken", 2].reasons == (
        "Unexpected field(s) ['colour'].",
        "'device-filter' value 'not-an-id' is not a PCI device id like 0x20B010DE.",
        "Count for 1g.10gb must be a whole number >= 0, got -1.",
        "'huge' is not a MIG profile name.",
    )
    assert verdicts["empty", 0].status == "invalid"
    assert all(v.fails for v in verdicts.values())


def test_a_filter_naming_a_gpu_without_mig_is_infeasible_unless_mig_is_off():
    text = """
version: v1
mig-configs:
  on:
    - device-filter: ["0x27B810DE", "0x233010de"]
      devices: all
      mig-enabled: true
      mig-devices: {"1g.10gb": 7}
  off:
    - device-filter: "0x27B810DE"
      devices: [0]
      mig-enabled: false
"""
    verdicts = {(v.config, v.gpu): v for v in judge_mig_parted_config(CATALOG, text)}
    assert verdicts["on", "L4-24GB"].status == "infeasible"
    assert verdicts["on", "L4-24GB"].reasons == ("L4-24GB does not support MIG.",)
    assert verdicts["on", "H100-80GB"].status == "ok"
    assert verdicts["on", "H100-80GB"].pci_ids == ("0x233010DE",)
    assert verdicts["off", "L4-24GB"].status == "ok"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("version: v2\nmig-configs: {a: []}\n", "Unsupported mig-parted config version 'v2'"),
        ("version: v1\n", "'mig-configs' must be a non-empty mapping"),
        ("version: v1\nmig-configs: {}\nextra: 1\n", "Unexpected top-level field(s) ['extra']"),
        ("version: [v1\n", "Not valid YAML"),
        ("- just\n- a list\n", "Not a mig-parted config"),
    ],
)
def test_files_that_are_not_mig_parted_configs_are_refused_as_a_whole(text, message):
    with pytest.raises(
        MigConfigError, match=message.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[").replace("]", r"\]")
    ):
        judge_mig_parted_config(CATALOG, text)


def test_a_path_is_read_from_disk(tmp_path: Path):
    path = tmp_path / "config.yaml"
    path.write_text(render_mig_parted_config(CATALOG, PLANS).to_yaml(), encoding="utf-8")
    assert judge_mig_parted_config(CATALOG, path) == judge_mig_parted_config(CATALOG, str(path))


def test_a_missing_file_is_a_config_error_not_yaml_text(tmp_path: Path):
    with pytest.raises(MigConfigError, match="Cannot read it: No such file or directory"):
        judge_mig_parted_config(CATALOG, str(tmp_path / "absent.yaml"))


def test_rendered_profile_names_use_the_spelling_nvidia_smi_prints():
    rendered = render_mig_parted_config(CATALOG, {"p": uniform("H100-80GB", {"1G.10GB": 2, "1g.10gb": 1, "2C.3g.40GB": 1})})
    assert '        "2c.3g.40gb": 1\n        "1g.10gb": 3\n' in rendered.to_yaml()
