"""The one place gpufleet's errors become exit codes: 0 ok, 1 invalid or infeasible, 2 usage."""

from __future__ import annotations

import functools
import signal
from collections.abc import Callable
from typing import Any

import typer

from gpufleet.commands.console import err, print_findings
from gpufleet.errors import GpufleetError
from gpufleet.inputs import InputInvalid


def guarded(command: Callable[..., Any]) -> Callable[..., Any]:
    """Turn gpufleet's own errors into their exit codes; anything else is a bug and shows."""

    @functools.wraps(command)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except InputInvalid as invalid:
            print_findings(invalid.findings)
            raise typer.Exit(invalid.exit_code) from None
        except GpufleetError as error:
            err.print(f"gpufleet: {error}")
            raise typer.Exit(error.exit_code) from None
        except KeyboardInterrupt:  # Ctrl-C outside a writer: nothing was being written
            err.print("gpufleet: interrupted by SIGINT")
            raise typer.Exit(128 + signal.SIGINT) from None

    return run
