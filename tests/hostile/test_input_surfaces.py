"""Hostile inputs that cannot be corpus files (file names, a template folder's layout, timing) and
the outputs that must land whole: ``new``'s three files, ``preview``'s folder and record."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gpufleet import templating
from gpufleet.cli import app
from gpufleet.outputs import write_outputs
from tests.hostile.surfaces import REPO, SCHEMA

HOSTILE_NAMES = {
    "a command substitution and a quote": 'p$(id)"q.yaml',
    "a newline that would inject YAML into the record's header": "prod\nnode_pools: {}.yaml",
    "Pulumi's URN separator": "a::b.yaml",
    "uppercase": "Prod.yaml",
    "an underscore": "my_stack.yaml",
    "not a YAML file name": "prod.txt",
}


def invoke(*argv: str):
    result = CliRunner().invoke(app, list(argv))
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    return result


def leftovers(folder: Path) -> list[str]:
    return sorted(str(path.relative_to(folder)) for path in folder.rglob(".*") if path.name != ".gpufleet-output")


@pytest.mark.parametrize("label", sorted(HOSTILE_NAMES))
def test_a_stack_file_name_that_cannot_name_a_stack_is_refused_before_it_is_read(
    label: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The stem becomes the Pulumi stack, part of every URN (``urn:pulumi:<stack>::...``) and the
    record's name and header; ``new --stack`` holds it to the name rule, so every command does."""
    monkeypatch.chdir(tmp_path)
    name = HOSTILE_NAMES[label]
    shutil.copy(REPO / "stacks" / "dev.yaml", tmp_path / name)
    for command in (["validate"], ["preview", "--out", "out"], ["diff", str(REPO / "stacks" / "dev.yaml")]):
        result = invoke(*command[:1], name, *command[1:])
        assert result.exit_code == 2, (command, result.output)
        assert "names the stack" in result.output or "a stack file's name ends in .yaml" in result.output
    assert sorted(os.listdir(tmp_path)) == [name]  # no record, no out/


def test_check_reports_a_badly_named_stack_in_sarif_and_exits_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import json

    monkeypatch.chdir(tmp_path)
    shutil.copy(REPO / "stacks" / "dev.yaml", tmp_path / "p$(id).yaml")
    result = invoke("check", "p$(id).yaml", "--format", "sarif")
    assert result.exit_code == 2, result.output
    (found,) = json.loads(result.stdout)["runs"][0]["results"]
    assert found["ruleId"] == "GF-STACK-005" and "names the stack" in found["message"]["text"]
    assert found["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "p$(id).yaml"


def template_folder(root: Path, schema: str, body: str) -> Path:
    folder = root / "templates" / "t"
    folder.mkdir(parents=True)
    (folder / "template.yaml").write_text(schema, encoding="utf-8")
    (folder / "stack.yaml.j2").write_text(body, encoding="utf-8")
    return root / "templates"


def test_a_template_pattern_cannot_make_a_value_take_exponential_time(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``(a+)+$`` against 40 a's and a '!' takes Python's ``re`` about 2**40 steps; the template's
    patterns run on pydantic's Rust engine, linear in the value."""
    monkeypatch.chdir(tmp_path)
    schema = 'description: x\nparameters:\n  p: {type: string, pattern: "(a+)+$", example: a, description: d}\n'
    folder = template_folder(tmp_path, schema, "cluster: {{ p }}\n")
    started = time.process_time()
    result = invoke("new", "t", "--stack", "x", "--templates", str(folder), "--set", "p=" + "a" * 40 + "!")
    assert time.process_time() - started < 5
    assert result.exit_code == 2 and "p: expected text like 'a' (matching (a+)+$)" in result.stderr


def test_a_template_file_linked_from_outside_the_templates_folder_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A symbolic link would let a template copy a file its author cannot see into the stack
    (``{% include %}`` of a credentials file) the user then commits."""
    monkeypatch.chdir(tmp_path)
    secret = tmp_path / "credentials"
    secret.write_text("aws_secret_access_key = do-not-copy\n", encoding="utf-8")
    folder = template_folder(tmp_path, SCHEMA, "{% include 'leak.j2' %}\n")
    os.symlink(secret, folder / "t" / "leak.j2")
    result = invoke("new", "t", "--stack", "x", "--templates", str(folder))
    assert result.exit_code == 1
    assert "leak.j2 leads outside the templates folder" in result.stderr
    assert "do-not-copy" not in result.output and not (tmp_path / "stacks").exists()


def test_a_template_folder_whose_name_is_not_a_name_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The template's name is written into the stamped stack's header and its Pulumi config."""
    monkeypatch.chdir(tmp_path)
    folder = tmp_path / "templates" / "x\ncluster: {}"
    folder.mkdir(parents=True)
    (folder / "template.yaml").write_text(SCHEMA, encoding="utf-8")
    result = invoke("new", "x\ncluster: {}", "--stack", "x", "--templates", str(tmp_path / "templates"))
    assert result.exit_code == 2 and "cannot name a template" in result.stderr


def test_the_shipped_templates_render_in_the_sandbox_child_and_land_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = invoke("new", "llm-training", "--stack", "t", "--templates", str(REPO / "infra" / "gpufleet" / "templates"))
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == ["Pulumi.t.yaml", "t.subnets.lock", "t.yaml"]
    assert templating.RENDER_LIMITS.cpu_seconds <= 5 and templating.RENDER_LIMITS.memory_mib <= 512


INTERRUPTED_NEW = """
import os, signal, sys
import gpufleet.outputs as outputs
templates, number = sys.argv[1], getattr(signal, sys.argv[2])
real = outputs._write_file
def write(path, text):
    if path.name.startswith(".Pulumi.t.yaml"):
        os.kill(os.getpid(), number)
    real(path, text)
outputs._write_file = write
from gpufleet.cli import main
sys.argv = ["gpufleet", "new", "llm-training", "--stack", "t", "--templates", templates, "--set", "nodes=5", "--force"]
main()
"""


@pytest.mark.parametrize(("name", "code"), [("SIGTERM", 143), ("SIGINT", 130)])
def test_new_interrupted_while_writing_leaves_all_old_files_and_no_temporary_ones(tmp_path: Path, name: str, code: int) -> None:
    """The stack, its Pulumi config and its record land together or not at all."""
    environment = {**os.environ, "PYTHONPATH": str(REPO / "infra")}
    first = subprocess.run(
        [
            sys.executable,
            "-m",
            "gpufleet.cli",
            "new",
            "llm-training",
            "--stack",
            "t",
            "--templates",
            str(REPO / "infra" / "gpufleet" / "templates"),
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        env=environment,
    )
    assert first.returncode == 0, first.stderr
    files = ["Pulumi.t.yaml", "stacks/t.subnets.lock", "stacks/t.yaml"]
    before = {file: (tmp_path / file).read_bytes() for file in files}
    completed = subprocess.run(
        [sys.executable, "-c", INTERRUPTED_NEW, str(REPO / "infra" / "gpufleet" / "templates"), name],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        env=environment,
    )
    assert completed.returncode == code, completed.stderr
    assert "Traceback" not in completed.stderr and f"gpufleet: interrupted by {name}" in completed.stderr
    assert {file: (tmp_path / file).read_bytes() for file in files} == before
    assert leftovers(tmp_path) == []


ENDLESS = "{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}\n"


def test_sigterm_while_a_template_renders_stops_its_child_and_exits_143(tmp_path: Path) -> None:
    folder = template_folder(tmp_path, SCHEMA, ENDLESS)
    environment = {**os.environ, "PYTHONPATH": str(REPO / "infra")}
    marker = f"m{os.getpid()}x{time.monotonic_ns()}"  # a stack name no other process has in its command line
    process = subprocess.Popen(
        [sys.executable, "-m", "gpufleet.cli", "new", "t", "--stack", marker, "--templates", str(folder)],
        cwd=tmp_path,
        stderr=subprocess.PIPE,
        text=True,
        env=environment,
    )
    time.sleep(3)  # start-up, then the child is rendering
    process.send_signal(signal.SIGTERM)
    started = time.monotonic()
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 143, stderr
    assert time.monotonic() - started < 3, "the command waited for its child instead of stopping it"
    assert "Traceback" not in stderr and "gpufleet: interrupted by SIGTERM" in stderr
    still_running = [
        pid for pid in os.listdir("/proc") if pid.isdigit() and marker.encode() in _command_line(Path("/proc", pid, "cmdline"))
    ]
    assert still_running == []
    assert not (tmp_path / "stacks").exists()


def _command_line(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError:
        return b""


def test_preview_commits_its_outputs_and_the_record_together(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A record that cannot be written leaves the old output folder too: no new outputs beside a stale record."""
    monkeypatch.chdir(tmp_path)
    shutil.copy(REPO / "stacks" / "prod.yaml", tmp_path / "prod.yaml")  # no record yet: the preview writes one
    old = {"resources.json": "old\n", "mig-parted-config.yaml": "old\n"}
    write_outputs(tmp_path / "out", old)
    real_replace = os.replace

    def refuse_record(source, target) -> None:
        if str(target).endswith(".subnets.lock"):
            raise PermissionError(13, "Permission denied")
        real_replace(source, target)

    monkeypatch.setattr(os, "replace", refuse_record)
    result = invoke("preview", "prod.yaml", "--out", "out")
    assert result.exit_code == 2, result.output
    assert "prod.subnets.lock: cannot write it: Permission denied; nothing was changed" in result.stderr
    assert {path.name: path.read_text(encoding="utf-8") for path in (tmp_path / "out").iterdir() if path.is_file()} == {
        **old,
        ".gpufleet-output": "Written by gpufleet: this folder is replaced as a whole on every write.\n",
    }
    assert not (tmp_path / "prod.subnets.lock").exists()
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize(
    ("text", "code", "says"),
    [
        ("- kubernetes:context\n", 1, "Pulumi.onprem.yaml:1:1: a Pulumi stack config must be a YAML mapping"),
        ("config: [kubernetes:context]\n", 1, "Pulumi.onprem.yaml:1:1: config: must be a mapping (key: value pairs), got a list"),
        ("config:\n  kubernetes:context: caf\xe9\n".encode("latin-1"), 2, "cannot read Pulumi stack config: not UTF-8 text"),
        (None, 2, "cannot read Pulumi stack config: it is a FIFO (named pipe), not a regular file"),
    ],
)
def test_verify_reads_the_pulumi_stack_config_through_the_one_reader(
    text: str | bytes | None, code: int, says: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``verify`` takes the Kubernetes context from ``Pulumi.<stack>.yaml``: the same reader as
    ``check``'s, so a list, a non-UTF-8 file or a FIFO is a located error before any cluster call."""
    monkeypatch.chdir(tmp_path)
    shutil.copy(REPO / "stacks" / "onprem.yaml", tmp_path / "onprem.yaml")
    settings = tmp_path / "Pulumi.onprem.yaml"
    if text is None:
        os.mkfifo(settings)
    else:
        settings.write_bytes(text.encode("utf-8") if isinstance(text, str) else text)
    result = invoke("verify", "onprem.yaml")
    assert result.exit_code == code, result.output
    assert says in result.output
