"""Reading ``dcgmi diag`` output, as the table it prints or as its ``-j`` JSON.

DCGM 3.x keys the JSON ``DCGM GPU Diagnostic`` and puts a status per GPU in ``results``;
4.x keys it ``DCGM Diagnostic`` and adds a per-test ``test_summary``. The table prints
``Pass``/``Fail``/``Warn``/``Skip`` per test, with ``Fail - GPU: 0`` or ``GPU0: Fail`` lines
naming the GPUs.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

STATUSES = ("pass", "fail", "warn", "skip")
_ROW = re.compile(r"^\|\s*(?P<name>[^|]*?)\s*\|\s*(?P<result>[^|]*?)\s*\|$")
_CATEGORY = re.compile(r"^[|+]-+\s+(?P<name>[A-Za-z ]+?)\s+-+\+")


@dataclass(frozen=True)
class DiagTest:
    category: str
    name: str
    status: str
    """pass, fail, warn or skip: the worst any GPU reported for the test."""


@dataclass(frozen=True)
class DcgmReport:
    version: str | None
    tests: tuple[DiagTest, ...]

    @property
    def failed(self) -> tuple[DiagTest, ...]:
        return tuple(test for test in self.tests if test.status == "fail")

    @property
    def passed(self) -> bool:
        """At least one test passed and none failed: a report of skips alone proves nothing."""
        return any(test.status == "pass" for test in self.tests) and not self.failed


class DcgmUnreadable(ValueError):
    """The output is neither dcgmi's table nor its JSON: the diagnostic did not run to the end."""


def parse_dcgm(text: str) -> DcgmReport:
    stripped = text.strip()
    if stripped.startswith("{"):
        return _from_json(stripped)
    return _from_table(stripped)


def _worst(statuses: list[str]) -> str:
    known = [status for status in statuses if status in STATUSES]
    for status in ("fail", "warn", "pass", "skip"):
        if status in known:
            return status
    raise DcgmUnreadable(f"no known status among {statuses}")


def _from_json(text: str) -> DcgmReport:
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise DcgmUnreadable(f"dcgmi JSON does not parse: {error.msg} at line {error.lineno}") from None
    root = document.get("DCGM Diagnostic") or document.get("DCGM GPU Diagnostic")
    if not isinstance(root, dict):
        raise DcgmUnreadable("no 'DCGM Diagnostic' (4.x) or 'DCGM GPU Diagnostic' (3.x) object")
    tests = []
    for category in root.get("test_categories", []):
        for test in category.get("tests", []):
            summary = (test.get("test_summary") or {}).get("status")
            statuses = [str(result.get("status", "")).lower() for result in test.get("results", [])]
            if summary:
                statuses.append(str(summary).lower())
            tests.append(DiagTest(category.get("category", ""), test.get("name", ""), _worst(statuses)))
    version = (document.get("metadata") or {}).get("version") or root.get("version")
    return DcgmReport(version, tuple(tests))


def _from_table(text: str) -> DcgmReport:
    tests: list[DiagTest] = []
    version = None
    category = ""
    current: tuple[str, list[str]] | None = None

    def close() -> None:
        if current is not None:
            tests.append(DiagTest(category, current[0], _worst(current[1])))

    for line in text.splitlines():
        line = line.strip()
        if (heading := _CATEGORY.match(line)) is not None:
            close()
            current, category = None, heading["name"].strip()
            continue
        row = _ROW.match(line)
        if row is None:
            continue
        name, result = row["name"], row["result"]
        if name == "DCGM Version":
            version = result
            continue
        if category in ("", "Metadata") or name == "Diagnostic":
            continue
        if name in ("Info", "Warning"):  # messages about the test above, and their wrapped lines
            close()
            current = None
            continue
        status = _status(result)
        if name:
            close()
            current = (name, [status] if status else [])
        elif current is not None and status:
            current[1].append(status)
    close()
    if not tests:
        raise DcgmUnreadable("no test rows in dcgmi's table")
    return DcgmReport(version, tuple(tests))


def _status(cell: str) -> str | None:
    """``Pass``, ``Fail - GPU: 0``, ``GPU0: Fail``: the status word, wherever it stands."""
    for word in re.findall(r"[A-Za-z]+", cell):
        if word.lower() in STATUSES:
            return word.lower()
    return None
