"""The code keeps the habits ruff holds (pyproject.toml's [tool.ruff]): the same lint and format
CI runs, so a change that breaks them fails here, with ruff's own report."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
RUFF = Path(sys.executable).with_name("ruff")
SOURCES = ["infra", "tests", "bench", "scripts", "policies"]


def ruff(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(RUFF), *args, *SOURCES], cwd=REPO, capture_output=True, text=True, timeout=120)


def test_ruff_lint_passes() -> None:
    result = ruff("check", "--no-cache", "--output-format", "concise")
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_format_is_applied() -> None:
    result = ruff("format", "--no-cache", "--check")
    assert result.returncode == 0, result.stdout + result.stderr
