"""``--json`` (and ``--format json``) prints JSON and nothing else on stdout, for every verb that
has it, and every verb that prints a table has it: a script can pipe any of them into ``jq``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer.main
from typer.testing import CliRunner

from gpufleet.cli import app

REPO = Path(__file__).resolve().parents[2]
PROD, STAGING = (str(REPO / "stacks" / f"{name}.yaml") for name in ("prod", "staging"))
MACHINE = ("--json", "--format")

# One run per verb path with a JSON form; the walk below fails if a verb is missing here.
RUNS = {
    ("validate",): ["validate", PROD, "--json"],
    ("preview",): ["preview", PROD, "--json"],
    ("check",): ["check", PROD, "--format", "json"],
    ("rules",): ["rules", "--json"],
    ("catalog",): ["catalog", "--json"],
    ("templates",): ["templates", "--json"],
    ("diff",): ["diff", STAGING, PROD, "--format", "json"],
    ("verify",): ["verify", PROD, "--json", "--kubeconfig", "/nonexistent/kubeconfig", "--timeout", "1"],
    ("mig", "profiles"): ["mig", "profiles", "H100-80GB", "--json"],
    ("mig", "check"): ["mig", "check", "H100-80GB", "3g.40gb=1", "1g.10gb=4", "--json"],
    ("mig", "check-config"): ["mig", "check-config", "CONFIG", "--json"],
    ("mig", "plan"): ["mig", "plan", "--gpu", "H100-80GB", "--demand", "DEMAND", "--json"],
}
NO_TABLE = {("schema",): "prints JSON Schema only", ("new",): "writes a stack file and says where"}


def verbs(command=None, path=()):
    command = command or typer.main.get_command(app)
    if hasattr(command, "commands"):
        for name, sub in command.commands.items():
            yield from verbs(sub, (*path, name))
    else:
        yield path, {option for parameter in command.params for option in getattr(parameter, "opts", [])}


def test_every_verb_with_a_table_has_a_json_twin_and_a_run_here():
    for path, options in verbs():
        if path in NO_TABLE:
            continue
        assert options & set(MACHINE), f"gpufleet {' '.join(path)} has no --json"
        assert path in RUNS, f"add gpufleet {' '.join(path)} to RUNS"


@pytest.mark.parametrize("path", sorted(RUNS), ids=" ".join)
def test_json_output_is_json_and_nothing_else(path, tmp_path, monkeypatch):
    """Progress, warnings and errors go to stderr; stdout is one JSON document, or nothing at all
    when the verb failed before it had one (verify here has no cluster to reach)."""
    monkeypatch.chdir(tmp_path)
    demand = tmp_path / "demand.yaml"
    demand.write_text("services:\n  - {name: chat, memory_gib: 30, replicas: 3}\n", encoding="utf-8")
    config = tmp_path / "config.yaml"
    config.write_text(
        "version: v1\nmig-configs:\n  all-disabled:\n    - devices: all\n      mig-enabled: false\n", encoding="utf-8"
    )
    args = [{"DEMAND": str(demand), "CONFIG": str(config)}.get(arg, arg) for arg in RUNS[path]]
    if path == ("preview",):
        args += ["--out", str(tmp_path / "out")]
    result = CliRunner().invoke(app, args)
    assert "Traceback" not in result.stdout + result.stderr
    if result.stdout:
        json.loads(result.stdout)
    else:
        assert result.exit_code != 0, "a verb that succeeded printed no JSON"
    if path != ("verify",):
        assert result.stdout, result.stderr
