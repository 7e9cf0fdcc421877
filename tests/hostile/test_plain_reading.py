"""``parse_plain``, the reading without positions (demand files, the catalog): it must give
the very values ``parse_yaml`` gives, refuse the very same inputs with the same located
messages, and leave nothing it does not read itself to chance."""

from __future__ import annotations

from pathlib import Path

import pytest

from gpufleet.inputs import InputInvalid
from gpufleet.mig.demand import DemandInvalid, load_demand
from gpufleet.yamltree import MAX_DEPTH, MAX_VALUES, MapNode, SeqNode, parse_plain, parse_yaml

REPO = Path(__file__).resolve().parents[2]
FILES = sorted(
    [*REPO.glob("stacks/*.yaml"), *REPO.glob("infra/gpufleet/catalog/data/*.yaml"), *(REPO / "tests/data/hostile").glob("*.yaml")]
)
# Everything the located builder treats specially, and the everyday YAML around it.
TEXTS = [
    "services:\n  - {name: chat, memory_gib: 18, replicas: 2}\n  - name: 'embed'\n    memory_gib: 4.5\n",
    "a: &x {b: 1}\nc: *x\n",
    "<<: {a: 1}\na: 2\n",
    "a: {<<: [{x: 1}, {y: 2}], x: 3}\n",
    "a: 1\n<<: 2\n",
    "a: *nowhere\n",
    "? [a]\n: 1\n",
    "? \n: 1\n",
    "'': 1\n",
    "a: 1\na: 2\n",
    "true: 1\n1: 2\n",
    "a: !!int 3\nb: !!float 1\nc: !!str 4\n",
    "a: !!bool maybe\n",
    "a: !custom 1\n",
    "!!map {a: 1}\n",
    "a: 1\n---\nb: 2\n",
    "a:\nb: ''\nc: ~\nd: yes\ne: 0o17\nf: 0x1f\ng: 1_000\nh: -.Inf\ni: 2001-12-14\n",
    "k: " + "9" * 5000 + "\n",
    "[1, [2, [3]]]\n",
    "plain scalar\n",
    "",
    "a: [\n",
    "x" * 10 + ":" + " [a" * (MAX_DEPTH + 1) + "\n",
    "- []\n" * (MAX_VALUES + 1),
]


def reading(parse, text: str):
    """What a reader makes of ``text``: its values as plain data, or its findings."""
    try:
        return ("values", plain(parse(text, "t.yaml")))
    except InputInvalid as invalid:
        return ("refused", [str(finding) for finding in invalid.findings])


def plain(value):
    if isinstance(value, dict):
        return {"mapping": [(key, type(key).__name__, plain(item)) for key, item in value.items()]}
    if isinstance(value, list):
        return {"list": [plain(item) for item in value]}
    return (type(value).__name__, repr(value))  # repr: NaN equals itself


@pytest.mark.parametrize("path", FILES, ids=lambda path: path.name)
def test_every_example_catalog_and_hostile_file_reads_the_same_both_ways(path: Path) -> None:
    text = path.read_text(encoding="utf-8", errors="replace")
    assert reading(parse_plain, text) == reading(parse_yaml, text)


@pytest.mark.parametrize("text", TEXTS, ids=range(len(TEXTS)))
def test_anchors_tags_merges_duplicates_and_limits_read_the_same_both_ways(text: str) -> None:
    assert reading(parse_plain, text) == reading(parse_yaml, text)


def test_everyday_yaml_is_read_without_positions_and_the_rest_by_the_located_builder() -> None:
    everyday = parse_plain(TEXTS[0], "t.yaml")
    assert type(everyday) is dict and type(everyday["services"]) is list
    anchored = parse_plain(TEXTS[1], "t.yaml")
    assert isinstance(anchored, MapNode) and anchored.key_at["c"] == (1, 0)
    assert isinstance(parse_plain("- !!str 1\n", "t.yaml"), SeqNode)


def test_a_bad_service_among_thousands_is_still_located(tmp_path: Path) -> None:
    lines = ["services:"] + [f"  - {{name: svc-{index}, memory_gib: 9}}" for index in range(5000)]
    lines[4001] = "  - {name: svc-4000, memory_gib: '18'}"
    path = tmp_path / "demand.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(DemandInvalid) as caught:
        load_demand(path)
    [finding] = caught.value.findings
    assert str(finding) == f"{path}:4002:34: services.4000.memory_gib: must be a number, got a string ('18')"


def test_a_valid_demand_file_still_answers_where_its_values_were(tmp_path: Path) -> None:
    from gpufleet.documents import read_document
    from gpufleet.mig.demand import NOT_A_DEMAND, DemandFile

    path = tmp_path / "demand.yaml"
    path.write_text("services:\n  - {name: chat, memory_gib: 18}\n", encoding="utf-8")
    document = read_document(
        path,
        "demand file",
        {MapNode: DemandFile},
        invalid=DemandInvalid,
        root_rule=NOT_A_DEMAND,
        root_message="-",
        positions=False,
    )
    assert document.value.services[0].name == "chat"
    assert document.locator.position(("services", 0, "memory_gib")) == (2, 30)
