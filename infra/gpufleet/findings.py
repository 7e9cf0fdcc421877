"""One type for everything gpufleet reports about a stack, and the registry of rules that report.

Schema errors from the loader, semantic rules of the model and (later) policies all produce a
``Finding``: a stable rule id, a severity, the field path, where it was written, what is wrong
and how to fix it. Every rule is declared once in ``RULES`` so ``gpufleet rules`` can list it.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Literal

Severity = Literal["error", "warning", "info"]
SEVERITY_ORDER: dict[str, int] = {"error": 0, "warning": 1, "info": 2}
PathPart = str | int


@dataclass(frozen=True)
class Location:
    file: str
    line: int
    column: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


@dataclass(frozen=True)
class Rule:
    """A check with a stable id: what it guards, how bad a violation is, and the usual fix."""

    id: str
    severity: Severity
    summary: str
    fix: str = ""

    def finding(self, path: tuple[PathPart, ...], message: str, *, at_key: bool = False, fix: str | None = None) -> Finding:
        return Finding(self.id, self.severity, path, message, self.fix if fix is None else fix, at_key=at_key)


@dataclass(frozen=True)
class Finding:
    """``at_key`` points at the key rather than its value (an unknown field is the key's fault)."""

    rule_id: str
    severity: Severity
    path: tuple[PathPart, ...]
    message: str
    fix: str = ""
    location: Location | None = None
    at_key: bool = False

    @property
    def field(self) -> str:
        return ".".join(str(part) for part in self.path)

    @property
    def file(self) -> str | None:
        return self.location.file if self.location else None

    @property
    def line(self) -> int:
        return self.location.line if self.location else 0

    @property
    def column(self) -> int:
        return self.location.column if self.location else 0

    def located(self, location: Location) -> Finding:
        return replace(self, location=location)

    def __str__(self) -> str:
        where = f"{self.location}: " if self.location else ""
        label = "" if self.severity == "error" else f"{self.severity}: "
        field = f"{self.field}: " if self.path else ""
        return f"{where}{label}{field}{self.message}"

    def as_json(self) -> dict[str, object]:
        return {
            "rule": self.rule_id,
            "severity": self.severity,
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "field": self.field,
            "message": self.message,
            "fix": self.fix,
        }


RULES: dict[str, Rule] = {}


def declare(rule_id: str, severity: Severity, summary: str, fix: str = "") -> Rule:
    """Add a rule to the registry; ids are stable and unique."""
    if rule_id in RULES:
        raise ValueError(f"rule {rule_id} is declared twice")
    RULES[rule_id] = Rule(rule_id, severity, summary, fix)
    return RULES[rule_id]


def sort_findings(findings: list[Finding]) -> list[Finding]:
    return sorted(findings, key=lambda f: (f.file or "", f.line, f.column, SEVERITY_ORDER[f.severity], f.message))


def errors_in(findings: list[Finding] | tuple[Finding, ...]) -> list[Finding]:
    return [finding for finding in findings if finding.severity == "error"]


def closest_name(name: str, choices: Iterable[str], cutoff: float = 0.6) -> str | None:
    """The "did you mean" every unknown-name message offers, from one place."""
    matches = difflib.get_close_matches(name, list(choices), n=1, cutoff=cutoff)
    return matches[0] if matches else None
