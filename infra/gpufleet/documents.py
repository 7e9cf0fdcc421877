"""Read a YAML input into a typed model, turning every problem into file:line:column: field.

Stack files, MIG demand files and (for their YAML layer) mig-parted configs all come through
here: one reader (``gpufleet.inputs``), one parser (``gpufleet.yamltree``), one translation of
pydantic's errors into located ``Finding``s with short messages. A bad value is never
printed whole: messages quote at most ``EXCERPT`` characters of it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Generic, NotRequired, TypedDict, TypeVar, Unpack

from pydantic import BaseModel, TypeAdapter, ValidationError

from gpufleet.findings import Finding, Location, PathPart, Rule, closest_name, declare
from gpufleet.inputs import InputInvalid, read_input
from gpufleet.values import NAME_PATTERN, UNION_TAGS
from gpufleet.yamltree import Locator, MapNode, SeqNode, parse_plain, parse_yaml

UNKNOWN_FIELD = declare(
    "GF-STACK-002", "error", "A field the stack schema does not have.", "Check the spelling against `gpufleet schema`."
)
MISSING_FIELD = declare("GF-STACK-003", "error", "A required field is missing.", "Add the field.")
BAD_VALUE = declare(
    "GF-STACK-004",
    "error",
    "A value of the wrong type, outside its range or not one of the allowed values.",
    "Use a value of the type and range the message names.",
)
BAD_NAME = declare(
    "GF-STACK-005",
    "error",
    "A name that cannot become part of AWS and Kubernetes names.",
    "Use lowercase letters, digits and '-', starting with a letter.",
)

EXCERPT = 60
# Models report an unknown field as extra_forbidden, pydantic dataclasses as an unexpected argument.
_UNKNOWN = ("extra_forbidden", "unexpected_keyword_argument")

T = TypeVar("T")


@dataclass(frozen=True)
class Document(Generic[T]):
    path: Path
    value: T
    locator: Locator


class ParseOptions(TypedDict):
    """``parse_document``'s keyword options, which ``read_document`` passes on as they are."""

    invalid: type[InputInvalid]
    root_rule: Rule
    root_message: str
    positions: NotRequired[bool]


def read_document(path: str | Path, kind: str, models: Mapping[type, Any], **options: Unpack[ParseOptions]) -> Document[Any]:
    """Read, parse and type-check one input file; raise ``invalid`` listing every problem.

    ``models`` gives the type to validate against for each kind of root the file may have
    (``MapNode``, ``SeqNode``); any other root is refused with ``root_message``. With
    ``positions=False`` the file is first read without positions (``parse_plain``), and
    positions are worked out only when something is wrong or the locator is asked: for
    files whose size is in the data, not the structure (a demand of 10,000 services).
    """
    source = read_input(path, kind)
    return parse_document(source.text, source.path, source.shown, models, **options)


def parse_document(
    text: str,
    path: Path,
    shown: str,
    models: Mapping[type, Any],
    *,
    invalid: type[InputInvalid],
    root_rule: Rule,
    root_message: str,
    positions: bool = True,
) -> Document[Any]:
    """``read_document`` for text already in hand (a template's output before it is written)."""
    root = parse_yaml(text, shown, invalid) if positions else parse_plain(text, shown, invalid)
    model = models.get(_ROOT_KINDS.get(type(root), type(root)))
    if model is None:
        raise invalid([root_rule.finding((), root_message).located(Location(shown, 1, 1))])
    located = isinstance(root, MapNode | SeqNode)
    try:
        value = _adapter(model).validate_python(root)
    except ValidationError as exc:
        if not located:
            root = parse_yaml(text, shown, invalid)
        locator = Locator(shown, root)
        raise invalid(locator.locate(findings_from_validation(exc, root, model, locator))) from None
    locator = Locator(shown, root) if located else Locator(shown, parse=lambda: parse_yaml(text, shown, invalid))
    return Document(path=path, value=value, locator=locator)


# parse_plain gives plain containers where parse_yaml gives located ones.
_ROOT_KINDS: dict[type, type] = {dict: MapNode, list: SeqNode}


@cache
def _adapter(model: Any) -> TypeAdapter[Any]:
    return TypeAdapter(model)


def findings_from_validation(exc: ValidationError, root: Any, model: Any = None, locator: Locator | None = None) -> list[Finding]:
    """One located-to-be finding per pydantic error; ``model`` feeds "did you mean" for unknown fields."""
    locator = locator or Locator("", root)
    findings = []
    for error in exc.errors(include_url=False):
        path = _strip_tags(tuple(part for part in error["loc"] if part != "[key]"), root)
        if error["type"] == "union_tag_invalid":
            path = (*path, "kind")
        at_key = error["type"] in _UNKNOWN or "[key]" in error["loc"]
        findings.append(_rule_for(error).finding(path, _message(error, model, locator, path), at_key=at_key))
    return findings


def _rule_for(error: Any) -> Rule:
    kind = error["type"]
    if kind in _UNKNOWN:
        return UNKNOWN_FIELD
    if kind in ("missing", "union_tag_not_found"):
        return MISSING_FIELD
    if kind == "string_pattern_mismatch" and ("[key]" in error["loc"] or error["ctx"]["pattern"] == NAME_PATTERN):
        return BAD_NAME
    return BAD_VALUE


def _strip_tags(path: tuple[PathPart, ...], root: Any) -> tuple[PathPart, ...]:
    """Drop the discriminator values pydantic inserts for tagged unions (storage kinds, a
    template parameter's type, price forms)."""
    kept: list[PathPart] = []
    node = root
    for part in path:
        if (
            isinstance(node, dict)
            and _absent(node, part)
            and (part in (node.get("kind"), node.get("type")) or part in UNION_TAGS)
        ):
            continue
        kept.append(part)
        if isinstance(node, dict):
            node = node.get(part) if not _absent(node, part) else None
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            node = node[part]
        else:
            node = None
    return tuple(kept)


def _absent(node: dict, part: Any) -> bool:
    try:
        return part not in node
    except TypeError:
        return True


def _fields_of(annotation: Any) -> dict[str, Any] | None:
    """The fields of a pydantic model or pydantic dataclass by the name files write (its alias), else None."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        fields = dict(annotation.model_fields)
    elif isinstance(annotation, type) and dataclasses.is_dataclass(annotation):
        fields = dict(getattr(annotation, "__pydantic_fields__", {}) or {})
    else:
        return None
    return {field.alias or name: field for name, field in fields.items()}


@cache
def _all_field_names(model: Any) -> tuple[str, ...]:
    names: set[str] = set()
    seen: set[Any] = set()
    pending = [model]
    while pending:
        current = pending.pop()
        if current in seen:
            continue
        seen.add(current)
        fields = _fields_of(current)
        if fields is None:
            pending.extend(_members(current))
            continue
        names |= set(fields)
        for field in fields.values():
            pending.extend(_members(field.annotation))
    return tuple(sorted(names))


def _members(annotation: Any) -> list[Any]:
    found = list(getattr(annotation, "__args__", ()) or ())
    found += [meta for meta in getattr(annotation, "__metadata__", ()) or () if isinstance(meta, type)]
    origin = getattr(annotation, "__origin__", None)
    if origin is not None and origin is not annotation:
        found.append(origin)
    return [item for item in found if isinstance(item, type) or getattr(item, "__args__", None)]


def _fields_at(model: Any, loc: Sequence[Any]) -> set[str] | None:
    """The field names of the model at a pydantic error location, or None if unsure.

    Dict keys and list indexes are stepped over; a discriminated union's tag (the storage
    kind pydantic puts in the path) picks the member.
    """
    current: Any = _strip_optional(model)
    for part in loc:
        if part == "[key]":
            return None
        fields = _fields_of(current)
        if fields is not None:
            field = fields.get(str(part))
            if field is None:
                return None
            current = _strip_optional(field.annotation)
        else:
            current = _step_into(current, part)
            if current is None:
                return None
    fields = _fields_of(_strip_optional(current))
    return set(fields) if fields is not None else None


def _strip_optional(annotation: Any) -> Any:
    while getattr(annotation, "__metadata__", None) is not None:  # Annotated[X, ...]
        annotation = annotation.__origin__
    arguments = [a for a in getattr(annotation, "__args__", ()) or () if a is not type(None)]
    if getattr(annotation, "__origin__", None) is None and len(arguments) == 1:  # X | None
        return _strip_optional(arguments[0])
    return annotation


def _step_into(container: Any, part: Any) -> Any:
    """One step from a dict/tuple/list/union annotation towards the element at ``part``."""
    origin = getattr(container, "__origin__", None)
    arguments: tuple[Any, ...] = getattr(container, "__args__", ()) or ()
    if origin is dict and len(arguments) == 2:
        return _strip_optional(arguments[1])
    if origin in (tuple, list) and arguments:
        return _strip_optional(arguments[0])
    members = [_strip_optional(a) for a in arguments]
    for member in members:  # a tagged union: the member whose `kind` literal is the tag
        fields = _fields_of(member) or {}
        kind = fields.get("kind")
        if kind is not None and part in getattr(kind.annotation, "__args__", ()):
            return member
    if isinstance(part, int) and len(members) > 1:  # `tuple[...] | Literal[...]`: the sequence member
        sequences = [m for m in members if getattr(m, "__origin__", None) in (tuple, list)]
        if len(sequences) == 1:
            return _step_into(sequences[0], part)
    return None


def _message(error: Any, model: Any, locator: Locator, path: tuple[PathPart, ...]) -> str:
    kind, value, loc = error["type"], error.get("input"), error["loc"]
    if kind in _UNKNOWN:
        name = str(loc[-1])
        here = _fields_at(model, loc[:-1])
        candidates = sorted(here) if here is not None else [f for f in _all_field_names(model) if f != name]
        guess = closest_name(name[:EXCERPT], candidates, cutoff=0.7)
        hint = f" (did you mean '{guess}'?)" if guess else ""
        return f"unknown field {excerpt(name)}{hint}"
    if kind == "missing":
        return "required field is missing"
    if kind == "union_tag_invalid":
        expected = error["ctx"]["expected_tags"]
        return f"unknown kind {excerpt(error['ctx']['tag'])}; expected one of {expected}"
    if kind == "union_tag_not_found":
        return "missing 'kind'"
    written = locator.written(path) or (str(value) if isinstance(value, int | float) else "")
    if kind == "string_type" and isinstance(value, int | float) and not isinstance(value, bool):
        return f"must be a string; write it in quotes ('{written}'), YAML read it as a number"
    if kind == "string_pattern_mismatch" and ("[key]" in loc or error["ctx"]["pattern"] == NAME_PATTERN):
        return f"invalid name {excerpt(value)}: use lowercase letters, digits and '-', starting with a letter (at most 40)"
    if kind == "string_pattern_mismatch":
        return f"invalid value {excerpt(value)} (must match {error['ctx']['pattern']})"
    if kind in ("model_type", "model_attributes_type", "dict_type", "dataclass_type"):
        return f"must be a mapping (key: value pairs), got {_yaml_kind(value, written)}"
    if kind in ("int_type", "int_from_float", "int_parsing"):
        return f"must be a whole number, got {_yaml_kind(value, written)}"
    if kind in ("float_type", "float_parsing"):
        return f"must be a number, got {_yaml_kind(value, written)}"
    if kind == "finite_number":
        return f"must be a finite number, got {written or value}"
    if kind in ("bool_type", "bool_parsing"):
        return f"must be true or false, got {_yaml_kind(value, written)}"
    if kind in ("tuple_type", "list_type"):
        return f"must be a list, got {_yaml_kind(value, written)}"
    if kind == "too_long":
        count = error["ctx"].get("actual_length") or (len(value) if isinstance(value, dict | list | tuple) else "more")
        return f"has {count} entries; at most {error['ctx']['max_length']} are allowed"
    message = error["msg"]
    if message.startswith("Value error, "):
        return message.removeprefix("Value error, ")
    message = message.replace("Input should be", "must be")
    message = message[0].lower() + message[1:]
    if kind in ("literal_error", "enum"):
        message += f", got {excerpt(value) if isinstance(value, str) else _yaml_kind(value, written)}"
    return message


def excerpt(value: Any) -> str:
    """``repr`` of a value, cut to ``EXCERPT`` characters: a 1 MB bad string is not a message."""
    if isinstance(value, dict | list | tuple):
        return _yaml_kind(value, "")
    shown = repr(value) if len(str(value)) <= EXCERPT else repr(str(value)[:EXCERPT]) + f" (cut, {len(str(value))} characters)"
    return shown


def as_written(text: str) -> str:
    """Text a message repeats from the command line: as it is when short and printable, else ``excerpt``."""
    return text if len(text) <= EXCERPT and text.isprintable() else excerpt(text)


def _yaml_kind(value: Any, written: str) -> str:
    if value is None:
        return "nothing (an empty value)"
    if isinstance(value, bool):
        return f"a boolean ({str(value).lower()})"
    if isinstance(value, int | float):
        return f"a number ({written or value})"
    if isinstance(value, str):
        return f"a string ({excerpt(value)})"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list"
    return type(value).__name__
