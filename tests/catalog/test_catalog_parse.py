"""The catalog's data files are parsed by libyaml (YAML 1.1) for speed; the facts must be what
a YAML 1.2 reader (ruamel) sees, or a spelling like ``on`` or ``1:20`` would silently change
a fact."""

from __future__ import annotations

from importlib import resources

import pytest
from ruamel.yaml import YAML

from gpufleet.catalog import read_data_file

DATA_FILES = sorted(
    entry.name for entry in resources.files("gpufleet.catalog").joinpath("data").iterdir() if entry.name.endswith(".yaml")
)


def test_every_data_file_is_checked() -> None:
    assert {"gpus.yaml", "aws_instances.yaml", "mig.yaml", "kubernetes.yaml", "storage.yaml"} <= set(DATA_FILES)


@pytest.mark.parametrize("name", DATA_FILES)
def test_data_file_reads_as_yaml_1_2(name: str) -> None:
    text = resources.files("gpufleet.catalog").joinpath("data", name).read_text(encoding="utf-8")
    expected = YAML(typ="safe", pure=True).load(text)
    parsed = read_data_file(name)
    assert parsed == expected
    assert repr(parsed) == repr(expected)  # same types too: 1 is not 1.0 nor True
