"""The code keeps the habits ruff and mypy hold (pyproject.toml's [tool.ruff] and [tool.mypy]): the
same lint, format and type check CI runs, so a change that breaks them fails here, with the tool's
own report."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
RUFF = Path(sys.executable).with_name("ruff")
MYPY = Path(sys.executable).with_name("mypy")
SOURCES = ["infra", "tests", "bench", "scripts", "policies"]


def ruff(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(RUFF), *args, *SOURCES], cwd=REPO, capture_output=True, text=True, timeout=120)


def test_ruff_lint_passes() -> None:
    result = ruff("check", "--no-cache", "--output-format", "concise")
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_format_is_applied() -> None:
    result = ruff("format", "--no-cache", "--check")
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_passes() -> None:
    """Strict for the stack models, the catalog, the MIG engine and the plan, mypy's default elsewhere
    (``files`` in [tool.mypy]: the package and scripts/); the cache in .mypy_cache keeps reruns short."""
    result = subprocess.run([str(MYPY)], cwd=REPO, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("Success: no issues found in ")
