"""Terminal output shared by every ``gpufleet`` command."""

from __future__ import annotations

import enum
import json
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, Literal, TypeVar

import typer

if TYPE_CHECKING:
    from rich.table import Table

# Rows a human table shows before it summarises the rest: about a screenful. Rendering
# thousands of rows cost more than the work they describe; --json always lists every row.
TABLE_ROWS = 50

Row = TypeVar("Row")


class _Console:
    """A Rich console made on first use: ``--json`` output and a clean ``validate`` never need Rich
    (importing it is about a tenth of a short command's time)."""

    def __init__(self, **options: Any) -> None:
        self._options = options
        self._console: Any = None

    def __getattr__(self, name: str) -> Any:
        if self._console is None:
            from rich.console import Console

            options = {key: value() if callable(value) else value for key, value in self._options.items()}
            self._console = Console(**options)
        return getattr(self._console, name)


# Tables keep full names when piped (rich would squeeze them to 80 columns).
out = _Console(highlight=False, width=lambda: None if sys.stdout.isatty() else 160)
err = _Console(stderr=True, soft_wrap=True, highlight=False, markup=False)

JsonFlag = Annotated[bool, typer.Option("--json", help="Stable, machine-readable JSON on stdout.")]


class Format(enum.StrEnum):
    text = "text"
    json = "json"
    markdown = "markdown"


FormatOption = Annotated[
    Format,
    typer.Option(
        "--format", help="text (tables), json (as --json) or markdown (for $GITHUB_STEP_SUMMARY or a pull-request comment)."
    ),
]


def new_table(*columns: str, **options: Any) -> Table:
    """A Rich table, importing Rich only when a command draws one."""
    from rich.table import Table

    return Table(*columns, **options)


WideFlag = Annotated[bool, typer.Option("--wide", help="Show every column, however wide the table gets.")]


@dataclass(frozen=True)
class Column:
    """A table column and when it gives way: ``drop`` ranks the columns a narrow terminal leaves
    out (1 first); None keeps the column at any width."""

    title: str
    drop: int | None = None
    justify: Literal["left", "right"] = "left"


def _cell_width(text: str) -> int:
    return max((len(line) for line in text.split("\n")), default=0)


def fitted_table(
    columns: Sequence[Column], rows: Sequence[Sequence[str]], *, width: int | None, wide: bool = False, **options: Any
) -> Table:
    """A table that fits ``width`` columns of terminal by leaving out whole columns in their
    ``drop`` order until it fits (then taking back, most important first, any left out that fits
    again), and saying which; never by cutting every cell short. ``wide`` keeps them all.
    Multi-line cells count their longest line: they wrap by design."""
    natural = [max([_cell_width(column.title), *(_cell_width(row[i]) for row in rows)]) for i, column in enumerate(columns)]
    kept = list(range(len(columns)))

    def table_width() -> int:
        return sum(natural[i] + 3 for i in kept) + 1  # padding and a rule per column, and the last rule

    dropped: list[str] = []
    order = sorted((column.drop, i) for i, column in enumerate(columns) if column.drop is not None)
    if not wide and width is not None:
        for _, index in order:
            if table_width() <= width:
                break
            kept.remove(index)
        for _, index in reversed(order):  # a narrower column left out before a wide one may fit again
            if index not in kept and table_width() + natural[index] + 3 <= width:
                kept = sorted([*kept, index])
        dropped = [columns[index].title for _, index in order if index not in kept]
    table = new_table(**options)
    if wide:
        table.min_width = table_width()
    for index in kept:
        table.add_column(columns[index].title, justify=columns[index].justify, no_wrap=True, min_width=natural[index])
    for row in rows:
        table.add_row(*(row[index] for index in kept))
    if dropped:
        at = f"at {width} columns" if width else ""
        table.caption = f"left out {at}: {', '.join(dropped)} (--wide shows all; --json has every field)"
    return table


SEVERITY_STYLES = {"mandatory": "bold red", "error": "bold red", "advisory": "yellow", "warning": "yellow", "clean": "green"}
"""Colour by severity. Rich leaves colour out when the output is not a terminal, and when
``NO_COLOR`` is set (no-color.org)."""


def print_styled(lines: Iterable[tuple[str, str | None]]) -> None:
    """Text lines on stdout, each in its severity's colour where colour is wanted, unwrapped."""
    for line, severity in lines:
        out.print(line, style=SEVERITY_STYLES.get(severity or ""), markup=False, highlight=False, soft_wrap=True)


@contextmanager
def progress(wanted: bool) -> Iterator[Callable[[str], None] | None]:
    """A one-line status on stderr while a long run works, shown only on a terminal and only when
    ``wanted`` (never beside ``--json``); yields the function that updates it, or None."""
    if not wanted or not err.is_terminal:
        yield None
        return
    with err.status("working") as status:
        yield status.update


def print_table(table: Table, *, wide: bool = False) -> None:
    """``--wide``: the table at its own full width (``fitted_table`` sets it as the table's
    ``min_width``), past the terminal's edge, never squeezed."""
    if not wide or not table.min_width or table.min_width <= out.width:
        out.print(table)
        return
    from rich.console import Console

    Console(width=table.min_width, highlight=False).print(table, crop=False)


def shown_rows(table: Table, rows: Sequence[Row], what: str) -> Sequence[Row]:
    """The first ``TABLE_ROWS`` of ``rows``; the table's caption counts the ones left out."""
    if len(rows) <= TABLE_ROWS:
        return rows
    table.caption = f"{len(rows) - TABLE_ROWS} more {what} not shown; --json lists them all"
    return rows[:TABLE_ROWS]


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, sort_keys=True) + "\n")


def print_findings(findings) -> None:
    for finding in findings:
        err.print(str(finding))
