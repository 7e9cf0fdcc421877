"""What a person sees in a terminal: pool tables that fit 100 columns, colour by severity only
where colour is wanted, progress only on a terminal."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from gpufleet.catalog import load_catalog
from gpufleet.cli import app
from gpufleet.commands import console
from gpufleet.commands.tables import POOL_DROP_ORDER, PREVIEW_COLUMNS, pools_table, preview_pools_table
from gpufleet.model import resolve
from gpufleet.stack import load_stack

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = sorted(path.stem for path in (REPO / "stacks").glob("*.yaml"))
ESCAPE = "\x1b["


@pytest.fixture(scope="module")
def catalog():
    return load_catalog()


def printed(table, width: int) -> str:
    screen = Console(width=width, record=True, file=io.StringIO())
    screen.print(table)
    return screen.export_text()


def caption_order(text: str) -> list[str]:
    left_out = " ".join(text.split("left out at 100 columns: ", 1)[1].split()) if "left out" in text else ""
    return left_out.split(" (--wide")[0].split(", ") if left_out else []


@pytest.mark.parametrize("name", EXAMPLES)
def test_the_preview_pool_table_fits_100_columns_by_leaving_out_columns_in_order(name, catalog):
    plan = resolve(load_stack(REPO / "stacks" / f"{name}.yaml"), catalog)
    cost = plan.cost
    text = printed(preview_pools_table(plan, width=100), 100)
    assert max(len(line) for line in text.splitlines()) <= 100
    assert "…" not in text, "no cell cut short"
    header = next(line for line in text.splitlines() if "GPUs at max" in line)
    kept = [column.title for column in PREVIEW_COLUMNS if f" {column.title} " in header]
    assert kept[:6] == ["pool", "instance", "GPUs per node", "nodes", "GPUs at max", "$/h at max"]
    ranks = {column.title: column.drop for column in PREVIEW_COLUMNS}
    dropped = caption_order(text)
    assert set(dropped) | set(kept) == set(ranks) and not set(dropped) & set(kept)
    assert [ranks[title] for title in dropped] == sorted(ranks[title] for title in dropped)
    for facts in plan.pool_facts():
        row = next(line for line in text.splitlines() if f" {facts.pool} " in line)
        assert f" {facts.nodes['min']}-{facts.nodes['max']} " in row
        ceiling = cost.pool(facts.pool).ceiling_per_hour
        assert (f"${ceiling:,.2f}" if ceiling is not None else " - ") in row
        if facts.accelerator:
            assert f" {facts.accelerators_max} " in row


def test_prod_at_100_columns_keeps_what_fits_and_names_what_it_left_out(catalog):
    plan = resolve(load_stack(REPO / "stacks" / "prod.yaml"), catalog)
    text = printed(preview_pools_table(plan, width=100), 100)
    assert "serve-balanced" in text and "$692.16" in text and " 0-16 " in text and " 128 " in text
    assert caption_order(text) == [
        "subnets",
        "Kueue flavor / queues",
        "pods may request (per node)",
        "EFA",
        "placement group",
        "zones",
        "capacity",
    ]


def test_wide_shows_every_column_past_the_terminals_edge(catalog, monkeypatch):
    monkeypatch.setattr(console.out, "_console", Console(width=100, file=io.StringIO()))
    plan = resolve(load_stack(REPO / "stacks" / "prod.yaml"), catalog)
    table = preview_pools_table(plan, width=100, wide=True)
    with io.StringIO() as stdout:
        monkeypatch.setattr("sys.stdout", stdout)
        console.print_table(table, wide=True)
        text = stdout.getvalue()
    header = next(line for line in text.splitlines() if "GPUs at max" in line)
    assert all(f" {column.title} " in header for column in PREVIEW_COLUMNS)
    assert len(header) > 100 and "left out" not in text and "cr-0a1b2c3d4e5f60718" in text


def test_the_validate_pool_table_fits_too_and_wide_names_every_fact(catalog):
    plan = resolve(load_stack(REPO / "stacks" / "prod.yaml"), catalog)
    narrow = printed(pools_table(plan, width=100), 100)
    assert max(len(line) for line in narrow.splitlines()) <= 100 and "…" not in narrow
    assert set(caption_order(narrow)) <= set(POOL_DROP_ORDER)
    result = CliRunner().invoke(app, ["validate", str(REPO / "stacks" / "prod.yaml"), "--wide"], env={"COLUMNS": "100"})
    assert result.exit_code == 0, result.output
    header = next(line for line in result.stdout.splitlines() if " GPUs total " in line)
    assert all(f" {title} " in header for title in ("placement", "EFA", "fabric", "per node", "workload"))


@pytest.fixture
def screen(monkeypatch):
    """Swap the commands' stdout and stderr consoles for recording ones, built by the test."""

    def swap(name: str, **options) -> io.StringIO:
        buffer = io.StringIO()
        monkeypatch.setattr(getattr(console, name), "_console", Console(file=buffer, width=200, **options))
        return buffer

    return swap


def test_check_text_is_coloured_by_severity_on_a_terminal(screen, monkeypatch):
    monkeypatch.delenv("NO_COLOR", raising=False)
    buffer = screen("out", force_terminal=True, color_system="standard")
    console.print_styled([("stack: 1 mandatory", "mandatory"), ("  pool x", None), ("advice", "advisory"), ("0 found", "clean")])
    lines = buffer.getvalue().splitlines()
    assert lines[0].startswith("\x1b[1;31m") and lines[1] == "  pool x"
    assert lines[2].startswith("\x1b[33m") and lines[3].startswith("\x1b[32m")


def test_no_colour_with_no_color_set(screen, monkeypatch):
    """no-color.org: "Command-line software which adds ANSI color to its output by default should
    check for a NO_COLOR environment variable that, when present and not an empty string ...,
    prevents the addition of ANSI color"; Rich reads it when a console is made."""
    monkeypatch.setenv("NO_COLOR", "1")
    buffer = screen("out", force_terminal=True, color_system="standard")
    console.print_styled([("stack: 1 mandatory", "mandatory")])
    assert not re.search(r"\x1b\[[0-9;]*3[0-7]m", buffer.getvalue()), "bold may stay; colour goes"
    assert "stack: 1 mandatory" in buffer.getvalue()


def test_check_output_piped_has_no_colour_and_no_progress():
    result = CliRunner().invoke(app, ["check", str(REPO / "stacks" / "dev.yaml")])
    assert result.exit_code == 0, result.output
    assert ESCAPE not in result.stdout and result.stderr == ""
    assert result.stdout.splitlines()[-1] == "0 mandatory violation(s) in 1 stack(s)"


def test_progress_shows_on_a_terminal_only_and_only_when_wanted(screen):
    buffer = screen("err", force_terminal=True)
    with console.progress(True) as step:
        assert step is not None
        step("previewing and checking stacks/prod.yaml (1/4)")
    assert "previewing and checking stacks/prod.yaml (1/4)" in buffer.getvalue()
    with console.progress(False) as step:
        assert step is None
    screen("err", force_terminal=False)
    with console.progress(True) as step:
        assert step is None
