"""Read a stack file into a ``StackSpec``, turning every problem into file:line:column.

The YAML is parsed with ruamel's round-trip loader because it keeps each key's and value's
position; those positions are kept in a ``Locator`` so later stages (the resolved model) can
point at the line that caused a problem too.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.constructor import DuplicateKeyError
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from gpufleet.errors import GpufleetError, UsageError
from gpufleet.findings import Finding, Location, PathPart, closest_name, declare, sort_findings
from gpufleet.stack.models import NAME_PATTERN, StackSpec

YAML_SYNTAX = declare("GF-YAML-001", "error", "The file is not valid YAML.", "Fix the syntax at the position shown.")
DUPLICATE_KEY = declare("GF-YAML-002", "error", "A key appears twice in one mapping.", "Keep one of them: names must be unique.")
NOT_A_MAPPING = declare("GF-STACK-001", "error", "The stack file is not a YAML mapping.", "Start from stacks/dev.yaml.")
UNKNOWN_FIELD = declare("GF-STACK-002", "error", "A field the stack schema does not have.", "Check the spelling against `gpufleet schema`.")
MISSING_FIELD = declare("GF-STACK-003", "error", "A required field is missing.", "Add the field.")
BAD_VALUE = declare("GF-STACK-004", "error", "A value of the wrong type, outside its range or not one of the allowed values.", "Use a value of the type and range the message names.")
BAD_NAME = declare("GF-STACK-005", "error", "A name that cannot become part of AWS and Kubernetes names.", "Use lowercase letters, digits and '-', starting with a letter.")


class StackFileError(UsageError):
    """The file cannot be read at all (missing, a directory): a usage problem, exit 2."""


class StackInvalid(GpufleetError):
    """The stack has errors; ``findings`` holds all of them, located and sorted."""

    def __init__(self, findings: Sequence[Finding]) -> None:
        super().__init__("\n".join(str(f) for f in findings))
        self.findings = tuple(findings)


class Locator:
    """Maps a field path to the 1-based line and column it was written at."""

    def __init__(self, file: str, root: Any) -> None:
        self.file = file
        self._root = root

    def position(self, path: Sequence[PathPart], at_key: bool = False) -> tuple[int, int]:
        node = self._root
        line, column = 0, 0
        for index, part in enumerate(path):
            if isinstance(node, CommentedMap):
                if part not in node:
                    if node.get("kind") == part:  # a discriminated union's tag in pydantic's path
                        continue
                    break
                key_line, key_column = node.lc.key(part)
                value = node[part]
                last = index == len(path) - 1
                if isinstance(value, CommentedMap | CommentedSeq) or (at_key and last):
                    line, column = key_line, key_column
                else:
                    line, column = node.lc.value(part)
                    if value is None and line != key_line:
                        # An empty value (`nodes:`) has no token of its own; ruamel places
                        # it at the next token, which may be another key or past the end.
                        line, column = key_line, key_column
                node = value
            elif isinstance(node, CommentedSeq) and isinstance(part, int) and part < len(node):
                line, column = node.lc.item(part)
                node = node[part]
            else:
                break
        return line + 1, column + 1

    def location(self, path: Sequence[PathPart], at_key: bool = False) -> Location:
        return Location(self.file, *self.position(path, at_key))

    def locate(self, findings: Iterable[Finding]) -> list[Finding]:
        return sort_findings([f.located(self.location(f.path, f.at_key)) for f in findings])


@dataclass(frozen=True)
class LoadedStack:
    path: Path
    spec: StackSpec
    locator: Locator

    @property
    def name(self) -> str:
        return self.path.stem


def display_path(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def load_stack(path: str | Path) -> LoadedStack:
    """Parse and type-check a stack file; raise ``StackInvalid`` listing every problem."""
    path = Path(path)
    shown = display_path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (FileNotFoundError, IsADirectoryError, PermissionError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or ("not UTF-8 text" if isinstance(exc, UnicodeDecodeError) else exc)
        raise StackFileError(f"{shown}: cannot read stack file: {reason}") from None
    return load_stack_text(text, path, shown)


def load_stack_text(text: str, path: Path, shown: str) -> LoadedStack:
    """Type-check stack text that is not (yet) a file, e.g. a template's output before it is written."""
    root = parse_yaml(text, shown)
    locator = Locator(shown, root)
    if not isinstance(root, CommentedMap):
        raise StackInvalid([NOT_A_MAPPING.finding((), "a stack file must be a YAML mapping").located(Location(shown, 1, 1))])
    try:
        spec = StackSpec.model_validate(root)
    except ValidationError as exc:
        raise StackInvalid(locator.locate(findings_from_validation(exc, root))) from None
    return LoadedStack(path=path, spec=spec, locator=locator)


def parse_yaml(text: str, shown: str) -> Any:
    yaml = YAML(typ="rt")
    try:
        return yaml.load(text)
    except DuplicateKeyError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        found = re.search(r'found duplicate key "(.*?)" with value', exc.problem or "")
        key = f" '{found[1]}'" if found else ""
        message = f"duplicate key{key}: a key may appear only once in a mapping (names must be unique)"
        raise StackInvalid([DUPLICATE_KEY.finding((), message).located(Location(shown, line, column))]) from None
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        message = ", ".join(part for part in (exc.context, exc.problem) if part)
        start = exc.context_mark
        if start is not None and mark is not None and (start.line, start.column) != (mark.line, mark.column):
            message += f" (it began at line {start.line + 1}, column {start.column + 1})"
        raise StackInvalid([YAML_SYNTAX.finding((), f"YAML syntax error: {message}").located(Location(shown, line, column))]) from None
    except YAMLError as exc:
        raise StackInvalid([YAML_SYNTAX.finding((), f"YAML error: {exc}").located(Location(shown, 1, 1))]) from None


def findings_from_validation(exc: ValidationError, root: Any) -> list[Finding]:
    findings = []
    for error in exc.errors(include_url=False):
        path = _strip_tags(tuple(part for part in error["loc"] if part != "[key]"), root)
        if error["type"] == "union_tag_invalid":
            path = (*path, "kind")
        at_key = error["type"] == "extra_forbidden" or "[key]" in error["loc"]
        findings.append(_rule_for(error).finding(path, _message(error), at_key=at_key))
    return findings


def _rule_for(error: Any):
    kind = error["type"]
    if kind == "extra_forbidden":
        return UNKNOWN_FIELD
    if kind in ("missing", "union_tag_not_found"):
        return MISSING_FIELD
    if kind == "string_pattern_mismatch" and ("[key]" in error["loc"] or error["ctx"]["pattern"] == NAME_PATTERN):
        return BAD_NAME
    return BAD_VALUE


def _strip_tags(path: tuple[PathPart, ...], root: Any) -> tuple[PathPart, ...]:
    """Drop the discriminator values pydantic inserts for tagged unions (storage kinds)."""
    kept: list[PathPart] = []
    node = root
    for part in path:
        if isinstance(node, dict) and part not in node and node.get("kind") == part:
            continue
        kept.append(part)
        if isinstance(node, dict):
            node = node.get(part)
        elif isinstance(node, list) and isinstance(part, int) and part < len(node):
            node = node[part]
        else:
            node = None
    return tuple(kept)


def _all_field_names(model: type[BaseModel], seen: set[type] | None = None) -> set[str]:
    seen = seen if seen is not None else set()
    if model in seen:
        return set()
    seen.add(model)
    names = set(model.model_fields)
    for field in model.model_fields.values():
        for candidate in _models_in(field.annotation):
            names |= _all_field_names(candidate, seen)
    return names


def _models_in(annotation: Any) -> Iterable[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield annotation
    for argument in getattr(annotation, "__args__", ()) or ():
        yield from _models_in(argument)
    for meta in getattr(annotation, "__metadata__", ()) or ():
        yield from _models_in(meta)
    origin = getattr(annotation, "__origin__", None)
    if origin is not None and origin is not annotation:
        yield from _models_in(origin)


_FIELD_NAMES = sorted(_all_field_names(StackSpec))


def _fields_at(loc: Sequence[Any]) -> set[str] | None:
    """The field names of the model at a pydantic error location, or None if unsure.

    Dict keys and list indexes are stepped over; a discriminated union's tag (the storage
    kind pydantic puts in the path) picks the member.
    """
    current: Any = StackSpec
    for part in loc:
        if part == "[key]":
            return None
        if isinstance(current, type) and issubclass(current, BaseModel):
            field = current.model_fields.get(str(part))
            if field is None:
                return None
            current = _strip_optional(field.annotation)
        else:
            current = _step_into(current, part)
            if current is None:
                return None
    current = _strip_optional(current)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return set(current.model_fields)
    return None


def _strip_optional(annotation: Any) -> Any:
    while getattr(annotation, "__metadata__", None) is not None:  # Annotated[X, ...]
        annotation = annotation.__origin__
    arguments = [a for a in getattr(annotation, "__args__", ()) or () if a is not type(None)]
    if getattr(annotation, "__origin__", None) is None and len(arguments) == 1:  # X | None
        return _strip_optional(arguments[0])
    return annotation


def _step_into(container: Any, part: Any) -> Any:
    """One step from a dict/tuple/union annotation towards the element at ``part``."""
    origin = getattr(container, "__origin__", None)
    arguments = getattr(container, "__args__", ()) or ()
    if origin is dict and len(arguments) == 2:
        return _strip_optional(arguments[1])
    if origin is tuple and arguments:
        return _strip_optional(arguments[0])
    members = [_strip_optional(a) for a in arguments]
    models = [m for m in members if isinstance(m, type) and issubclass(m, BaseModel)]
    for model in models:  # a tagged union: the member whose `kind` literal is the tag
        kind = model.model_fields.get("kind")
        if kind is not None and part in getattr(kind.annotation, "__args__", ()):
            return model
    return None


def _message(error: Any) -> str:
    kind, value, loc = error["type"], error.get("input"), error["loc"]
    if kind == "extra_forbidden":
        name = str(loc[-1])
        here = _fields_at(loc[:-1])
        candidates = sorted(here) if here is not None else [f for f in _FIELD_NAMES if f != name]
        guess = closest_name(name, candidates, cutoff=0.7)
        hint = f" (did you mean '{guess}'?)" if guess else ""
        return f"unknown field '{name}'{hint}"
    if kind == "missing":
        return "required field is missing"
    if kind == "union_tag_invalid":
        expected = error["ctx"]["expected_tags"]
        return f"unknown kind {error['ctx']['tag']!r}; expected one of {expected}"
    if kind == "union_tag_not_found":
        return "missing 'kind'"
    if kind == "string_type" and isinstance(value, int | float) and not isinstance(value, bool):
        return f"must be a string; write it in quotes ('{_as_written(value)}'), YAML read it as a number"
    if kind == "string_pattern_mismatch" and ("[key]" in loc or error["ctx"]["pattern"] == NAME_PATTERN):
        return f"invalid name {value!r}: use lowercase letters, digits and '-', starting with a letter (at most 40)"
    if kind == "string_pattern_mismatch":
        return f"invalid value {value!r} (must match {error['ctx']['pattern']})"
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return f"must be a mapping (key: value pairs), got {_yaml_kind(value)}"
    if kind in ("int_type", "int_from_float", "int_parsing"):
        return f"must be a whole number, got {_yaml_kind(value)}"
    if kind in ("float_type", "float_parsing"):
        return f"must be a number, got {_yaml_kind(value)}"
    if kind in ("tuple_type", "list_type"):
        return f"must be a list, got {_yaml_kind(value)}"
    message = error["msg"]
    if message.startswith("Value error, "):
        return message.removeprefix("Value error, ")
    message = message.replace("Input should be", "must be")
    message = message[0].lower() + message[1:]
    if kind in ("literal_error", "enum"):
        message += f", got {value!r}"
    return message


def _as_written(value: Any) -> str:
    """A number as the file spells it: round-trip scalars keep their format (``1.30``, not 1.3)."""
    buffer = io.StringIO()
    try:
        YAML(typ="rt").dump([value], buffer)
    except Exception:  # a plain number from elsewhere: its own spelling is all there is
        return str(value)
    return buffer.getvalue().strip().removeprefix("- ").strip()


def _yaml_kind(value: Any) -> str:
    if value is None:
        return "nothing (an empty value)"
    if isinstance(value, bool):
        return f"a boolean ({str(value).lower()})"
    if isinstance(value, int | float):
        return f"a number ({_as_written(value)})"
    if isinstance(value, str):
        return f"a string ({value!r})"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return type(value).__name__
