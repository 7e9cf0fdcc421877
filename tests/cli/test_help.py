"""Every verb's ``--help``: an example that parses, and values described in words, not Python types."""

from __future__ import annotations

import re
import shlex
from importlib.metadata import version
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from gpufleet.cli import app

ROOT = typer.main.get_command(app)
runner = CliRunner()


def _walk(command: Any, path: tuple[str, ...]) -> list[tuple[tuple[str, ...], Any]]:
    found = [(path, command)]
    for name, sub in sorted(getattr(command, "commands", {}).items()):
        found.extend(_walk(sub, (*path, name)))
    return found


VERBS = _walk(ROOT, ())
# A Python annotation as typer would print it: <bool>, <str>, <list[Path]>, <int range>, <path>.
PYTHON_TYPE = re.compile(r"<(bool|str|int|float|path|Path|list\[[^>]*\])( range)?>|\blist\[")


def test_the_walk_reaches_every_verb_and_mig_subcommand():
    names = {" ".join(path) for path, _ in VERBS}
    assert {
        "validate",
        "preview",
        "check",
        "new",
        "templates",
        "diff",
        "verify",
        "mig check",
        "mig check-config",
        "mig plan",
    } <= names
    assert len(names) == 16  # the root, 11 verbs (mig among them) and mig's 4


@pytest.mark.parametrize(("path", "command"), VERBS, ids=[" ".join(path) or "gpufleet" for path, _ in VERBS])
def test_help_shows_an_example_that_parses_and_no_python_type(path, command):
    result = runner.invoke(app, [*path, "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert not PYTHON_TYPE.search(result.output), result.output
    (example,) = re.findall(r"Example: (gpufleet[^\n]*)", result.output)
    words = shlex.split(example.split(" > ")[0])[1:]
    assert words[: len(path)] == list(path), example
    # The example's arguments and options are the verb's own: click parses them without a usage error.
    target = ROOT
    for name in path:
        target = target.commands[name]
    target.make_context(" ".join(["gpufleet", *path]), words[len(path) :])


def test_value_options_name_their_kind_and_flags_name_none():
    text = runner.invoke(app, ["check", "--help"], env={"COLUMNS": "200"}).output
    assert re.search(r"--format\s+text\|json\|sarif\|markdown\s", text) and re.search(r"--policy-pack\s+PATH\s", text)
    text = runner.invoke(app, ["mig", "check", "--help"], env={"COLUMNS": "200"}).output
    assert re.search(r"--existing\s+TEXT\s", text) and re.search(r"--json\s+Stable", text)


def test_version_prints_the_installed_distributions():
    result = runner.invoke(app, ["--version"])
    assert (result.exit_code, result.output) == (0, f"gpufleet {version('gpufleet')}\n")


def test_completion_is_offered_for_the_users_shell():
    """typer's own completion options: `--install-completion` writes it into the shell's rc file,
    `--show-completion` prints it (README "Commands")."""
    text = runner.invoke(app, ["--help"], env={"COLUMNS": "200"}).output
    assert "--install-completion" in text and "--show-completion" in text
