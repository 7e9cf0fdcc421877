"""``gpufleet check`` output: text grouped by pool or tier and resource, stable JSON, SARIF 2.1.0."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import groupby
from typing import Any

from gpufleet.findings import RULES, Finding
from gpufleet.names import urn_name, urn_type
from gpufleet.policy.check import StackCheck
from gpufleet.policy.results import PolicyFinding

SARIF_SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
SARIF_LEVEL = {"error": "error", "warning": "warning", "info": "note"}
TOOL_URI = "https://github.com/gpufleet/gpufleet"


def _label(finding: Finding) -> str:
    return "mandatory" if finding.severity == "error" else "advisory"


Styled = tuple[str, str | None]
"""A line of the text report and how bad what it says is: ``mandatory``, ``advisory``, ``clean`` or None."""


def text_lines(checks: Sequence[StackCheck]) -> list[Styled]:
    lines: list[Styled] = []
    for check in checks:
        verdict = "mandatory" if check.mandatory else "advisory" if check.advisory else "clean"
        lines.append(
            (
                f"{check.file}: {check.mandatory} mandatory, {check.advisory} advisory violation(s)"
                + (f" of {len(check.run.policies)} policies" if check.run else "")
                + (f"; {len(check.warnings)} warning(s) from validate" if check.warnings else ""),
                verdict,
            )
        )
        for finding in check.invalid:
            lines.append((f"  {finding}", "mandatory"))
        for finding in check.warnings:
            lines.append((f"  validate {finding.rule_id}: {finding}", "advisory"))
        for owner, grouped in groupby(sorted(check.findings, key=_owner_order), key=lambda f: f.owner):
            group = list(grouped)
            lines.append((f"  {owner} ({group[0].owner_location or group[0].finding.location})", None))
            for resource, items in groupby(group, key=lambda f: f.resource):
                lines.append((f"    {_resource_words(resource)}", None))
                for item in items:
                    label = _label(item.finding)
                    lines.append((f"      {label} {item.finding.rule_id} {item.policy}: {item.finding.message}", label))
        for feed in check.feeds:
            lines.append(
                (
                    f"  feed: pool {feed.pool} <- {feed.tier}: {feed.tier_supply_mbs:,.0f} MB/s from its disks for "
                    f"{feed.tier_demand_mbs:,.0f} MB/s ({feed.gpus} GPUs x {feed.need_mbs_per_gpu:g} MB/s of this pool), "
                    f"ratio {feed.ratio:.2f}",
                    None,
                )
            )
    total = sum(check.mandatory for check in checks)
    lines.append((f"{total} mandatory violation(s) in {len(checks)} stack(s)", "mandatory" if total else "clean"))
    return lines


def _owner_order(finding: PolicyFinding) -> tuple[int, int, str, str, int]:
    owned = finding.owner_location or finding.finding.location
    line, column = (owned.line, owned.column) if owned else (0, 0)
    return (line, column, finding.owner, finding.resource or "", finding.finding.line)


def _resource_words(urn: str | None) -> str:
    if not urn:
        return "(the stack)"
    return f"{urn_type(urn)} {urn_name(urn)}"


def json_report(checks: Sequence[StackCheck]) -> dict[str, Any]:
    return {
        "stacks": [
            {
                "stack": check.stack,
                "file": check.file,
                "mandatory": check.mandatory,
                "advisory": check.advisory,
                "policies": len(check.run.policies) if check.run else 0,
                "problems": [finding.as_json() for finding in check.invalid],
                "warnings": [finding.as_json() for finding in check.warnings],
                "violations": [finding.as_json() for finding in check.findings],
                "feeds": [
                    {
                        "pool": f.pool,
                        "tier": f.tier,
                        "gpus": f.gpus,
                        "need_mbs_per_gpu": f.need_mbs_per_gpu,
                        "supply_mbs": f.tier_supply_mbs,
                        "demand_mbs": f.tier_demand_mbs,
                        "ratio": round(f.ratio, 4),
                    }
                    for f in check.feeds
                ],
            }
            for check in checks
        ]
    }


def sarif_report(checks: Sequence[StackCheck], version: str) -> dict[str, Any]:
    """One run of one tool; every result points at the stack-file line of its pool or tier."""
    rules: dict[str, dict[str, Any]] = {}
    results: list[dict[str, Any]] = []
    for check in checks:
        policies = {policy.name: policy for policy in check.run.policies} if check.run else {}
        for finding in (*check.invalid, *check.warnings):
            rules.setdefault(finding.rule_id, _declared_rule(finding.rule_id))
            results.append(_result(finding, None))
        for item in check.findings:
            policy = policies.get(item.policy)
            if item.finding.rule_id not in rules:
                rules[item.finding.rule_id] = (
                    _policy_rule(item.finding.rule_id, policy)
                    if policy and not item.finding.rule_id.startswith("GF-POL-")
                    else _declared_rule(item.finding.rule_id)
                )
            results.append(_result(item.finding, item))
    return _sarif_log(rules, results, version)


def findings_sarif(findings: Sequence[Finding], version: str) -> dict[str, Any]:
    """SARIF 2.1.0 for findings of gpufleet's own declared rules (``diff --impact``)."""
    rules = {finding.rule_id: _declared_rule(finding.rule_id) for finding in findings}
    return _sarif_log(rules, [_result(finding, None) for finding in findings], version)


def _sarif_log(rules: dict[str, dict[str, Any]], results: list[dict[str, Any]], version: str) -> dict[str, Any]:
    ordered = sorted(rules)
    for result in results:
        result["ruleIndex"] = ordered.index(result["ruleId"])
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "gpufleet",
                        "version": version,
                        "informationUri": TOOL_URI,
                        "rules": [rules[rule] for rule in ordered],
                    }
                },
                "columnKind": "unicodeCodePoints",
                "results": results,
            }
        ],
    }


def _declared_rule(rule_id: str) -> dict[str, Any]:
    rule = RULES.get(rule_id)
    summary = rule.summary if rule else rule_id
    entry: dict[str, Any] = {"id": rule_id, "shortDescription": {"text": summary}}
    if rule and rule.fix:
        entry["help"] = {"text": rule.fix}
    if rule:
        entry["defaultConfiguration"] = {"level": SARIF_LEVEL[rule.severity]}
    return entry


def _policy_rule(rule_id: str, policy: Any) -> dict[str, Any]:
    level = {"mandatory": "error", "advisory": "warning", "disabled": "none", "remediate": "error"}[policy.enforcement]
    entry: dict[str, Any] = {
        "id": rule_id,
        "name": policy.name,
        "shortDescription": {"text": policy.description},
        "defaultConfiguration": {"level": level},
        "properties": {"tags": list(policy.tags)},
    }
    if policy.remediation:
        entry["help"] = {"text": policy.remediation}
    return entry


def _result(finding: Finding, item: PolicyFinding | None) -> dict[str, Any]:
    location: dict[str, Any] = {
        "physicalLocation": {
            "artifactLocation": {"uri": finding.file or ""},
            "region": {"startLine": max(finding.line, 1), "startColumn": max(finding.column, 1)},
        }
    }
    if item is not None and item.resource:
        location["logicalLocations"] = [{"fullyQualifiedName": item.resource, "kind": "resource"}]
    result: dict[str, Any] = {
        "ruleId": finding.rule_id,
        "level": SARIF_LEVEL[finding.severity],
        "message": {"text": f"{finding.field}: {finding.message}" if finding.path else finding.message},
        "locations": [location],
    }
    if item is not None:
        result["properties"] = {"policy": item.policy, "enforcement": item.enforcement, "owner": item.owner}
    return result
