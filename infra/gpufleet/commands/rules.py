"""``gpufleet rules``: every rule gpufleet checks a stack against, with its id and severity."""

from __future__ import annotations

from rich.table import Table

from gpufleet.commands.console import JsonFlag, out, print_json
from gpufleet.findings import RULES

NAME = "rules"


def command(as_json: JsonFlag = False) -> None:
    """List every rule: stable id, severity, what it checks and how to fix a violation."""
    import gpufleet.model.rules  # noqa: F401  (declares the semantic rules)
    import gpufleet.stack.loader  # noqa: F401  (declares the schema rules)

    rules = [RULES[rule_id] for rule_id in sorted(RULES)]
    if as_json:
        print_json({"rules": [{"id": r.id, "severity": r.severity, "description": r.summary, "fix": r.fix} for r in rules]})
        return
    table = Table("id", "severity", "checks", "fix", title=f"{len(rules)} rules")
    for rule in rules:
        table.add_row(rule.id, rule.severity, rule.summary, rule.fix)
    out.print(table)
