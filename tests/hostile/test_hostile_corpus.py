"""The hostile corpus: every malformed input gets its exit code and its located message, never
a traceback, a hang or runaway memory.

Files live in tests/data/hostile/ with what each must give in expected.yaml; inputs that
cannot be files in git (a FIFO, a symlink loop, a folder, a file past the size limit) are
made here.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from ruamel.yaml import YAML
from typer.testing import CliRunner

from gpufleet import templating
from gpufleet.bounded import Limits
from gpufleet.cli import app
from gpufleet.inputs import MAX_FILE_BYTES, MAX_LINE_CHARACTERS
from gpufleet.yamltree import MAX_DEPTH
from tests.hostile.surfaces import SURFACES, kind_of, place, place_special

CORPUS = Path(__file__).resolve().parents[1] / "data" / "hostile"
EXPECTED = YAML(typ="safe", pure=True).load((CORPUS / "expected.yaml").read_text(encoding="utf-8"))
COMMANDS = {
    "stack": ["validate"],
    "demand": ["mig", "plan", "--gpu", "H100-80GB", "--demand"],
    "migparted": ["mig", "check-config"],
}
# A template under test renders within these ceilings, so the endless loop costs a second.
TEST_RENDER_LIMITS = Limits(cpu_seconds=1, memory_mib=256, wall_seconds=10, output_bytes=MAX_FILE_BYTES)


def run(kind: str, name: str):
    return invoke([*COMMANDS[kind], name])


def invoke(argv: list[str]):
    result = CliRunner().invoke(app, argv)
    # Anything but SystemExit means an exception escaped gpufleet's own error handling.
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    return result


def file_name(name: str) -> str:
    """The name a case runs under: a stack file's stem names the stack, so it is held to the
    name rule (``billion-laughs.stack.yaml`` runs as ``billion-laughs.yaml``)."""
    return name.replace(".stack.yaml", ".yaml")


def test_every_corpus_file_has_an_expectation() -> None:
    files = sorted(path.name for path in CORPUS.iterdir() if path.name != "expected.yaml")
    assert files == sorted(EXPECTED)
    assert {kind_of(name) for name in files} == set(SURFACES)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_corpus_case(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(templating, "RENDER_LIMITS", TEST_RENDER_LIMITS)
    argv, shown = place(name, (CORPUS / name).read_bytes(), tmp_path)
    expected = EXPECTED[name]
    result = invoke(argv)
    assert result.exit_code == expected["exit"], result.output
    says = expected["says"]
    wanted = f"{shown}:{says}" if says[0].isdigit() else says
    output = sarif_lines(result.stdout) + result.stderr if "sarif" in argv else result.output
    assert wanted in output
    assert not (tmp_path / "stacks" / "t.yaml").exists() and not (tmp_path / "stacks" / "x.yaml").exists()  # nothing written


def sarif_lines(text: str) -> str:
    """A SARIF report as file:line:column: message lines; it must be SARIF whatever failed."""
    results = json.loads(text)["runs"][0]["results"]
    lines = []
    for result in results:
        location = result["locations"][0]["physicalLocation"]
        region = location["region"]
        lines.append(
            f"{location['artifactLocation']['uri']}:{region['startLine']}:{region['startColumn']}: {result['message']['text']}"
        )
    return "\n".join(lines) + "\n"


def special_inputs(folder: Path) -> dict[str, tuple[Path, str]]:
    """Inputs that cannot live in git, each with the reason the reader must give."""
    fifo = folder / "fifo.yaml"
    os.mkfifo(fifo)
    loop = folder / "loop.yaml"
    os.symlink(folder / "loop-back.yaml", loop)
    os.symlink(loop, folder / "loop-back.yaml")
    directory = folder / "folder.yaml"
    directory.mkdir()
    big = folder / "big.yaml"
    big.write_text("# padding\n" * (MAX_FILE_BYTES // 10 + 1), encoding="utf-8")
    return {
        "fifo": (fifo, "it is a FIFO (named pipe), not a regular file"),
        "symlink loop": (loop, "a symbolic link loop"),
        "directory": (directory, "it is a directory; name a file"),
        "too big": (big, f"it is larger than {MAX_FILE_BYTES // 1024} KiB"),
        "missing": (folder / "absent.yaml", "No such file or directory"),
    }


@pytest.mark.parametrize("kind", sorted(COMMANDS))
def test_files_that_cannot_be_read_are_usage_errors_for_every_input_kind(
    kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    for label, (path, reason) in special_inputs(tmp_path).items():
        result = run(kind, path.name)
        assert result.exit_code == 2, (label, result.output)
        assert reason in result.stderr, (label, result.stderr)
        assert path.name in result.stderr


def _fifo(path: Path) -> None:
    os.mkfifo(path)


def _loop(path: Path) -> None:
    back = path.with_name(path.name + ".back")
    os.symlink(back, path)
    os.symlink(path, back)


def _too_big(path: Path) -> None:
    path.write_text("# padding\n" * (MAX_FILE_BYTES // 10 + 1), encoding="utf-8")


UNREADABLE = {
    "fifo": (_fifo, "it is a FIFO (named pipe), not a regular file"),
    "symlink loop": (_loop, "a symbolic link loop"),
    "directory": (Path.mkdir, "it is a directory; name a file"),
    "too big": (_too_big, f"it is larger than {MAX_FILE_BYTES // 1024} KiB"),
}


@pytest.mark.parametrize("kind", sorted(set(SURFACES) - set(COMMANDS) - {"set"}))
@pytest.mark.parametrize("label", sorted(UNREADABLE))
def test_files_that_cannot_be_read_are_usage_errors_on_every_new_surface(
    kind: str, label: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A FIFO is refused without waiting for a writer, on every surface: a --from header, a
    values file, a template's schema and body, the Pulumi config and the record beside a stack,
    a policy config. ``check`` still prints its whole report (SARIF here) and exits 2."""
    monkeypatch.chdir(tmp_path)
    make, reason = UNREADABLE[label]
    argv, shown = place_special(kind, make, tmp_path)
    result = invoke(argv)
    assert result.exit_code == 2, result.output
    output = sarif_lines(result.stdout) + result.stderr if "sarif" in argv else result.output
    assert reason in output and shown in output, output


@pytest.mark.parametrize(
    ("label", "text", "says"),
    [
        ("a 1 MB comment line", "#" + "c" * 1_000_000 + "\n", f"1:{MAX_LINE_CHARACTERS + 1}: line is 1000001 characters long"),
        (
            "100,000 '[' on one line",
            "cluster: " + "[" * 100_000 + "\n",
            f"1:{MAX_LINE_CHARACTERS + 1}: line is 100009 characters long",
        ),
        (
            "100,000 '[' one per line",
            "cluster:\n" + "  [\n" * 100_000,
            f"{MAX_DEPTH + 1}:3: mappings and lists are nested more than {MAX_DEPTH} levels deep here",
        ),
        (
            "1,000 nested maps (3,000 need 4.5 MB: past the size limit)",
            "cluster:\n" + "".join(" " * (i + 1) + "k:\n" for i in range(1000)),
            f"{MAX_DEPTH + 1}:{MAX_DEPTH + 1}: mappings and lists are nested",
        ),
    ],
)
def test_generated_limits_cases(label: str, text: str, says: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    for kind in COMMANDS:
        name = file_name(f"case.{kind}.yaml")
        (tmp_path / name).write_text(text, encoding="utf-8")
        result = run(kind, name)
        assert result.exit_code == (1 if kind == "stack" else 2), (label, kind, result.output)
        assert f"{name}:{says}" in result.output, (label, kind, result.output)


def test_gpus_per_node_is_bounded_by_what_a_node_carries(tmp_path: Path) -> None:
    demand = tmp_path / "demand.yaml"
    demand.write_text("services:\n  - {name: chat, memory_gib: 18}\n", encoding="utf-8")
    result = CliRunner().invoke(
        app, ["mig", "plan", "--gpu", "H100-80GB", "--demand", str(demand), "--gpus-per-node", "100000000"]
    )
    assert result.exit_code == 2
    assert "--gpus-per-node" in result.output and "16" in result.output


def test_ctrl_c_outside_a_writer_exits_130_without_a_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    import gpufleet.catalog as catalog  # validate imports load_catalog from here when it runs

    def interrupted():
        raise KeyboardInterrupt

    monkeypatch.setattr(catalog, "load_catalog", interrupted)
    result = CliRunner().invoke(app, ["validate", "stacks/dev.yaml"])
    assert result.exit_code == 130
    assert "gpufleet: interrupted by SIGINT" in result.stderr
    assert "Traceback" not in result.output


def test_pulumi_up_on_an_unreadable_stack_file_fails_the_run_in_one_line(tmp_path: Path) -> None:
    import pulumi

    from gpufleet.program import load_plan

    fifo = tmp_path / "prod.yaml"
    os.mkfifo(fifo)
    with pytest.raises(pulumi.RunError, match="cannot read stack file: it is a FIFO"):
        load_plan(fifo)
