"""The errors every layer raises, each with the exit code the CLI maps it to."""

from __future__ import annotations


class GpufleetError(Exception):
    """A failure gpufleet explains itself: printed as one line, no traceback."""

    exit_code = 1


class UsageError(GpufleetError):
    """The command cannot run at all: unreadable input, bad arguments, unwritable output."""

    exit_code = 2
