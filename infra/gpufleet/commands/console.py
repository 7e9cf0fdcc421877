"""Terminal output shared by every ``gpufleet`` command."""

from __future__ import annotations

import json
import sys
from typing import Annotated, Any

import typer
from rich.console import Console

# Tables keep full names when piped (rich would squeeze them to 80 columns).
out = Console(highlight=False, width=None if sys.stdout.isatty() else 160)
err = Console(stderr=True, soft_wrap=True, highlight=False, markup=False)

JsonFlag = Annotated[bool, typer.Option("--json", help="Stable, machine-readable JSON on stdout.")]


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, sort_keys=True) + "\n")


def print_findings(findings) -> None:
    for finding in findings:
        err.print(str(finding))
