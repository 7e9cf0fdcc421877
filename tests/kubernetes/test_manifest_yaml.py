"""The ``k8s/`` and ``helm/`` files read back as the very objects the program registered,
under YAML 1.1 (PyYAML, go-yaml v2 as kubectl uses it) and YAML 1.2 (ruamel) alike."""

from __future__ import annotations

import io

import pytest
import yaml
from ruamel.yaml import YAML

from gpufleet.preview.manifests import helm_values, kubernetes_objects, manifest_files, to_yaml

# Each a string some YAML reader resolves as another type when written plain.
AMBIGUOUS = [
    "on",
    "off",
    "yes",
    "no",
    "y",
    "true",
    "False",
    "null",
    "~",
    "",
    "12",
    "0755",
    "0o755",
    "0x1F",
    "1_000",
    "1e3",
    "-.5",
    "+1.5E-3",
    "6.",
    ".inf",
    "-.Inf",
    ".NaN",
    "12:30",
    "2024-01-01",
    "=",
    "<<",
]


def _ruamel_load(text: str):
    return YAML(typ="safe", pure=True).load(io.StringIO(text))


@pytest.mark.parametrize("value", AMBIGUOUS)
def test_strings_that_look_like_other_types_stay_strings_for_every_reader(value: str) -> None:
    document = {"metadata": {"labels": {"gpufleet.io/pool": value}}, "args": [value]}
    text = to_yaml(document)
    assert yaml.safe_load(text) == document, text
    assert _ruamel_load(text) == document, text


def test_plain_strings_stay_plain_and_text_stays_a_literal_block() -> None:
    text = to_yaml({"b": "serve-h100", "a": {"config.yaml": "version: v1\nmig-configs: {}\n"}, "c": ["on-demand", 3, True, None]})
    assert text == (
        "a:\n  config.yaml: |\n    version: v1\n    mig-configs: {}\nb: serve-h100\nc:\n- on-demand\n- 3\n- true\n- null\n"
    )


def test_keys_are_sorted_at_every_level_whatever_the_order_given() -> None:
    forward = {"spec": {"b": 1, "a": [{"y": 1, "x": 2}]}, "kind": "X"}
    backward = {"kind": "X", "spec": {"a": [{"x": 2, "y": 1}], "b": 1}}
    assert to_yaml(forward) == to_yaml(backward)
    assert to_yaml(forward).splitlines()[0] == "kind: X"


def test_every_example_file_reads_back_as_the_registered_object(stack) -> None:
    _, _, result = stack
    files = manifest_files(result)
    expected = {f"k8s/{name}": manifest for name, manifest in kubernetes_objects(result).items()}
    expected.update({f"helm/{name}.yaml": values for name, values in helm_values(result).items()})
    assert sorted(files) == sorted(expected)
    for name, text in files.items():
        assert yaml.safe_load(text) == expected[name], name
        assert _ruamel_load(text) == expected[name], name
