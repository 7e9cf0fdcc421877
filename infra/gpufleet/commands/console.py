"""Terminal output shared by every ``gpufleet`` command."""

from __future__ import annotations

import enum
import json
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

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
