"""``gpufleet schema``: the stack file's JSON Schema."""

from __future__ import annotations

from gpufleet.commands.console import print_json

NAME = "schema"


def command() -> None:
    """Print the stack file's JSON Schema (for editors' YAML language servers).

    Example: gpufleet schema > stack.schema.json
    """
    from gpufleet.stack.schema import stack_json_schema

    print_json(stack_json_schema())
