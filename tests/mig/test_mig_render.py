"""Rendering a stack's MIG plans into one mig-parted config, and reading configs back."""

from __future__ import annotations

from pathlib import Path

import pytest

from gpufleet.catalog import load_catalog
from gpufleet.inputs import InputFileError
from gpufleet.mig import (
    DeviceLayout,
    MigConfigInvalid,
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
    assert sorted(rendered.mig_configs) == ["all-disabled", "inference", "mixed-a30"]


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


def refusal(text: str) -> list[str]:
    with pytest.raises(MigConfigInvalid) as refused:
        judge_mig_parted_config(CATALOG, text)
    return [str(finding) for finding in refused.value.findings]


def test_a_config_mig_parted_would_refuse_is_refused_with_every_problem_at_its_line():
    """mig-parted refuses the whole file on the first of these (api/spec/v1 spec.go: "missing required
    field 'mig-devices' when 'mig-enabled' is true", "MIG devices included when 'mig-enabled' is false",
    "unexpected field", "invalid string input for 'devices'"; pkg/types AssertValidFormat: "invalid count",
    "all counts for all MigProfiles are 0"); gpufleet names all of them, each at its line and column."""
    text = """version: v1
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
    - devices: [0]
      mig_enabled: false
  empty: []
  zero:
    - devices: all
      mig-enabled: true
      mig-devices: {"1g.10gb": 0}
"""
    assert refusal(text) == [
        "<config>:4:7: mig-configs.broken.0: 'mig-devices' is required when 'mig-enabled' is true",
        "<config>:6:16: mig-configs.broken.1.devices: must be 'all' or a list of GPU indexes from 0 to 15, got 'some'",
        "<config>:9:22: mig-configs.broken.2.device-filter.0: 'not-an-id' is not a PCI device id like 0x20B010DE",
        "<config>:12:32: mig-configs.broken.2.mig-devices.1g.10gb: must be greater than or equal to 0",
        "<config>:12:36: mig-configs.broken.2.mig-devices.huge: 'huge' is not a MIG profile name like 1g.10gb, 1g.10gb+me or 2c.3g.40gb",
        "<config>:13:7: mig-configs.broken.2.colour: unknown field 'colour'",
        "<config>:14:7: mig-configs.broken.3.mig-enabled: required field is missing",
        "<config>:15:7: mig-configs.broken.3.mig_enabled: unknown field 'mig_enabled' (did you mean 'mig-enabled'?)",
        "<config>:16:3: mig-configs.empty: a config needs at least one entry",
        "<config>:18:7: mig-configs.zero.0: every count in 'mig-devices' is 0; write 'mig-devices: {}' for MIG on without instances",
    ]


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
    ("text", "problems"),
    [
        (
            "version: v2\nmig-configs: {a: []}\n",
            ["<config>:1:10: version: must be 'v1', got 'v2'", "<config>:2:15: mig-configs.a: a config needs at least one entry"],
        ),
        ("version: v1\n", ["<config>:1:1: mig-configs: required field is missing"]),
        ("mig-configs: {a: [{devices: all, mig-enabled: false}]}\n", ["<config>:1:1: version: required field is missing"]),
        (
            "version: v1\nmig-configs: {}\nextra: 1\n",
            ["<config>:2:1: mig-configs: at least one config is required", "<config>:3:1: extra: unknown field 'extra'"],
        ),
        ("- just\n- a list\n", ["<config>:1:1: not a mig-parted config: expected a mapping with 'version' and 'mig-configs'"]),
    ],
)
def test_files_that_are_not_mig_parted_configs_are_refused_as_a_whole(text, problems):
    assert refusal(text) == problems


def test_bad_yaml_is_located_like_any_input():
    (problem,) = refusal("version: [v1\n")
    assert problem.startswith("<config>:2:1: ")


def test_a_path_is_read_from_disk(tmp_path: Path):
    path = tmp_path / "config.yaml"
    path.write_text(render_mig_parted_config(CATALOG, PLANS).to_yaml(), encoding="utf-8")
    assert judge_mig_parted_config(CATALOG, path) == judge_mig_parted_config(CATALOG, str(path))


def test_a_missing_file_is_a_usage_error_not_yaml_text(tmp_path: Path):
    with pytest.raises(InputFileError, match="cannot read mig-parted config: No such file or directory"):
        judge_mig_parted_config(CATALOG, str(tmp_path / "absent.yaml"))


CONFIG_MAP = """apiVersion: v1
kind: ConfigMap
metadata:
  name: custom-mig-config
data:
  config.yaml: |
    version: v1
    mig-configs:
      all-disabled:
        - devices: all
          mig-enabled: false

      custom:
        - devices: [0, 1]
          mig-enabled: true
          mig-devices:
            "1g.10gb": 7
            "3g": 1
"""


def test_a_config_map_is_read_through_and_its_problems_point_into_the_config_map_file(tmp_path: Path):
    """The GPU Operator's MIG manager reads the config from a ConfigMap's data (its default is
    ``default-mig-parted-config``, key ``config.yaml``); a literal block keeps the text verbatim,
    so a problem's line and column in the config are found in the ConfigMap file."""
    path = tmp_path / "mig-config.yaml"
    path.write_text(CONFIG_MAP, encoding="utf-8")
    with pytest.raises(MigConfigInvalid) as refused:
        judge_mig_parted_config(CATALOG, path)
    (problem,) = refused.value.findings
    assert (problem.line, problem.column, problem.field) == (18, 13, "mig-configs.custom.0.mig-devices.3g")
    assert CONFIG_MAP.splitlines()[17][12:].startswith('"3g"')
    path.write_text(CONFIG_MAP.replace('"3g": 1', '"3g.40gb": 0'), encoding="utf-8")
    assert {v.config for v in judge_mig_parted_config(CATALOG, path)} == {"all-disabled", "custom"}


def test_a_config_map_without_exactly_one_config_is_refused_at_its_data(tmp_path: Path):
    text = CONFIG_MAP.split("  config.yaml: |")[0] + "  other: hello\n"
    assert refusal(text) == ["<config>:5:1: data: the ConfigMap does not hold exactly one mig-parted config under data"]


def test_rendered_profile_names_use_the_spelling_nvidia_smi_prints():
    rendered = render_mig_parted_config(CATALOG, {"p": uniform("H100-80GB", {"1G.10GB": 2, "1g.10gb": 1, "2C.3g.40GB": 1})})
    assert '        "2c.3g.40gb": 1\n        "1g.10gb": 3\n' in rendered.to_yaml()
