"""Parse YAML into plain mappings and lists that remember where each key and value was written.

libyaml (through PyYAML's C parser) turns the text into events in linear time; the tree is
built from them here, in a loop rather than by recursion, so nothing a file holds can
exhaust the stack, and everything a hostile file could use against the reader is refused
at its own position before it costs anything:

* nesting deeper than ``MAX_DEPTH`` (no input gpufleet reads nests more than 8 levels);
* aliases that would expand the document past ``MAX_VALUES`` values (the "billion laughs"),
  or that refer to the mapping or list containing them;
* keys that are mappings, lists or empty (``? `` lines), tags other than YAML's own, a
  second document in the file, and duplicate keys.

Plain scalars are typed by the YAML 1.2 core schema: ``yes``/``no``/``on`` stay strings,
``1_000`` and ``2001-12-14`` too, ``0o17`` is octal. When libyaml reports a syntax error,
ruamel's parser (slower, but with more helpful wording) is asked to describe it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

import yaml
from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError as RuamelMarkedError
from ruamel.yaml.error import YAMLError as RuamelError

from gpufleet.findings import Finding, Location, PathPart, Rule, declare, sort_findings
from gpufleet.inputs import InputInvalid, check_text

MAX_DEPTH = 32
MAX_VALUES = 200_000

YAML_SYNTAX = declare("GF-YAML-001", "error", "The file is not valid YAML.", "Fix the syntax at the position shown.")
DUPLICATE_KEY = declare("GF-YAML-002", "error", "A key appears twice in one mapping.", "Keep one of them: names must be unique.")
TOO_DEEP = declare("GF-YAML-004", "error", f"Mappings and lists nested deeper than {MAX_DEPTH} levels.", "Flatten the structure: no gpufleet input nests this deep.")
ALIAS_EXPANSION = declare(
    "GF-YAML-005",
    "error",
    f"YAML aliases that expand the file past {MAX_VALUES} values, or that refer to their own container.",
    "Write the values out, or use fewer nested aliases.",
)
COMPLEX_KEY = declare("GF-YAML-006", "error", "A key that is a mapping, a list or empty.", "Use a name (a plain string) as the key.")
UNSUPPORTED = declare("GF-YAML-007", "error", "A YAML tag or a second document gpufleet does not read.", "Remove the tag (`!...`) or the `---` that starts another document.")

_CORE = "tag:yaml.org,2002:"
_NULL = re.compile(r"^(?:~|null|Null|NULL|)$")
_BOOL = re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$")
_INT = re.compile(r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$")
_FLOAT = re.compile(r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$")
_MERGE = "<<"


class MapNode(dict):
    """A mapping with the 0-based (line, column) of each key and each value."""

    __slots__ = ("at", "key_at", "value_at", "written")

    def __init__(self, at: tuple[int, int]) -> None:
        super().__init__()
        self.at = at
        self.key_at: dict[Any, tuple[int, int]] = {}
        self.value_at: dict[Any, tuple[int, int]] = {}
        self.written: dict[Any, str] = {}  # scalar values as the file spells them


class SeqNode(list):
    """A list with the 0-based (line, column) of each item."""

    __slots__ = ("at", "item_at", "written")

    def __init__(self, at: tuple[int, int]) -> None:
        super().__init__()
        self.at = at
        self.item_at: list[tuple[int, int]] = []
        self.written: dict[int, str] = {}


def _mark(mark: Any) -> tuple[int, int]:
    return (mark.line, mark.column)


class _Problem(Exception):
    def __init__(self, rule: Rule, message: str, at: tuple[int, int]) -> None:
        super().__init__(message)
        self.rule, self.message, self.at = rule, message, at


class _Frame:
    """A mapping or list being filled, and (for a mapping) the key waiting for its value."""

    __slots__ = ("node", "start_values", "key", "key_at", "merged", "placed_at")

    def __init__(self, node: MapNode | SeqNode, start_values: int, placed_at: tuple[int, int]) -> None:
        self.node = node
        self.start_values = start_values
        self.key: Any = _NO_KEY
        self.key_at = (0, 0)
        self.merged: set[Any] = set()
        self.placed_at = placed_at  # where this node sits in its parent


_NO_KEY = object()


class _Builder:
    def __init__(self) -> None:
        self.frames: list[_Frame] = []
        self.anchors: dict[str, Any] = {}
        self.sizes: dict[int, tuple[int, int]] = {}  # id(container) -> (values, height)
        self.open: set[int] = set()
        self.values = 0
        self.root: Any = None
        self.documents = 0

    # -- events ---------------------------------------------------------------------------

    def scalar(self, event: Any) -> None:
        value = _scalar_value(event)
        self._count(1, event.start_mark)
        if event.anchor:
            self.anchors[event.anchor] = value
        if self._expecting_key():
            self._take_key(value, event.start_mark)
            return
        at = _mark(event.start_mark)
        if event.value == "" and not event.style and isinstance(self.frames[-1].node if self.frames else None, MapNode):
            at = self.frames[-1].key_at  # an empty value (`nodes:`) has no token: it is the key's
        number = isinstance(value, int | float) and not isinstance(value, bool)
        self._place(value, at, written=event.value if number else None)

    def alias(self, event: Any) -> None:
        if event.anchor not in self.anchors:
            raise _Problem(YAML_SYNTAX, f"YAML syntax error: found undefined alias '*{event.anchor}'", _mark(event.start_mark))
        target = self.anchors[event.anchor]
        at = _mark(event.start_mark)
        if id(target) in self.open and isinstance(target, MapNode | SeqNode):
            raise _Problem(ALIAS_EXPANSION, f"alias '*{event.anchor}' refers to a mapping or list that contains it", at)
        values, height = self.sizes.get(id(target), (1, 0)) if isinstance(target, MapNode | SeqNode) else (1, 0)
        if len(self.frames) + height > MAX_DEPTH:
            raise _Problem(TOO_DEEP, f"alias '*{event.anchor}' nests values deeper than {MAX_DEPTH} levels", at)
        self._count(values, event.start_mark, alias=event.anchor)
        if self._expecting_key():
            if isinstance(target, MapNode | SeqNode):
                raise _Problem(COMPLEX_KEY, "a key must be a single value (a name), not a mapping or list", at)
            self._take_key(target, event.start_mark)
        else:
            self._place(target, at)

    def start(self, event: Any, node: MapNode | SeqNode) -> None:
        at = _mark(event.start_mark)
        own = "map" if isinstance(node, MapNode) else "seq"
        if event.tag not in (None, "!", f"{_CORE}{own}"):
            raise _Problem(UNSUPPORTED, f"YAML tag '{_excerpt(event.tag)}' is not supported: gpufleet reads plain YAML values only", at)
        if self._expecting_key():
            raise _Problem(COMPLEX_KEY, "a key must be a single value (a name), not a mapping or list", at)
        if len(self.frames) >= MAX_DEPTH:
            raise _Problem(TOO_DEEP, f"mappings and lists are nested more than {MAX_DEPTH} levels deep here", at)
        self._count(1, event.start_mark)
        if event.anchor:
            self.anchors[event.anchor] = node
        self.open.add(id(node))
        self.frames.append(_Frame(node, self.values - 1, at))

    def end(self) -> None:
        frame = self.frames.pop()
        node = frame.node
        self.open.discard(id(node))
        children = [self.sizes[id(v)][1] for v in (node.values() if isinstance(node, MapNode) else node) if id(v) in self.sizes]
        self.sizes[id(node)] = (self.values - frame.start_values, 1 + max(children, default=0))
        if self.frames:
            self._place(node, frame.placed_at)
        else:
            self.root = node

    # -- helpers --------------------------------------------------------------------------

    def _count(self, values: int, mark: Any, alias: str | None = None) -> None:
        self.values += values
        if self.values > MAX_VALUES:
            what = f"alias '*{alias}' expands" if alias else "this value takes"
            raise _Problem(ALIAS_EXPANSION, f"{what} the file past {MAX_VALUES} values; gpufleet reads no input that large", _mark(mark))

    def _expecting_key(self) -> bool:
        return bool(self.frames) and isinstance(self.frames[-1].node, MapNode) and self.frames[-1].key is _NO_KEY

    def _take_key(self, key: Any, mark: Any) -> None:
        frame = self.frames[-1]
        at = _mark(mark)
        if key is None:
            raise _Problem(COMPLEX_KEY, "a key may not be empty", at)
        node = frame.node
        if key in node and key not in frame.merged and key != _MERGE:
            raise _Problem(DUPLICATE_KEY, f"duplicate key '{key}': a key may appear only once in a mapping (names must be unique)", at)
        frame.key, frame.key_at = key, at

    def _place(self, value: Any, at: tuple[int, int], written: str | None = None) -> None:
        if not self.frames:
            self.root = value
            return
        frame = self.frames[-1]
        node = frame.node
        if isinstance(node, SeqNode):
            if written is not None:
                node.written[len(node)] = written
            node.append(value)
            node.item_at.append(at)
            return
        key, frame.key = frame.key, _NO_KEY
        if key == _MERGE and isinstance(value, MapNode | SeqNode):
            self._merge(frame, value, at)
            return
        frame.merged.discard(key)
        node[key] = value
        node.key_at[key] = frame.key_at
        node.value_at[key] = at
        if written is not None:
            node.written[key] = written

    def _merge(self, frame: _Frame, value: MapNode | SeqNode, at: tuple[int, int]) -> None:
        """``<<: *base`` (or a list of them): copy the keys the mapping does not set itself."""
        sources = [value] if isinstance(value, MapNode) else list(value)
        node = frame.node
        for source in sources:
            if not isinstance(source, MapNode):
                raise _Problem(COMPLEX_KEY, "'<<' merges mappings only", at)
            for key, item in source.items():
                if key in node:
                    continue
                node[key] = item
                node.key_at[key] = source.key_at[key]
                node.value_at[key] = source.value_at[key]
                if key in source.written:
                    node.written[key] = source.written[key]
                frame.merged.add(key)


def _scalar_value(event: Any) -> Any:
    text, tag = event.value, event.tag
    if tag in (None, "!") or tag.startswith(_CORE):
        kind = tag.removeprefix(_CORE) if tag and tag != "!" else None
        if kind is None:
            plain = not event.style and event.implicit[0] and tag is None
            return _resolve_plain(text, event) if plain else text
        if kind == "str":
            return text
        if kind in ("int", "float", "bool", "null"):
            value = _resolve_plain(text, event)
            expected = {"int": int, "float": (float, int), "bool": bool, "null": type(None)}[kind]
            if isinstance(value, expected) and not (kind != "bool" and isinstance(value, bool)):
                return float(value) if kind == "float" else value
            raise _Problem(UNSUPPORTED, f"'{_excerpt(text)}' is not a valid !!{kind}", _mark(event.start_mark))
    raise _Problem(UNSUPPORTED, f"YAML tag '{_excerpt(tag)}' is not supported: gpufleet reads plain YAML values only", _mark(event.start_mark))


def _resolve_plain(text: str, event: Any) -> Any:
    if _NULL.match(text):
        return None
    if _BOOL.match(text):
        return text.lower() == "true"
    try:
        if _INT.match(text):
            if text.startswith("0o"):
                return int(text[2:], 8)
            if text.startswith("0x"):
                return int(text[2:], 16)
            return int(text)
        if _FLOAT.match(text):
            special = text.lstrip("+-").lower()
            if special in (".inf", ".nan"):  # YAML's spelling; pydantic refuses both as not finite
                return float(text.replace(text.lstrip("+-"), special[1:]))
            return float(text)
    except ValueError:  # more digits than Python converts
        raise _Problem(UNSUPPORTED, f"number with {len(text)} digits is too long", _mark(event.start_mark)) from None
    return text


def _excerpt(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[:limit] + "..."


def parse_yaml(text: str, shown: str, invalid: type[InputInvalid] = InputInvalid) -> Any:
    """The document as ``MapNode``/``SeqNode``/scalars; ``invalid`` listing its problem otherwise."""
    problems = check_text(text, shown)
    if problems:
        raise invalid(problems)
    builder = _Builder()
    try:
        for event in yaml.parse(text, Loader=yaml.CSafeLoader):
            kind = type(event)
            if kind is yaml.ScalarEvent:
                builder.scalar(event)
            elif kind is yaml.MappingStartEvent:
                builder.start(event, MapNode(_mark(event.start_mark)))
            elif kind is yaml.SequenceStartEvent:
                builder.start(event, SeqNode(_mark(event.start_mark)))
            elif kind is yaml.MappingEndEvent or kind is yaml.SequenceEndEvent:
                builder.end()
            elif kind is yaml.AliasEvent:
                builder.alias(event)
            elif kind is yaml.DocumentStartEvent:
                builder.documents += 1
                if builder.documents > 1:
                    raise _Problem(UNSUPPORTED, "a second YAML document ('---') is not read: put everything in one", _mark(event.start_mark))
    except _Problem as problem:
        raise invalid([problem.rule.finding((), problem.message).located(Location(shown, problem.at[0] + 1, problem.at[1] + 1))]) from None
    except yaml.MarkedYAMLError as error:
        raise invalid([_syntax_finding(text, shown, error)]) from None
    except yaml.YAMLError as error:
        raise invalid([YAML_SYNTAX.finding((), f"YAML error: {_excerpt(str(error), 200)}").located(Location(shown, 1, 1))]) from None
    return builder.root


def _syntax_finding(text: str, shown: str, error: yaml.MarkedYAMLError) -> Finding:
    """Ruamel describes syntax errors better than libyaml; ask it, fall back to libyaml's words.

    Ruamel's pure-Python parser is slow, so it only reads the text up to the line after the
    error, and only when that is at most ``_DESCRIBE_LIMIT`` characters; it must also find
    the error on the same line, or libyaml's description stands.
    """
    mark = error.problem_mark or error.context_mark
    line = mark.line if mark else 0
    cut = _nth_newline(text, line + 2)
    if cut <= _DESCRIBE_LIMIT:
        try:
            for _ in YAML(typ="safe", pure=True).parse(text[:cut]):
                pass
        except RuamelMarkedError as described:
            where = described.problem_mark or described.context_mark
            if where is not None and where.line == line:
                return _located_syntax(shown, where, described.context_mark, described.context, described.problem)
        except RuamelError:
            pass
    return _located_syntax(shown, mark, error.context_mark, error.context, error.problem)


_DESCRIBE_LIMIT = 64 * 1024


def _nth_newline(text: str, count: int) -> int:
    """The length of the first ``count`` lines of ``text`` (all of it if it has fewer)."""
    end = -1
    for _ in range(count):
        end = text.find("\n", end + 1)
        if end < 0:
            return len(text)
    return end + 1


def _located_syntax(shown: str, mark: Any, start: Any, context: str | None, problem: str | None) -> Finding:
    line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
    message = ", ".join(part for part in (context, problem) if part)
    if start is not None and mark is not None and (start.line, start.column) != (mark.line, mark.column):
        message += f" (it began at line {start.line + 1}, column {start.column + 1})"
    return YAML_SYNTAX.finding((), f"YAML syntax error: {message}").located(Location(shown, line, column))


class Locator:
    """Maps a field path to the 1-based line and column it was written at."""

    def __init__(self, file: str, root: Any) -> None:
        self.file = file
        self._root = root

    def node(self, path: Sequence[PathPart]) -> Any:
        """The container at ``path``, or None when the path leaves what the file holds."""
        node = self._root
        for part in path:
            if isinstance(node, MapNode) and _has(node, part):
                node = node[part]
            elif isinstance(node, SeqNode) and isinstance(part, int) and 0 <= part < len(node):
                node = node[part]
            else:
                return None
        return node

    def written(self, path: Sequence[PathPart]) -> str | None:
        """A number as the file spells it (``1.30``, where Python would say 1.3)."""
        parent = self.node(path[:-1]) if path else None
        if isinstance(parent, MapNode | SeqNode):
            return parent.written.get(path[-1])
        return None

    def position(self, path: Sequence[PathPart], at_key: bool = False) -> tuple[int, int]:
        node = self._root
        line, column = 0, 0
        for index, part in enumerate(path):
            if isinstance(node, MapNode):
                if not _has(node, part):
                    if node.get("kind") == part:  # a discriminated union's tag in pydantic's path
                        continue
                    break
                key_line, key_column = node.key_at[part]
                value = node[part]
                last = index == len(path) - 1
                if isinstance(value, MapNode | SeqNode) or (at_key and last):
                    line, column = key_line, key_column
                else:
                    line, column = node.value_at[part]
                node = value
            elif isinstance(node, SeqNode) and isinstance(part, int) and 0 <= part < len(node):
                line, column = node.item_at[part]
                node = node[part]
            else:
                break
        return line + 1, column + 1

    def location(self, path: Sequence[PathPart], at_key: bool = False) -> Location:
        return Location(self.file, *self.position(path, at_key))

    def locate(self, findings: Iterable[Finding]) -> list[Finding]:
        return sort_findings([f.located(self.location(f.path, f.at_key)) for f in findings])


def _has(node: MapNode, part: PathPart) -> bool:
    try:
        return part in node
    except TypeError:
        return False
