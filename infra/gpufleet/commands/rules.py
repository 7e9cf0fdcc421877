"""``gpufleet rules``: every rule gpufleet checks a stack against, with its id and severity, and
every policy ``gpufleet check`` runs, with its id and default level."""

from __future__ import annotations

from gpufleet.commands.console import JsonFlag, new_table, out, print_json
from gpufleet.findings import RULES

NAME = "rules"


def command(as_json: JsonFlag = False) -> None:
    """List every rule and policy: stable id, severity or default level, what it checks, the fix.

    Example: gpufleet rules --json
    """
    import gpufleet.model.rules
    import gpufleet.stack.loader  # noqa: F401  (declares the schema rules)
    from gpufleet.policy.pack import policy_definitions  # declares the check's own rules too

    policies = sorted(policy_definitions(), key=lambda policy: policy.rule_id)
    rules = [RULES[rule_id] for rule_id in sorted(RULES)]
    if as_json:
        print_json(
            {
                "rules": [{"id": r.id, "severity": r.severity, "description": r.summary, "fix": r.fix} for r in rules],
                "policies": [policy.as_json() for policy in policies],
            }
        )
        return
    table = new_table("id", "severity", "checks", "fix", title=f"{len(rules)} rules (gpufleet validate)")
    for rule in rules:
        table.add_row(rule.id, rule.severity, rule.summary, rule.fix)
    out.print(table)
    table = new_table(
        "id",
        "policy",
        "default",
        "checks",
        "fix",
        title=f"{len(policies)} policies (gpufleet check; levels and thresholds per stack with --policy-config)",
    )
    for policy in policies:
        table.add_row(policy.rule_id, policy.name, policy.enforcement, policy.description, policy.fix)
    out.print(table)
