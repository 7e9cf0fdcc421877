"""The output writer: a folder of files lands whole or not at all, under failures and signals.

Failures are injected where the writer touches the disk (a full disk on the second file, a
failing swap) and signals are sent by the process to itself at the same points, so every
test is deterministic; each checks that the old folder is untouched and nothing is left
beside it.
"""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

import gpufleet.outputs as outputs
from gpufleet.cli import app
from gpufleet.outputs import MARKER, Interrupted, OutputError, write_outputs

REPO = Path(__file__).resolve().parents[2]
OLD = {"resources.json": "old resources\n", "mig-parted-config.yaml": "old mig\n"}
NEW = {"resources.json": "new resources\n", "mig-parted-config.yaml": "new mig\n", "k8s/gpu-operator.yaml": "kind: x\n"}


def contents(folder: Path) -> dict[str, str]:
    return {
        str(path.relative_to(folder)): path.read_text(encoding="utf-8")
        for path in sorted(folder.rglob("*"))
        if path.is_file() and path.name != MARKER
    }


def leftovers(folder: Path) -> list[str]:
    """Anything the writer may have left beside the target (staging or set-aside folders)."""
    return sorted(entry for entry in os.listdir(folder.parent) if entry.startswith(f".{folder.name}."))


@pytest.fixture
def old_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "out"
    write_outputs(folder, OLD)
    return folder


def test_writes_every_file_and_the_marker(tmp_path: Path) -> None:
    folder = write_outputs(tmp_path / "a" / "b", NEW)
    assert contents(folder) == NEW
    assert (folder / MARKER).is_file()
    assert leftovers(folder) == []


def test_same_files_give_byte_identical_folders(tmp_path: Path) -> None:
    first, second = write_outputs(tmp_path / "one", NEW), write_outputs(tmp_path / "two", NEW)
    assert {p: (first / p).read_bytes() for p in NEW} == {p: (second / p).read_bytes() for p in NEW}


def test_replacing_leaves_exactly_the_new_files(old_folder: Path) -> None:
    write_outputs(old_folder, {"resources.json": "only this\n"})
    assert contents(old_folder) == {"resources.json": "only this\n"}
    assert leftovers(old_folder) == []


def test_a_folder_from_before_the_marker_is_replaced_when_it_holds_only_known_files(tmp_path: Path) -> None:
    folder = tmp_path / "legacy"
    folder.mkdir()
    (folder / "resources.json").write_text("legacy\n", encoding="utf-8")
    write_outputs(folder, NEW)
    assert contents(folder) == NEW


@pytest.mark.parametrize(
    ("setup", "says"),
    [
        (lambda target: target.write_text("a file\n"), "is not a folder"),
        (lambda target: target.symlink_to(target.parent), "is a symbolic link"),
        (
            lambda target: (target.mkdir(), (target / "notes.txt").write_text("mine\n")),
            "holds 'notes.txt', which gpufleet did not write",
        ),
        (
            lambda target: (target.mkdir(), (target / "resources.json").mkdir()),
            "holds 'resources.json', which gpufleet did not write",
        ),
    ],
    ids=["regular file", "symlink", "foreign file", "resources.json is a folder"],
)
def test_targets_gpufleet_must_not_replace_are_refused_and_left_alone(tmp_path: Path, setup, says: str) -> None:
    target = tmp_path / "out"
    setup(target)
    before = sorted(os.listdir(tmp_path))
    with pytest.raises(OutputError, match=says) as refused:
        write_outputs(target, NEW)
    assert refused.value.exit_code == 2
    assert sorted(os.listdir(tmp_path)) == before


def test_dev_null_is_not_an_output_folder() -> None:
    with pytest.raises(OutputError, match="is not a folder"):
        write_outputs("/dev/null", NEW)


def test_paths_outside_the_folder_are_a_programming_error(tmp_path: Path) -> None:
    for bad in ("../escape.json", "/etc/passwd", "a/./b", MARKER):
        with pytest.raises(ValueError, match="plain relative path"):
            write_outputs(tmp_path / "out", {bad: "x"})


def fail_on(name: str, action):
    """A stand-in for the writer's file write that runs ``action`` instead of writing ``name``."""
    real = outputs._write_file

    def write(path: Path, text: str) -> None:
        if path.name == name:
            action()
        real(path, text)

    return write


def test_a_full_disk_on_the_second_file_changes_nothing(old_folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def full() -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(outputs, "_write_file", fail_on("resources.json", full))
    with pytest.raises(OutputError, match="no space left on the device; nothing was changed") as failed:
        write_outputs(old_folder, NEW)
    assert failed.value.exit_code == 2
    assert contents(old_folder) == OLD
    assert leftovers(old_folder) == []


def test_a_folder_gpufleet_may_not_write_beside_is_exit_2(old_folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Tests run as root, which no permission bit stops: the refusal is injected where it happens.
    def denied(**_: object) -> str:
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(outputs.tempfile, "mkdtemp", denied)
    with pytest.raises(OutputError, match=f"cannot write beside it in {old_folder.parent}: Permission denied") as refused:
        write_outputs(old_folder, NEW)
    assert refused.value.exit_code == 2
    assert contents(old_folder) == OLD


def test_a_failing_swap_changes_nothing(old_folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(first: Path, second: Path) -> bool:
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(outputs, "_exchange", broken)
    with pytest.raises(OutputError, match="Input/output error"):
        write_outputs(old_folder, NEW)
    assert contents(old_folder) == OLD
    assert leftovers(old_folder) == []


def test_without_an_atomic_exchange_two_renames_still_land_whole(old_folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(outputs, "_exchange", lambda first, second: False)
    write_outputs(old_folder, NEW)
    assert contents(old_folder) == NEW
    assert leftovers(old_folder) == []


def test_without_an_atomic_exchange_a_failed_second_rename_puts_the_old_folder_back(
    old_folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(outputs, "_exchange", lambda first, second: False)
    real_rename = os.rename

    def rename(source, destination) -> None:
        if Path(source).name.endswith(".staging") and Path(destination) == old_folder:
            raise OSError(errno.EXDEV, "Invalid cross-device link")
        real_rename(source, destination)

    monkeypatch.setattr(outputs.os, "rename", rename)
    with pytest.raises(OutputError, match="cross-device"):
        write_outputs(old_folder, NEW)
    assert contents(old_folder) == OLD
    assert leftovers(old_folder) == []


@pytest.mark.parametrize(("number", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_while_writing_keeps_the_old_folder_and_cleans_up(
    old_folder: Path, monkeypatch: pytest.MonkeyPatch, number: int, code: int
) -> None:
    monkeypatch.setattr(outputs, "_write_file", fail_on("resources.json", lambda: os.kill(os.getpid(), number)))
    with pytest.raises(Interrupted) as interrupted:
        write_outputs(old_folder, NEW)
    assert interrupted.value.exit_code == code
    assert contents(old_folder) == OLD
    assert leftovers(old_folder) == []
    assert signal.getsignal(number) is not outputs.Interrupted  # the previous handler is back


@pytest.mark.parametrize("other_threads", [False, True])
def test_a_signal_during_the_swap_waits_until_the_new_folder_is_whole(
    old_folder: Path, monkeypatch: pytest.MonkeyPatch, other_threads: bool
) -> None:
    """With other threads running (the preview's, the pack's), the kernel hands the signal to
    one of them, which has not blocked it, and Python still runs the handler in the main
    thread: holding it takes more than this thread's signal mask."""
    real = outputs._exchange

    def exchange(first: Path, second: Path) -> bool:
        os.kill(os.getpid(), signal.SIGTERM)  # held: delivered only after the swap
        time.sleep(0.05)  # time for another thread to take it, and for the handler to run
        return real(first, second)

    monkeypatch.setattr(outputs, "_exchange", exchange)
    stop = threading.Event()
    worker = threading.Thread(target=stop.wait, daemon=True)
    if other_threads:
        worker.start()
    try:
        with pytest.raises(Interrupted):
            write_outputs(old_folder, NEW)
    finally:
        stop.set()
    assert contents(old_folder) == NEW
    assert leftovers(old_folder) == []


@pytest.mark.parametrize("where", ["file", "dev-null"])
def test_preview_out_that_cannot_be_a_folder_is_exit_2(tmp_path: Path, where: str) -> None:
    target = tmp_path / "taken"
    target.write_text("mine\n", encoding="utf-8")
    out = str(target) if where == "file" else "/dev/null"
    result = CliRunner().invoke(app, ["preview", str(REPO / "stacks" / "dev.yaml"), "--out", out])
    assert result.exit_code == 2, result.output
    assert f"gpufleet: {out} is not a folder" in result.stderr
    assert "Traceback" not in result.output
    assert target.read_text(encoding="utf-8") == "mine\n"


INTERRUPTED_PREVIEW = """
import os, signal, sys
import gpufleet.outputs as outputs
out, number = sys.argv[1], getattr(signal, sys.argv[2])
real = outputs._write_file
def write(path, text):
    if path.name == "resources.json":
        os.kill(os.getpid(), number)
    real(path, text)
outputs._write_file = write
from gpufleet.cli import main
sys.argv = ["gpufleet", "preview", "stacks/dev.yaml", "--out", out]
main()
"""


@pytest.mark.parametrize(("name", "code"), [("SIGINT", 130), ("SIGTERM", 143)])
def test_preview_interrupted_while_writing_exits_with_the_signal_code_and_no_traceback(
    tmp_path: Path, name: str, code: int
) -> None:
    out = tmp_path / "out"
    write_outputs(out, OLD)
    environment = {**os.environ, "PYTHONPATH": str(REPO / "infra")}
    completed = subprocess.run(
        [sys.executable, "-c", INTERRUPTED_PREVIEW, str(out), name],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        env=environment,
    )
    assert completed.returncode == code, completed.stderr
    assert "Traceback" not in completed.stderr
    assert f"gpufleet: interrupted by {name}" in completed.stderr
    assert contents(out) == OLD
    assert leftovers(out) == []


def test_preview_writes_everything_as_one_folder_and_drops_what_it_no_longer_renders(tmp_path: Path) -> None:
    out = tmp_path / "out"
    first = CliRunner().invoke(app, ["preview", str(REPO / "stacks" / "prod.yaml"), "--out", str(out), "--json"])
    assert first.exit_code == 0, first.output
    names = sorted(os.listdir(out))
    assert names == sorted([MARKER, "fleet.svg", "helm", "k8s", "mig-parted-config.yaml", "resources.json"])
    assert any((out / "k8s").iterdir()) and any((out / "helm").iterdir())
    (out / "k8s" / "Stale.from-an-older-stack.yaml").write_text("kind: Stale\n", encoding="utf-8")
    second = CliRunner().invoke(app, ["preview", str(REPO / "stacks" / "prod.yaml"), "--out", str(out), "--json"])
    assert second.exit_code == 0, second.output
    assert not (out / "k8s" / "Stale.from-an-older-stack.yaml").exists()
    assert sorted(os.listdir(out)) == names
    assert leftovers(out) == []


def test_an_edit_during_a_preview_changes_none_of_its_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The preview reads the stack once: rewriting it mid-run reaches neither resources.json nor
    the MIG config (it used to reach the program's second read only)."""
    from gpufleet import program

    stack = tmp_path / "prod.yaml"
    original = (REPO / "stacks" / "prod.yaml").read_text(encoding="utf-8")
    stack.write_text(original, encoding="utf-8")
    edited = original.replace("3g.40gb: 1, 2g.20gb: 1, 1g.10gb: 2", "7g.80gb: 1").replace("m7i.2xlarge", "m7i.4xlarge")
    assert edited != original
    real = program.run_plan

    def edit_then_run(plan) -> None:
        stack.write_text(edited, encoding="utf-8")
        real(plan)

    monkeypatch.setattr(program, "run_plan", edit_then_run)
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["preview", str(stack), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert stack.read_text(encoding="utf-8") == edited  # the edit did happen mid-run
    resources = (out / "resources.json").read_text(encoding="utf-8")
    assert "m7i.2xlarge" in resources and "m7i.4xlarge" not in resources
    mig = (out / "mig-parted-config.yaml").read_text(encoding="utf-8")
    assert '"3g.40gb": 1' in mig and "7g.80gb" not in mig
