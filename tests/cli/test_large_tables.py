"""Human tables stop at a screenful and say how many rows they left out; --json keeps them all."""

from __future__ import annotations

import json
import re
from pathlib import Path

from rich.console import Console
from typer.testing import CliRunner

from gpufleet.catalog import load_catalog
from gpufleet.commands.mig import mig_app
from gpufleet.commands.tables import TABLE_ROWS, pools_table
from gpufleet.model import resolve
from gpufleet.stack import load_stack

runner = CliRunner()
SERVICES = 3_000


def _demand(path: Path, count: int) -> Path:
    lines = ["services:"]
    lines += [f"  - {{name: svc-{i:05d}, memory_gib: {(8, 30, 60)[i % 3]}}}" for i in range(count)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_a_demand_of_thousands_of_services_is_planned_and_summarised_by_profile(tmp_path: Path) -> None:
    demand = _demand(tmp_path / "demand.yaml", SERVICES)
    human = runner.invoke(mig_app, ["plan", "--gpu", "H100-80GB", "--demand", str(demand)])
    assert human.exit_code == 0, human.output
    assert "svc-02999" not in human.stdout  # no row per service
    for profile in ("1g.10gb", "3g.40gb", "7g.80gb"):
        assert re.search(rf"│ {re.escape(profile)}\s+│ 1000\s+│", human.stdout), profile
    assert "svc-00000, svc-00003, svc-00006, ..." in human.stdout
    machine = json.loads(runner.invoke(mig_app, ["plan", "--gpu", "H100-80GB", "--demand", str(demand), "--json"]).stdout)
    assert len(machine["profile_choice"]) == SERVICES


def test_a_few_services_keep_one_row_each(tmp_path: Path) -> None:
    demand = _demand(tmp_path / "demand.yaml", TABLE_ROWS)
    human = runner.invoke(mig_app, ["plan", "--gpu", "H100-80GB", "--demand", str(demand)])
    assert human.exit_code == 0
    assert f"svc-{TABLE_ROWS - 1:05d}" in human.stdout and "First services" not in human.stdout


def test_the_pools_table_shows_a_screenful_and_counts_the_rest(tmp_path: Path) -> None:
    pools = TABLE_ROWS + 6  # and the system pool
    stack = tmp_path / "many.yaml"
    stack.write_text(
        'cluster: {name: many, provider: aws, region: us-east-1, kubernetes_version: "1.33", endpoint: {deploy_from: in-vpc}}\n'
        "network: {vpc_cidr: 10.40.0.0/16, availability_zones: [us-east-1a, us-east-1b]}\n"
        "node_pools:\n  system: {workload: system, instance_type: m7i.xlarge, nodes: {min: 2, max: 2}}\n"
        + "".join(
            f"  pool-{i:03d}: {{workload: lab, instance_type: g6.xlarge, nodes: {{min: 0, max: 1}}}}\n" for i in range(pools)
        ),
        encoding="utf-8",
    )
    console = Console(width=250, record=True)
    console.print(pools_table(resolve(load_stack(stack), load_catalog())))
    text = console.export_text()
    assert f"pool-{TABLE_ROWS - 1:03d}" in text and f"pool-{TABLE_ROWS:03d}" not in text
    assert "7 more pools not shown; --json lists them all" in text
