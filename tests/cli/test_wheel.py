"""The built wheel, installed into a fresh virtual environment, does what the README shows from an empty folder.

The wheel is built from a copy of the sources (``python -m build --wheel --no-isolation`` with the
locked setuptools), so nothing the checkout holds outside the package can leak in. The new
environment gets the wheel alone; its dependencies are the locked ones this suite runs on, seen
through a path file rather than downloaded again (the same versions ``requirements/runtime.txt``
pins, without a minute of network per run). The folder the commands run in starts empty.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from importlib.metadata import version
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def run(*args: str | Path, cwd: Path, expect: int = 0) -> subprocess.CompletedProcess[str]:
    environment = {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "VIRTUAL_ENV")}
    completed = subprocess.run([str(arg) for arg in args], cwd=cwd, env=environment, capture_output=True, text=True, timeout=300)
    assert completed.returncode == expect, (args, completed.stdout[-2000:], completed.stderr[-2000:])
    return completed


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The ``bin/`` of a new environment holding the wheel built from this checkout."""
    root = tmp_path_factory.mktemp("wheel")
    source = root / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, source / name)
    shutil.copytree(REPO / "infra", source / "infra", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    run(sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", root / "dist", cwd=source)
    (wheel,) = (root / "dist").glob("gpufleet-*.whl")
    venv = root / "venv"
    run(sys.executable, "-m", "venv", "--without-pip", venv, cwd=root)
    purelib = Path(
        run(venv / "bin" / "python", "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])", cwd=root).stdout.strip()
    )
    (purelib / "locked-dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n", encoding="utf-8")
    run(
        sys.executable,
        "-m",
        "pip",
        "--python",
        venv / "bin" / "python",
        "install",
        "-q",
        "--no-deps",
        "--no-index",
        wheel,
        cwd=root,
    )
    return venv / "bin"


def test_the_wheel_works_from_an_empty_folder(installed: Path, tmp_path: Path) -> None:
    gpufleet = installed / "gpufleet"
    where = run(installed / "python", "-c", "import gpufleet; print(gpufleet.__file__)", cwd=tmp_path).stdout
    assert where.startswith(str(installed.parent)), "gpufleet must come from the wheel, not the checkout"
    assert run(gpufleet, "--version", cwd=tmp_path).stdout == f"gpufleet {version('gpufleet')}\n"

    listed = json.loads(run(gpufleet, "templates", "--json", cwd=tmp_path).stdout)["templates"]
    assert [template["template"] for template in listed] == ["ai-lab", "llm-training", "realtime-inference"]
    run(gpufleet, "new", "llm-training", "--stack", "t", cwd=tmp_path)
    assert sorted(str(path.relative_to(tmp_path)) for path in tmp_path.rglob("*")) == [
        "Pulumi.t.yaml",
        "stacks",
        "stacks/t.subnets.lock",
        "stacks/t.yaml",
    ]
    assert "train-h200" in run(gpufleet, "validate", "stacks/t.yaml", cwd=tmp_path).stdout
    run(gpufleet, "preview", "stacks/t.yaml", cwd=tmp_path)
    assert json.loads((tmp_path / "out" / "t" / "resources.json").read_text(encoding="utf-8"))
    # The policy pack ships too: a non-production stack keeping 4 GPU nodes up is its mandatory finding.
    checked = run(gpufleet, "check", "stacks/t.yaml", cwd=tmp_path, expect=1).stdout
    assert "GF-PRC-010" in checked and "1 mandatory violation(s) in 1 stack(s)" in checked
    assert "FEASIBLE on H100-80GB" in run(gpufleet, "mig", "check", "H100-80GB", "3g.40gb=1", "1g.10gb=4", cwd=tmp_path).stdout
    judged = json.loads(run(gpufleet, "mig", "check-config", "out/t/mig-parted-config.yaml", "--json", cwd=tmp_path).stdout)
    assert judged["summary"] == {"ok": 13}  # no MIG pool by default: all-disabled, on each of the 13 MIG GPUs
