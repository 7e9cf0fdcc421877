"""The one YAML reader: what it accepts (and how it types and locates it), what it refuses,
and that the bounds in ``gpufleet.values`` hold the catalog's own hardware."""

from __future__ import annotations

from pathlib import Path

import pytest

from gpufleet.catalog import load_catalog
from gpufleet.inputs import InputInvalid
from gpufleet.mig.demand import DemandInvalid, load_demand
from gpufleet.stack import StackInvalid
from gpufleet.values import MAX_ACCELERATORS_PER_NODE, MAX_GPU_MEMORY_GIB, MAX_MIG_INSTANCES_PER_GPU
from gpufleet.yamltree import MAX_VALUES, Locator, parse_yaml


def parse(text: str):
    return parse_yaml(text, "t.yaml")


def problem(text: str) -> str:
    with pytest.raises(InputInvalid) as caught:
        parse(text)
    [finding] = caught.value.findings
    return str(finding)


@pytest.mark.parametrize(
    ("written", "value"),
    [
        ("yes", "yes"),
        ("no", "no"),
        ("on", "on"),
        ("true", True),
        ("False", False),
        ("~", None),
        ("", None),
        ("42", 42),
        ("-7", -7),
        ("0o17", 15),
        ("0x1f", 31),
        ("017", 17),
        ("1_000", "1_000"),
        ("1.5", 1.5),
        ("1e3", 1000.0),
        ("2001-12-14", "2001-12-14"),
        ("1:20", "1:20"),
        ("'42'", "42"),
        ("!!str 42", "42"),
        ("!!float 1", 1.0),
        ("!!int 3", 3),
    ],
)
def test_plain_scalars_follow_the_yaml_1_2_core_schema(written: str, value) -> None:
    parsed = parse(f"key: {written}\n")["key"]
    assert parsed == value and type(parsed) is type(value)


def test_infinities_parse_so_that_the_models_can_refuse_them() -> None:
    assert parse("a: .inf\nb: -.Inf\n") == {"a": float("inf"), "b": float("-inf")}


def test_every_key_and_value_keeps_its_position() -> None:
    root = parse("top:\n  list: [a, {b: 1}]\n  empty:\n")
    locator = Locator("t.yaml", root)
    assert locator.position(("top", "list", 1, "b")) == (2, 17)
    assert locator.position(("top", "list", 0)) == (2, 10)
    assert locator.position(("top", "empty")) == (3, 3)  # no token of its own: the key's
    assert locator.position(("top", "missing")) == (1, 1)


def test_numbers_keep_their_spelling_for_messages() -> None:
    locator = Locator("t.yaml", parse("version: 1.30\nlist: [1.50]\n"))
    assert (locator.written(("version",)), locator.written(("list", 0))) == ("1.30", "1.50")


def test_merge_keys_copy_what_the_mapping_does_not_set_and_keep_the_source_positions() -> None:
    root = parse("base: &base {workload: lab, nodes: 1}\npool:\n  <<: *base\n  nodes: 2\n")
    assert root["pool"] == {"workload": "lab", "nodes": 2}
    assert Locator("t.yaml", root).position(("pool", "workload")) == (1, 24)


def test_a_moderate_alias_is_fine() -> None:
    root = parse("a: &x [1, 2, 3]\nb: *x\nc: *x\n")
    assert root["b"] == root["c"] == [1, 2, 3]


def test_a_byte_order_mark_at_the_start_is_allowed_elsewhere_it_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "demand.yaml"
    path.write_text("\ufeffservices:\n  - {name: chat, memory_gib: 18}\n", encoding="utf-8")
    assert [service.name for service in load_demand(path)] == ["chat"]
    path.write_text("services:\n  - {name: ch\ufeffat, memory_gib: 18}\n", encoding="utf-8")
    with pytest.raises(DemandInvalid) as caught:
        load_demand(path)
    assert str(caught.value.findings[0]).endswith(
        "2:14: character U+FEFF (ZERO WIDTH NO-BREAK SPACE (a byte order mark inside the text)) is not allowed here"
    )


def test_windows_line_endings_keep_lines_and_columns(tmp_path: Path) -> None:
    path = tmp_path / "demand.yaml"
    path.write_bytes(b"services:\r\n  - {name: chat, memory_gib: -1}\r\n")
    with pytest.raises(DemandInvalid) as caught:
        load_demand(path)
    assert (caught.value.findings[0].line, caught.value.findings[0].column) == (2, 30)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("a: *nowhere\n", "1:4: YAML syntax error: found undefined alias"),
        ("a: !custom 1\n", "1:4: YAML tag '!custom' is not supported"),
        ("a: !!set {x}\n", "1:4: YAML tag 'tag:yaml.org,2002:set' is not supported"),
        ("a: !!int x\n", "1:4: 'x' is not a valid !!int"),
        ("a: 1\n---\nb: 2\n", "2:1: a second YAML document"),
        ("? [a]\n: 1\n", "1:3: a key must be a single value"),
        ("key: &k key\n*k : 1\n", "2:1: duplicate key 'key'"),
        ("a: &m {x: 1}\n*m : 2\n", "2:1: a key must be a single value"),
        ("a: &r [*r]\n", "1:8: alias '*r' refers to a mapping or list that contains it"),
        ("<<: [1]\n", "1:5: '<<' merges mappings only"),
    ],
)
def test_refused_yaml_is_located(text: str, says: str) -> None:
    assert problem(text).startswith(f"t.yaml:{says}")


def test_alias_expansion_is_counted_not_performed() -> None:
    # 10 levels of 10 aliases each would be 10**10 values; the count stops at the limit.
    text = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]\n" for i in range(1, 10)
    )
    assert f"expands the file past {MAX_VALUES} values" in problem(text)


def test_stack_and_demand_files_raise_their_own_error_types(tmp_path: Path) -> None:
    from gpufleet.stack import load_stack

    path = tmp_path / "bad.yaml"
    path.write_text("a: [\n", encoding="utf-8")
    with pytest.raises(StackInvalid):
        load_stack(path)
    with pytest.raises(DemandInvalid) as caught:
        load_demand(path)
    assert caught.value.exit_code == 2


def test_the_bounds_hold_every_catalog_device() -> None:
    catalog = load_catalog()
    assert max(instance.accelerator_count for instance in catalog.instance_types.values()) <= MAX_ACCELERATORS_PER_NODE
    assert max(geometry.max_instances for geometry in catalog.mig.values()) <= MAX_MIG_INSTANCES_PER_GPU
    assert max(accelerator.memory_gib for accelerator in catalog.accelerators.values()) < MAX_GPU_MEMORY_GIB
