"""The part of Mermaid's flowchart grammar gpufleet writes, as a checker.

Mermaid's own parser needs a browser (``@mermaid-js/mermaid-cli`` drives Chromium through
puppeteer); the test suite does not install it (see ``tests/data/mermaid/SOURCES.md`` for the run
that did, and the files it refused). This checker accepts only the statements
``gpufleet.picture.mermaid`` emits and refuses what Mermaid refused there.
"""

from __future__ import annotations

import re

ID = r"[a-z][a-z0-9_]*"
LABEL = r'"(?:[^"<>#]|<br/>|#(?:quot|amp|lt|gt|\d+);)*"'
KEYWORDS = {"end", "subgraph", "graph", "flowchart", "class", "classDef", "click", "style", "linkStyle", "default", "direction"}
STATEMENTS = {
    "subgraph": re.compile(rf"subgraph (?P<id>{ID})\[(?P<label>{LABEL})\]"),
    "end": re.compile(r"end"),
    "node": re.compile(rf"(?P<id>{ID})\[(?P<label>{LABEL})\]"),
    "store": re.compile(rf"(?P<id>{ID})\[\((?P<label>{LABEL})\)\]"),
    "edge": re.compile(rf"(?P<source>{ID}) (?:-->|-\.->)\|(?P<label>{LABEL})\| (?P<target>{ID})"),
    "classDef": re.compile(rf"classDef (?P<id>{ID}) (?:[a-z-]+:#?[a-z0-9]+)(?:,[a-z-]+:#?[a-z0-9]+)*"),
    "class": re.compile(rf"class (?P<members>{ID}(?:,{ID})*) (?P<id>{ID})"),
}


def problems(diagram: str) -> list[str]:
    """What keeps ``diagram`` from being a flowchart of this grammar; empty when it is one."""
    lines = diagram.rstrip("\n").split("\n")
    if not lines or lines[0] != "flowchart LR":
        return ["the diagram must start with 'flowchart LR'"]
    found: list[str] = []
    depth = 0
    nodes: set[str] = set()
    subgraphs: set[str] = set()
    classes: set[str] = set()
    for number, raw in enumerate(lines[1:], 2):
        text = raw.strip()
        kind, match = next(((kind, m) for kind, pattern in STATEMENTS.items() if (m := pattern.fullmatch(text))), (None, None))
        if match is None:
            found.append(f"line {number}: not a statement of the grammar: {text!r}")
            continue
        named = match.groupdict().get("id")
        if named in KEYWORDS and kind != "classDef":
            found.append(f"line {number}: {named!r} is a keyword, not an id")
        if kind == "subgraph":
            depth += 1
            if named in nodes | subgraphs:
                found.append(f"line {number}: id {named!r} used twice")
            subgraphs.add(named)
        elif kind == "end":
            depth -= 1
            if depth < 0:
                found.append(f"line {number}: 'end' without an open subgraph")
                depth = 0
        elif kind in ("node", "store"):
            if named in nodes | subgraphs:
                found.append(f"line {number}: id {named!r} used twice")
            nodes.add(named)
        elif kind == "edge":
            for end in (match["source"], match["target"]):
                if end in KEYWORDS or end not in nodes:
                    found.append(f"line {number}: edge to {end!r}, which is no node declared before it")
        elif kind == "classDef":
            classes.add(named)
        elif kind == "class":
            if named not in classes:
                found.append(f"line {number}: class {named!r} has no classDef")
            found += [f"line {number}: class on unknown node {m!r}" for m in match["members"].split(",") if m not in nodes]
    if depth:
        found.append(f"{depth} subgraph(s) never closed by 'end'")
    return found
