"""``gpufleet validate`` shows what a stack costs: a ``cost`` block in ``--json``, a table in text."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gpufleet.cli import app

REPO = Path(__file__).resolve().parents[2]
PROD = REPO / "stacks" / "prod.yaml"


def invoke(*args: str):
    return CliRunner().invoke(app, list(args))


def test_validate_json_has_prods_cost() -> None:
    """prod: serve-h100 2-8 x p5.48xlarge at $55.04, system 2-4 x m7i.2xlarge at $0.4032, lab-l4
    0-4 x g6.12xlarge spot at $2.0968 (snapshot), train-h200's capacity block 16 x $43.26 from
    the stack: floor 110.08 + 0.8064 + 692.16 = 803.0464/hour, 578,193.41 per 30 days."""
    result = invoke("validate", "--json", str(PROD))
    assert result.exit_code == 0, result.output
    (stack,) = json.loads(result.stdout)["stacks"]
    cost = stack["cost"]
    assert cost["prices"]["as_of"] == "2026-12-05" and "snapshot" in cost["prices"]["spot"]
    pools = {pool["pool"]: pool for pool in cost["pools"]}
    assert pools["train-h200"]["usd_per_30_days"] == {"floor": "498355.20", "ceiling": "498355.20"}
    assert pools["train-h200"]["paid_regardless"] and pools["lab-l4"]["snapshot"]
    assert cost["totals"]["floor"] == {"usd_per_hour": "803.05", "usd_per_30_days": "578193.41"}
    assert cost["totals"]["ceiling"]["usd_per_30_days"] == "822585.60"
    assert cost["totals"]["excludes"] == ["storage tier datasets", "storage tier scratch"]
    assert stack["problems"] == []


def test_validate_text_prints_a_cost_table_and_the_shares() -> None:
    result = invoke("validate", str(PROD))
    assert result.exit_code == 0 and result.stderr == ""
    assert "cost in us-east-1 (prices of 2026-12-05; spot is that day's snapshot)" in result.stdout
    assert "$578,193.41" in result.stdout and "$822,585.60" in result.stdout
    assert "lab-l4: per time-sliced replica (4 per GPU): $0.13 per hour (spot snapshot)" in result.stdout
    assert "serve-h100: per MIG slice per hour (its compute slices' share of the GPU): 1g.10gb $0.98" in result.stdout


def test_a_stale_table_warns_with_its_date_and_fails_strict(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GPUFLEET_TODAY", "2027-04-01")
    result = invoke("validate", str(PROD))
    assert result.exit_code == 0
    assert "warning: the price table is dated 2026-12-05, 117 days before today (2027-04-01)" in result.stderr
    assert invoke("validate", "--strict", str(PROD)).exit_code == 1
    (stack,) = json.loads(invoke("validate", "--json", str(PROD)).stdout)["stacks"]
    assert [problem["rule"] for problem in stack["problems"]] == ["GF-COST-003"]


def test_a_date_that_is_not_one_is_a_usage_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GPUFLEET_TODAY", "yesterday")
    result = invoke("validate", str(PROD))
    assert result.exit_code == 2 and "GPUFLEET_TODAY='yesterday' is not a date (YYYY-MM-DD)" in result.stderr


def test_readme_shows_prods_real_cost_table() -> None:
    """The README's "Cost" section prints what `gpufleet validate stacks/prod.yaml` prints."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    block = readme.split("\n## Cost\n", 1)[1].split("```\n", 2)[1].rstrip("\n")
    printed = invoke("validate", str(PROD)).stdout
    shown = "\n".join(line.rstrip() for line in printed[printed.index("cost in us-east-1") :].splitlines())
    assert block.splitlines()[0].strip() == shown.splitlines()[0].strip()
    assert [line.rstrip() for line in block.splitlines()[1:]] == shown.splitlines()[1:]


def test_a_stacks_budget_is_shown_beside_its_cost(tmp_path: Path) -> None:
    text = PROD.read_text(encoding="utf-8").replace(
        "\n  ami_release: v20250620\n", "\n  ami_release: v20250620\n  monthly_budget_usd: 950000.5\n"
    )
    (tmp_path / "prod.yaml").write_text(text, encoding="utf-8")
    (stack,) = json.loads(invoke("validate", "--json", str(tmp_path / "prod.yaml")).stdout)["stacks"]
    assert stack["cost"]["monthly_budget_usd"] == "950000.50"
    assert "monthly budget $950,000.50" in invoke("validate", str(tmp_path / "prod.yaml")).stdout


def test_the_pool_table_and_validate_json_carry_each_pools_cost() -> None:
    """One projection (``PoolFacts``): the $/hour column of ``validate``'s pool table is the same
    figure as the pool's facts in ``--json`` and its row of the cost table. serve-h100: 2 and 8
    x $55.04 = $110.08 and $440.32; train-h200's capacity block costs 16 x $43.26 = $692.16 at any
    node count; onprem's existing nodes have no price, so no figure."""
    (stack,) = json.loads(invoke("validate", "--json", str(PROD)).stdout)["stacks"]
    pools = {row["pool"]: row for row in stack["pools"]}
    assert pools["serve-h100"]["usd_per_hour"] == {"min": "110.08", "max": "440.32"}
    assert pools["serve-h100"]["usd_per_node_hour"] == "55.04"
    assert pools["train-h200"]["usd_per_30_days"] == {"floor": "498355.20", "ceiling": "498355.20"}
    assert "paid whether nodes run or not" in pools["train-h200"]["priced_as"]
    table = invoke("validate", str(PROD)).stdout.split("cost in us-east-1")[0]
    rows = {line.split("│")[1].strip(): line for line in table.splitlines() if line.startswith("│")}
    assert rows["serve-h100"].rstrip().endswith("$110.08-440.32 │") and rows["train-h200"].rstrip().endswith("$692.16 │")
    (onprem,) = json.loads(invoke("validate", "--json", str(REPO / "stacks" / "onprem.yaml")).stdout)["stacks"]
    assert {row["usd_per_hour"]["max"] for row in onprem["pools"]} == {None}
    assert all(row["priced_as"].startswith("not priced: existing nodes") for row in onprem["pools"])


def test_diff_shows_the_change_in_cost_between_two_stacks(tmp_path: Path) -> None:
    """serve-h100 grows from 8 to 12 nodes: its ceiling rises by 4 x $55.04 x 720 h = $158,515.20
    per 30 days, its floor (2 nodes) stays; the pool's own figures and the totals say so."""
    (tmp_path / "right.yaml").write_text(
        PROD.read_text(encoding="utf-8").replace("nodes: {min: 2, max: 8}", "nodes: {min: 2, max: 12}"), encoding="utf-8"
    )
    text = invoke("diff", str(PROD), str(tmp_path / "right.yaml"))
    assert text.exit_code == 1
    assert "  ~ usd_per_hour.max: $440.32 -> $660.48" in text.stdout.splitlines()
    assert (
        "cost per 30 days: floor $578,193.41 -> $578,193.41 (+$0.00); ceiling $822,585.60 -> $981,100.80 (+$158,515.20)"
        " (prices of 2026-12-05, spot is that snapshot)"
    ) in text.stdout.splitlines()
    cost = json.loads(invoke("diff", "--json", str(PROD), str(tmp_path / "right.yaml")).stdout)["cost"]
    assert cost["usd_per_30_days"]["ceiling"] == {"left": "822585.60", "right": "981100.80", "change": "158515.20"}
    assert cost["usd_per_30_days"]["floor"]["change"] == "0.00"
    assert cost["unpriced"]["right"] == ["storage tier datasets", "storage tier scratch"]
    same = invoke("diff", str(PROD), str(PROD))
    assert not [line for line in same.stdout.splitlines() if line.startswith("cost per 30 days")]


def test_the_preview_pool_rows_and_table_show_the_same_cost(tmp_path: Path) -> None:
    """``preview``'s rows are the same projection: the cost a pool's row shows is validate's."""
    result = invoke("preview", "--json", str(PROD), "--out", str(tmp_path / "out"))
    assert result.exit_code == 0, result.output
    rows = {row["pool"]: row for row in json.loads(result.stdout)["pools"]}
    assert rows["lab-l4"]["usd_per_hour"] == {"min": "0.00", "max": "8.39"}
    assert rows["train-h200"]["usd_per_hour"] == {"min": "692.16", "max": "692.16"}
    text = invoke("preview", str(PROD), "--out", str(tmp_path / "out")).stdout
    table = text[text.index("node pools as rendered") :].split("cluster pins")[0]
    assert "$/h at max" in table and "$8.39" in table and "$692.16" in table
