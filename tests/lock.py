"""The locked versions: ``requirements/dev.txt`` is what CI and the README install from."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

DEV_LOCK = Path(__file__).resolve().parent.parent / "requirements" / "dev.txt"
PIN = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)==(?P<version>\S+?)\s*(?:\\|$)", re.MULTILINE)


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


@cache
def locked_versions() -> dict[str, str]:
    return {_normalise(match["name"]): match["version"] for match in PIN.finditer(DEV_LOCK.read_text(encoding="utf-8"))}


def locked_version(distribution: str) -> str:
    return locked_versions()[_normalise(distribution)]
