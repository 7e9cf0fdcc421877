"""Reading rendered PromQL with an independent parser (promql-parser, the Rust prometheus-parser's
Python binding): which metrics an expression selects, and which pools its matchers name."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import promql_parser


@dataclass(frozen=True)
class Selection:
    metric: str
    matchers: dict[str, tuple[str, str]]
    """Label -> (operator, value) of each matcher; the last wins where a label repeats."""


def selections(expr: str) -> list[Selection]:
    """Every vector selector of ``expr``; a parse error raises (an expression Prometheus refuses)."""
    return list(_walk(promql_parser.parse(expr)))


def _walk(node: object) -> Iterator[Selection]:
    kind = type(node).__name__
    if kind == "VectorSelector":
        matchers = {m.name: (str(m.op), m.value) for m in node.matchers.matchers if m.name != "__name__"}  # type: ignore[attr-defined]
        yield Selection(node.name, matchers)  # type: ignore[attr-defined]
        return
    for attribute in ("lhs", "rhs", "expr", "vector_selector", "param"):
        child = getattr(node, attribute, None)
        if child is not None and not isinstance(child, (str, int, float)):
            yield from _walk(child)
    for argument in getattr(node, "args", None) or ():
        yield from _walk(argument)


def pool_sets(expr: str, record: str) -> list[set[str]]:
    """The pool regexes (``pool=~"a|b"``) on the selections of the recording rule ``record``."""
    found = []
    for selection in selections(expr):
        if selection.metric == record and "pool" in selection.matchers:
            found.append(set(selection.matchers["pool"][1].split("|")))
    return found
