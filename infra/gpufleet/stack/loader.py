"""Read a stack file into a ``StackSpec``, turning every problem into file:line:column.

The file goes through gpufleet's one input reader and YAML parser (``gpufleet.documents``),
which keep each key's and value's position; those positions are kept in a ``Locator`` so
later stages (the resolved model) can point at the line that caused a problem too.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gpufleet import yamltree
from gpufleet.documents import BAD_NAME, findings_from_validation, parse_document, read_document
from gpufleet.findings import Location, declare
from gpufleet.inputs import InputFileError, InputInvalid, display_path
from gpufleet.names import stack_name_problem
from gpufleet.stack.models import StackSpec
from gpufleet.stack.record import LoadedRecord, load_record
from gpufleet.yamltree import Locator, MapNode

__all__ = [
    "LoadedStack",
    "Locator",
    "StackFileError",
    "StackInvalid",
    "display_path",
    "findings_from_validation",
    "load_stack",
    "load_stack_text",
    "parse_yaml",
]

NOT_A_MAPPING = declare("GF-STACK-001", "error", "The stack file is not a YAML mapping.", "Start from stacks/dev.yaml.")

# The file cannot be read at all (missing, a directory, a FIFO, too big): a usage problem, exit 2.
StackFileError = InputFileError


class StackInvalid(InputInvalid):
    """The stack has errors; ``findings`` holds all of them, located and sorted."""


class StackNameInvalid(StackInvalid):
    """The stack file's name cannot name a stack: the command was pointed at the wrong file (exit 2)."""

    exit_code = 2


@dataclass(frozen=True)
class LoadedStack:
    path: Path
    spec: StackSpec
    locator: Locator
    record: LoadedRecord | None = None
    """The subnet record committed beside the stack file, if it has one yet."""

    @property
    def name(self) -> str:
        return self.path.stem


_STACK: dict[str, Any] = {
    "models": {MapNode: StackSpec},
    "invalid": StackInvalid,
    "root_rule": NOT_A_MAPPING,
    "root_message": "a stack file must be a YAML mapping",
}


def load_stack(path: str | Path) -> LoadedStack:
    """Parse and type-check a stack file; raise ``StackInvalid`` listing every problem."""
    check_stack_name(path)
    document = read_document(path, "stack file", **_STACK)
    return LoadedStack(path=document.path, spec=document.value, locator=document.locator, record=load_record(document.path))


def check_stack_name(path: str | Path) -> None:
    """The file's stem becomes the Pulumi stack name, part of every URN and the record's name:
    it is held to the one name rule before anything reads the file."""
    problem = stack_name_problem(path)
    if problem is not None:
        raise StackNameInvalid([BAD_NAME.finding((), problem).located(Location(display_path(Path(path)), 1, 1))])


def load_stack_text(text: str, path: Path, shown: str) -> LoadedStack:
    """Type-check stack text that is not (yet) a file, e.g. a template's output before it is written."""
    document = parse_document(text, path, shown, **_STACK)
    return LoadedStack(path=document.path, spec=document.value, locator=document.locator)


def parse_yaml(text: str, shown: str) -> Any:
    """YAML other stack-related files hold (template values), parsed like a stack file."""
    return yamltree.parse_yaml(text, shown, StackInvalid)
