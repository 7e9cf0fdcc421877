"""How a semantic rule is declared: a check over the stack view with a stable id and severity.

A check yields ``(path, message)`` pairs; the registry turns them into findings carrying the
rule's id, severity and fix. Checks never decide anything: they ask the decisions.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from gpufleet.findings import Finding, Location, PathPart, Rule, Severity, closest_name, declare
from gpufleet.model.view import StackView

if TYPE_CHECKING:
    from gpufleet.model.plan import FleetPlan

Problem = tuple[tuple[PathPart, ...], str]
"""Where (the field's path) and what: a check's answer, located and made a finding by the registry."""
LocatedProblem = tuple[tuple[PathPart, ...], str, Location]
"""The same about another file read with the stack (its subnet record), located there already."""
Problems = Iterable[Problem | LocatedProblem]
Check = Callable[[StackView], Problems]


@dataclass(frozen=True)
class SemanticRule:
    rule: Rule
    check: Check

    def run(self, view: StackView) -> list[Finding]:
        findings = []
        for path, message, *elsewhere in self.check(view):
            finding = self.rule.finding(path, message)
            findings.append(finding.located(elsewhere[0]) if elsewhere else finding)
        return findings


SEMANTIC_RULES: list[SemanticRule] = []


def rule(rule_id: str, severity: Severity, summary: str, fix: str = "") -> Callable[[Check], Check]:
    def register(check: Check) -> Check:
        SEMANTIC_RULES.append(SemanticRule(declare(rule_id, severity, summary, fix), check))
        return check

    return register


PlanCheck = Callable[["FleetPlan"], Iterable[Problem]]


@dataclass(frozen=True)
class PlanRule:
    """A check of what the decisions made (the Kubernetes objects the plan holds), run once the
    stack rules passed and the plan exists; still located at the stack's fields."""

    rule: Rule
    check: PlanCheck

    def run(self, plan: FleetPlan) -> list[Finding]:
        return [self.rule.finding(path, message) for path, message in self.check(plan)]


PLAN_RULES: list[PlanRule] = []


def plan_rule(rule_id: str, severity: Severity, summary: str, fix: str = "") -> Callable[[PlanCheck], PlanCheck]:
    def register(check: PlanCheck) -> PlanCheck:
        PLAN_RULES.append(PlanRule(declare(rule_id, severity, summary, fix), check))
        return check

    return register


def unknown(what: str, name: str, known: Collection[str]) -> str:
    """An unknown-name message with the catalog's one "did you mean" helper."""
    guess = closest_name(name, known)
    if guess:
        return f"unknown {what} '{name}' (did you mean '{guess}'?)"
    if not known:
        return f"unknown {what} '{name}' (the stack defines none)"
    listed = ", ".join(sorted(known)) if len(known) <= 12 else None
    return f"unknown {what} '{name}'" + (f" (known: {listed})" if listed else "")


def duplicates(path: tuple[PathPart, ...], names: list[str], what: str) -> Iterable[Problem]:
    seen: set[str] = set()
    for index, name in enumerate(names):
        if name in seen:
            yield (*path, index, "name"), f"{what} '{name}' is listed twice"
        seen.add(name)


def sentence(text: str) -> str:
    """MIG engine messages are full sentences; embedded in ours they lose the final stop."""
    return text.rstrip(". ")
