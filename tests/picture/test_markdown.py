"""``--format markdown`` of ``preview``, ``check`` and ``diff``: Markdown GitHub renders in a step
summary or a pull-request comment.

GitHub: "you'll be able to add a Mermaid diagram using a code block that specifies mermaid as its
language identifier" (github/roadmap#372); its Markdown is CommonMark with the GFM table
extension. The reports are parsed here with markdown-it-py (CommonMark, tables enabled), the
Mermaid block is held to the flowchart grammar gpufleet writes (``mermaid_grammar.py``), which
refuses what real Mermaid refused (``tests/data/mermaid``).
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from markdown_it import MarkdownIt
from typer.testing import CliRunner

from gpufleet.catalog import load_catalog
from gpufleet.cli import app
from gpufleet.commands.markdown import POOL_COLUMNS, changes
from gpufleet.model import resolve
from gpufleet.model.diff import compare
from gpufleet.picture import plan_scene, render_mermaid
from gpufleet.stack import load_stack
from tests.picture.mermaid_grammar import problems
from tests.policy.conftest import TIGHT

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = sorted(path.stem for path in (REPO / "stacks").glob("*.yaml"))
REJECTED = sorted((REPO / "tests" / "data" / "mermaid" / "rejected").glob("*.mmd"))
runner = CliRunner()


def parse(text: str):
    return MarkdownIt("commonmark").enable("table").parse(text)


def mermaid_blocks(tokens) -> list[str]:
    return [token.content for token in tokens if token.type == "fence" and token.info == "mermaid"]


def tables(tokens) -> list[list[list[str]]]:
    """Every table as rows of cell texts (header row first)."""
    found: list[list[list[str]]] = []
    row: list[str] | None = None
    for index, token in enumerate(tokens):
        if token.type == "table_open":
            found.append([])
        elif token.type == "tr_open":
            row = []
        elif token.type in ("th_open", "td_open"):
            inline = tokens[index + 1]
            assert row is not None
            row.append(inline.content if inline.type == "inline" else "")
        elif token.type == "tr_close":
            found[-1].append(row)
    return found


def links(tokens) -> list[str]:
    return [
        child.attrs["href"] for token in tokens if token.type == "inline" for child in token.children if child.type == "link_open"
    ]


@pytest.fixture(scope="module")
def catalog():
    return load_catalog()


@pytest.mark.parametrize("rejected", REJECTED, ids=lambda path: path.stem)
def test_the_grammar_refuses_what_mermaid_refused(rejected):
    assert problems(rejected.read_text(encoding="utf-8"))


@pytest.mark.parametrize("name", EXAMPLES)
def test_every_example_stacks_diagram_is_in_the_grammar(name, catalog):
    scene = plan_scene(resolve(load_stack(REPO / "stacks" / f"{name}.yaml"), catalog), catalog)
    diagram = render_mermaid(scene)
    assert problems(diagram) == []
    for card in scene.pools:
        assert f'pool_{card.name.replace("-", "_")}["{card.name} ({card.workload})<br/>' in diagram


def test_names_and_words_mermaid_would_read_as_syntax_are_escaped(catalog):
    scene = plan_scene(resolve(load_stack(REPO / "stacks" / "prod.yaml"), catalog), catalog)
    tricky = dataclasses.replace(scene.pools[0], name="end", node_kind='say "hi" <b>|</b> #1')
    scene = dataclasses.replace(scene, pools=(tricky, *scene.pools[1:]), fabrics=())
    diagram = render_mermaid(scene)
    assert problems(diagram) == []
    assert 'pool_end["end (serving)<br/>say #quot;hi#quot; #lt;b#gt;|#lt;/b#gt; #35;1 · ' in diagram.replace(
        f"({tricky.workload})", "(serving)"
    )


def test_preview_markdown_is_the_fleet_and_its_pool_table(tmp_path):
    result = runner.invoke(app, ["preview", str(REPO / "stacks" / "prod.yaml"), "--out", str(tmp_path), "--format", "markdown"])
    assert result.exit_code == 0, result.output
    tokens = parse(result.stdout)
    assert tokens[0].type == "heading_open" and "stacks/prod.yaml" in tokens[1].content
    (diagram,) = mermaid_blocks(tokens)
    assert problems(diagram) == []
    (pools,) = tables(tokens)
    assert tuple(pools[0]) == POOL_COLUMNS and all(len(row) == len(POOL_COLUMNS) for row in pools)
    rows = {row[0]: row for row in pools[1:]}
    assert rows["train-h200"] == [
        "train-h200",
        "training",
        "8 × H200-141GB",
        "0-16",
        "128",
        "capacity block",
        "$692.16/h, paid at any size",
    ]
    assert set(rows) == {"system", "train-h200", "serve-h100", "lab-l4"}
    assert (tmp_path / "fleet.svg").is_file(), "the outputs are written whatever the format"


@pytest.fixture(scope="module")
def tight(tmp_path_factory):
    path = tmp_path_factory.mktemp("tight") / "tight.yaml"
    path.write_text(TIGHT, encoding="utf-8")
    return path


def test_check_markdown_links_each_policy_result_to_its_line(tight, monkeypatch):
    """In GitHub Actions the links go to the file at the run's commit: the default environment
    variables ``GITHUB_SERVER_URL``, ``GITHUB_REPOSITORY`` and ``GITHUB_SHA``."""
    monkeypatch.setenv("GITHUB_SERVER_URL", "https://github.example")
    monkeypatch.setenv("GITHUB_REPOSITORY", "team/fleet")
    monkeypatch.setenv("GITHUB_SHA", "0123abc")
    result = runner.invoke(app, ["check", str(tight), "--format", "markdown"])
    assert result.exit_code == 1, result.output
    violations = json.loads(runner.invoke(app, ["check", str(tight), "--format", "json"]).stdout)["stacks"][0]["violations"]
    tokens = parse(result.stdout)
    results = next(table for table in tables(tokens) if table[0][:2] == ["", "rule"])
    assert len(results) - 1 == len(violations) == 4
    expected = [f"https://github.example/team/fleet/blob/0123abc/{v['file']}#L{v['line']}" for v in violations]
    assert [href for href in links(tokens) if "#L" in href] == expected
    assert "🛑 4 mandatory violation(s)" in result.stdout
    assert [row[1] for row in results[1:]] == [f"`{v['rule']}`" for v in violations]


def test_check_markdown_outside_actions_links_relative_to_the_repository(tight, monkeypatch):
    for name in ("GITHUB_SERVER_URL", "GITHUB_REPOSITORY", "GITHUB_SHA"):
        monkeypatch.delenv(name, raising=False)
    result = runner.invoke(app, ["check", str(tight), "--format", "markdown"])
    hrefs = [href for href in links(parse(result.stdout)) if "#L" in href]
    assert hrefs and all(href.startswith(f"{tight}#L") for href in hrefs)


def test_diff_markdown_has_one_row_per_difference_and_the_right_sides_fleet(catalog):
    staging, prod = (REPO / "stacks" / f"{name}.yaml" for name in ("staging", "prod"))
    result = runner.invoke(app, ["diff", str(staging), str(prod), "--format", "markdown"])
    assert result.exit_code == 1, result.output
    differences = compare(*(resolve(load_stack(path), catalog) for path in (staging, prod)))
    tokens = parse(result.stdout)
    changed, pools = tables(tokens)
    assert changed[0] == ["", "what", "stacks/staging.yaml", "stacks/prod.yaml", "where"]
    assert len(changed) - 1 == len(differences)
    assert next(row for row in changed if "train-h200 · nodes.max" in row[1])[:4] == [
        "✏️",
        "`pool train-h200 · nodes.max`",
        "2",
        "16",
    ]
    assert problems(mermaid_blocks(tokens)[0]) == []
    assert "128" in next(row for row in pools if row[0] == "train-h200")


def test_the_impact_column_appears_when_differences_carry_an_impact_class(catalog):
    staging, prod = (resolve(load_stack(REPO / "stacks" / f"{name}.yaml"), catalog) for name in ("staging", "prod"))
    differences = compare(staging, prod)[:3]
    (table,) = tables(parse("\n".join(changes(differences, "a", "b", ["replace", None, "in place"]))))
    assert table[0][-1] == "impact" and [row[-1] for row in table[1:]] == ["replace", "—", "in place"]
    (plain,) = tables(parse("\n".join(changes(differences, "a", "b"))))
    assert "impact" not in plain[0]
