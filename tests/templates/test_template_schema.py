"""A broken template is the template author's bug: refused with where and why, before any user
value is looked at, and never half-rendered."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from gpufleet.catalog import load_catalog
from gpufleet.templating import TemplateError, load_template, lustre_capacity_tib, read_header
from gpufleet.yamldump import dump_flow

CATALOG = load_catalog()


def make(tmp_path: Path, schema: str, stack: str = "cluster: {}\n") -> Path:
    folder = tmp_path / "t"
    folder.mkdir()
    (folder / "template.yaml").write_text(textwrap.dedent(schema), encoding="utf-8")
    (folder / "stack.yaml.j2").write_text(stack, encoding="utf-8")
    return tmp_path


def test_a_default_outside_its_own_range_is_refused(tmp_path: Path) -> None:
    root = make(
        tmp_path,
        """
        description: x
        parameters:
          nodes: {type: integer, description: n, minimum: 1, maximum: 4, default: 9}
        """,
    )
    with pytest.raises(TemplateError, match=r"nodes: default 9 is not a whole number from 1 to 4"):
        load_template("t", root)


def test_gpu_choices_must_be_catalog_gpus_on_instances_that_carry_them(tmp_path: Path) -> None:
    root = make(
        tmp_path,
        """
        description: x
        parameters:
          gpu: {type: gpu, description: g, default: H100-80GB, instances: {H100-80GB: g6.xlarge, X1: p5.48xlarge}}
        """,
    )
    with pytest.raises(TemplateError) as caught:
        load_template("t", root)
    assert "gpu: instance type 'g6.xlarge' does not carry H100-80GB" in str(caught.value)
    assert "gpu: 'X1' is not a catalog GPU name" in str(caught.value)


def test_schema_typos_are_located_in_template_yaml(tmp_path: Path) -> None:
    root = make(
        tmp_path,
        """
        description: x
        parameters:
          nodes: {type: integer, description: n, minimum: 1, maximum: 4, default: 2, maximun: 5}
        """,
    )
    with pytest.raises(TemplateError, match=r"template.yaml:4:78: parameters.nodes.maximun: unknown field 'maximun'"):
        load_template("t", root)


def test_unknown_shared_group_and_dangling_reference(tmp_path: Path) -> None:
    root = make(
        tmp_path,
        """
        description: x
        uses: [cluster]
        """,
    )
    with pytest.raises(TemplateError, match="uses unknown parameter group 'cluster'"):
        load_template("t", root)


def test_an_undefined_name_in_the_jinja_stops_the_render(tmp_path: Path) -> None:
    root = make(
        tmp_path,
        """
        description: x
        parameters:
          nodes: {type: integer, description: n, minimum: 1, maximum: 4, default: 2}
        """,
        stack="cluster:\n  name: {{ cluster_name }}\n",
    )
    with pytest.raises(TemplateError, match=r"stack.yaml.j2:2: template t does not render: 'cluster_name' is undefined"):
        load_template("t", root).render("x", {})


def test_lustre_capacity_is_the_smallest_size_fsx_accepts() -> None:
    # FSx takes 1.2, 2.4, then steps of 2.4 TiB.
    assert lustre_capacity_tib(CATALOG, "PERSISTENT_2", 1000, 0.5, 0) == 1.2
    assert lustre_capacity_tib(CATALOG, "PERSISTENT_2", 1000, 1.3, 0) == 2.4
    assert lustre_capacity_tib(CATALOG, "PERSISTENT_2", 1000, 2.5, 0) == 4.8
    # Throughput decides when it needs more, by what the disks sustain (the per-unit figure, not the
    # network's 2600 from cache): 26,000 MB/s at 1000 MB/s per TiB is 26 TiB -> 26.4.
    assert lustre_capacity_tib(CATALOG, "PERSISTENT_2", 1000, 1, 26_000) == pytest.approx(26.4)
    # At 125 MB/s per TiB it is 208 TiB -> 208.8.
    assert lustre_capacity_tib(CATALOG, "PERSISTENT_2", 125, 1, 26_000) == pytest.approx(208.8)


def test_header_values_read_back_as_written() -> None:
    values = {
        "a": "ai-prod",
        "b": "1.33",
        "c": 4,
        "d": 2.5,
        "e": None,
        "f": ["arn:aws:iam::1:role/x"],
        "g": [{"name": "x", "memory_gib": 18}],
        "h": "true",
        "i": 48.0,
    }
    lines = [f"#   {name}: {dump_flow(value)}" for name, value in values.items()]
    text = "# template: t\n# parameters:\n" + "\n".join(lines) + "\ncluster: {}\n"
    template, read = read_header(text)
    assert template == "t"
    assert read == {**values, "i": 48}
    assert '#   b: "1.33"' in lines and '#   h: "true"' in lines and "#   a: ai-prod" in lines
