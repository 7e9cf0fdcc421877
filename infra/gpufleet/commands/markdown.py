"""``--format markdown``: a compact report for ``$GITHUB_STEP_SUMMARY`` or a pull-request comment.

GitHub renders Markdown tables and a fenced ``mermaid`` block as a diagram. Each verb composes
the same pieces: the fleet (a Mermaid diagram of the scene the SVG draws, and the pool table),
what changed (one row per difference, with an impact column when the differences carry one),
and policy results, each linking to its stack-file line. Links point into the repository on
GitHub when the run is in GitHub Actions (``GITHUB_SERVER_URL``, ``GITHUB_REPOSITORY``,
``GITHUB_SHA``), else they are relative to the repository root.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from gpufleet.picture import Scene, render_mermaid

if TYPE_CHECKING:
    from gpufleet.findings import Finding, Location
    from gpufleet.model.diff import Difference
    from gpufleet.policy.check import StackCheck

POOL_COLUMNS = ("pool", "workload", "GPUs per node", "nodes", "GPUs at max", "capacity", "cost at max")
SEVERITY = {"error": "🛑 mandatory", "warning": "⚠️ advisory", "info": "ℹ️ note"}
CHANGE = {"added": "➕", "removed": "➖", "changed": "✏️"}


def cell(value: object) -> str:
    """A table cell: pipes escaped, lines joined, never empty."""
    text = str(value).replace("\\", "\\\\").replace("|", "\\|").replace("\n", "<br>")
    return text or "—"


def table(header: Sequence[str], rows: Iterable[Sequence[object]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    lines += ["| " + " | ".join(cell(value) for value in row) + " |" for row in rows]
    return lines


def line_link(file: str | None, line: int) -> str:
    """``file:line`` as a link to that line: on GitHub in Actions, else relative to the repository."""
    if not file:
        return "the stack"
    server, repository, sha = (os.environ.get(name, "") for name in ("GITHUB_SERVER_URL", "GITHUB_REPOSITORY", "GITHUB_SHA"))
    target = f"{server}/{repository}/blob/{sha}/{file}" if server and repository and sha else file
    anchor = f"#L{line}" if line > 0 else ""
    return f"[{file}:{line}]({target}{anchor})" if line > 0 else f"[{file}]({target})"


def location_link(location: Location | None) -> str:
    return line_link(location.file, location.line) if location else "—"


def fleet(scene: Scene) -> list[str]:
    """The fleet as a Mermaid diagram, then its pool table."""
    return ["```mermaid", *render_mermaid(scene).splitlines(), "```", "", *pool_table(scene)]


def pool_table(scene: Scene) -> list[str]:
    rows = [
        (
            card.name,
            card.workload,
            f"{card.gpus_per_node} × {card.gpu}" if card.gpu else "—",
            f"{card.nodes_min}-{card.nodes_max}",
            card.gpus_max if card.gpu else "—",
            card.capacity,
            card.cost,
        )
        for card in scene.pools
    ]
    return [*table(POOL_COLUMNS, rows), "", f"**Fleet:** {scene.totals}"]


def findings_table(findings: Sequence[Finding]) -> list[str]:
    rows = [
        (
            SEVERITY[finding.severity],
            f"`{finding.rule_id}`",
            line_link(finding.file, finding.line),
            finding.field,
            finding.message,
        )
        for finding in findings
    ]
    return table(("", "rule", "where", "field", "what"), rows)


def changes(differences: Sequence[Difference], left: str, right: str, impacts: Sequence[str | None] = ()) -> list[str]:
    """One row per difference. ``impacts``: the impact class of each difference, in order; the
    column shows only when some difference has one."""
    from gpufleet.model.facts import shown

    if not differences:
        return [f"No differences: `{left}` and `{right}` resolve to the same plan."]
    classes = list(impacts) or [None] * len(differences)
    header = ["", "what", left, right, "where"]
    with_impact = any(classes)
    if with_impact:
        header.append("impact")
    rows = []
    for difference, impact in zip(differences, classes, strict=True):
        what = " · ".join(part for part in (f"{difference.scope} {difference.name}".strip(), difference.field) if part)
        where = location_link(difference.right_location or difference.left_location)
        row: list[object] = [
            CHANGE[difference.kind],
            f"`{what}`",
            _brief(shown(difference.left)) if difference.left is not None else "—",
            _brief(shown(difference.right)) if difference.right is not None else "—",
            where,
        ]
        if with_impact:
            row.append(impact or "—")
        rows.append(row)
    return [f"{len(differences)} difference(s):", "", *table(header, rows)]


def _brief(text: str, limit: int = 160) -> str:
    """A value short enough for a table cell; ``--json`` has it whole."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def details(summary: str, lines: Sequence[str]) -> list[str]:
    """A collapsed block (GitHub renders ``<details>``); blank lines keep the Markdown inside it."""
    return ["<details>", f"<summary>{summary}</summary>", "", *lines, "", "</details>"]


def check_report(checks: Sequence[StackCheck], scenes: dict[str, Scene]) -> str:
    """``gpufleet check --format markdown``: per stack its verdict, its policy results linked to
    their lines, its feeds, and its fleet folded away."""
    total = sum(check.mandatory for check in checks)
    verdict = "✅ no mandatory violation" if not total else f"🛑 {total} mandatory violation(s)"
    lines = [f"## gpufleet check: {verdict} in {len(checks)} stack(s)", ""]
    for check in checks:
        policies = f" of {len(check.run.policies)} policies" if check.run else ""
        lines += [f"### `{check.file}`: {check.mandatory} mandatory, {check.advisory} advisory{policies}", ""]
        if check.invalid:
            lines += [*findings_table(check.invalid), ""]
        if check.findings:
            results = [
                (
                    SEVERITY[item.finding.severity],
                    f"`{item.finding.rule_id}`",
                    item.policy,
                    line_link(item.finding.file, item.finding.line),
                    item.owner,
                    item.finding.message,
                )
                for item in check.findings
            ]
            lines += [*table(("", "rule", "policy", "where", "owner", "what"), results), ""]
        elif not check.invalid:
            lines += ["No policy violation.", ""]
        if check.feeds:
            feeds = [
                (
                    feed.pool,
                    feed.tier,
                    f"{feed.supply_mbs_per_gpu:,.0f} MB/s",
                    f"{feed.need_mbs_per_gpu:,.0f} MB/s",
                    f"{feed.ratio:.2f}",
                )
                for feed in check.feeds
            ]
            lines += [*table(("pool", "hot tier", "per GPU", "needs per GPU", "ratio"), feeds), ""]
        scene = scenes.get(check.file)
        if scene is not None:
            lines += [*details(f"The fleet of {check.file}", fleet(scene)), ""]
    return "\n".join(lines).rstrip("\n") + "\n"


def preview_report(scene: Scene, resources: int, findings: Sequence[Finding]) -> str:
    """``gpufleet preview --format markdown``: the fleet, its pools, and the plan's warnings."""
    lines = [f"## gpufleet preview: `{scene.source}` ({scene.cluster})", "", f"{resources} resources would be created.", ""]
    lines += fleet(scene)
    if findings:
        lines += ["", *findings_table(findings)]
    return "\n".join(lines) + "\n"


def diff_report(
    differences: Sequence[Difference], left: str, right: str, scene: Scene, impacts: Sequence[str | None] = ()
) -> str:
    """``gpufleet diff --format markdown``: what changed from ``left`` to ``right``, then (if anything did) the right side's fleet."""
    lines = [f"## gpufleet diff: `{left}` → `{right}`", "", *changes(differences, left, right, impacts)]
    if differences:
        lines += ["", *details(f"The fleet of {right}", fleet(scene))]
    return "\n".join(lines) + "\n"
