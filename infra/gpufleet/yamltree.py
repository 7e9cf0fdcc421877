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

import gc
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from functools import cached_property
from typing import Any

import yaml

from gpufleet.findings import Finding, Location, PathPart, Rule, declare, sort_findings
from gpufleet.inputs import InputInvalid, check_text

MAX_DEPTH = 32
MAX_VALUES = 200_000

YAML_SYNTAX = declare("GF-YAML-001", "error", "The file is not valid YAML.", "Fix the syntax at the position shown.")
DUPLICATE_KEY = declare("GF-YAML-002", "error", "A key appears twice in one mapping.", "Keep one of them: names must be unique.")
TOO_DEEP = declare(
    "GF-YAML-004",
    "error",
    f"Mappings and lists nested deeper than {MAX_DEPTH} levels.",
    "Flatten the structure: no gpufleet input nests this deep.",
)
ALIAS_EXPANSION = declare(
    "GF-YAML-005",
    "error",
    f"YAML aliases that expand the file past {MAX_VALUES} values, or that refer to their own container.",
    "Write the values out, or use fewer nested aliases.",
)
COMPLEX_KEY = declare(
    "GF-YAML-006", "error", "A key that is a mapping, a list or empty.", "Use a name (a plain string) as the key."
)
UNSUPPORTED = declare(
    "GF-YAML-007",
    "error",
    "A YAML tag or a second document gpufleet does not read.",
    "Remove the tag (`!...`) or the `---` that starts another document.",
)

_CORE = "tag:yaml.org,2002:"
_NULL = re.compile(r"^(?:~|null|Null|NULL|)\Z")
_BOOL = re.compile(r"^(?:true|True|TRUE|false|False|FALSE)\Z")
_INT = re.compile(r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)\Z")
_FLOAT = re.compile(r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))\Z")
_MERGE = "<<"
_MAP_TAG = f"{_CORE}map"
_SEQ_TAG = f"{_CORE}seq"


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
        self.written: dict[Any, str] = {}  # by index


def _mark(mark: Any) -> tuple[int, int]:
    return (mark.line, mark.column)


class _Problem(Exception):
    def __init__(self, rule: Rule, message: str, at: tuple[int, int]) -> None:
        super().__init__(message)
        self.rule, self.message, self.at = rule, message, at


class _Frame:
    """A mapping or list being filled, and (for a mapping) the key waiting for its value."""

    __slots__ = ("is_map", "key", "key_at", "merged", "nests", "node", "placed_at", "start_values")

    def __init__(self, node: MapNode | SeqNode, start_values: int, placed_at: tuple[int, int]) -> None:
        # ``is_map`` says which it is: typed as the union, every use on this hot path would need a test.
        self.node: Any = node
        self.is_map = type(node) is MapNode
        self.start_values = start_values
        self.key: Any = _NO_KEY
        self.key_at = (0, 0)
        self.merged: set[Any] | None = None  # keys a `<<` merge copied in, which the mapping may override
        self.placed_at = placed_at  # where this node sits in its parent
        self.nests = False  # holds a mapping or list, so its height is more than 1


_NO_KEY = object()


class _Builder:
    """Builds the tree from libyaml's events; one method per kind of event.

    These run once per event (about 10 per line of a flow-style list), so the common case
    is kept short: a plain scalar's type is looked up in ``typed`` once per distinct
    spelling, and sizes of nested containers are summed only for containers that nest.
    """

    def __init__(self) -> None:
        self.frames: list[_Frame] = []
        self.anchors: dict[str, Any] = {}
        self.sizes: dict[int, tuple[int, int]] = {}  # id(container) -> (values, height)
        self.open: set[int] = set()
        self.values = 0
        self.root: Any = None
        self.documents = 0
        self.typed: dict[str, Any] = {}  # plain scalar spelling -> its YAML 1.2 core value

    # -- events ---------------------------------------------------------------------------

    def run(self, events: Iterable[Any]) -> None:
        """Feed every event to its method; a plain scalar in a mapping or list, by far the
        most common event, is handled here, the rest (anchors, tags, quotes) in ``scalar``."""
        frames, typed, scalar_event = self.frames, self.typed, yaml.ScalarEvent
        for event in events:
            kind = type(event)
            if kind is scalar_event:
                text = event.value
                if not frames or event.tag is not None or event.anchor or event.style or not event.implicit[0]:
                    self.scalar(event)
                    continue
                value = typed.get(text, _NO_KEY)
                if value is _NO_KEY:
                    value = typed[text] = _resolve_plain(text, event)
                self.values += 1
                if self.values > MAX_VALUES:
                    self._too_many(event.start_mark, None)
                frame = frames[-1]
                mark = event.start_mark
                if not frame.is_map:
                    node = frame.node
                    if type(value) is int or type(value) is float:
                        node.written[len(node)] = text
                    node.append(value)
                    node.item_at.append((mark.line, mark.column))
                elif frame.key is _NO_KEY:
                    self._take_key(frame, value, (mark.line, mark.column))
                else:
                    at = frame.key_at if text == "" else (mark.line, mark.column)  # `nodes:` has no token: the key's
                    self._place(frame, value, at, text if type(value) is int or type(value) is float else None)
            elif kind is yaml.MappingStartEvent:
                self.start(event, MapNode(_mark(event.start_mark)))
            elif kind is yaml.SequenceStartEvent:
                self.start(event, SeqNode(_mark(event.start_mark)))
            elif kind is yaml.MappingEndEvent or kind is yaml.SequenceEndEvent:
                self.end()
            elif kind is yaml.AliasEvent:
                self.alias(event)
            elif kind is yaml.DocumentStartEvent:
                self.documents += 1
                if self.documents > 1:
                    raise _Problem(
                        UNSUPPORTED, "a second YAML document ('---') is not read: put everything in one", _mark(event.start_mark)
                    )

    def scalar(self, event: Any) -> None:
        text = event.value
        if event.tag is None and not event.style and event.implicit[0]:
            value = self.typed.get(text, _NO_KEY)
            if value is _NO_KEY:
                value = self.typed[text] = _resolve_plain(text, event)
        else:
            value = _scalar_value(event)
        self.values += 1
        if self.values > MAX_VALUES:
            self._too_many(event.start_mark, None)
        if event.anchor:
            self.anchors[event.anchor] = value
        frames = self.frames
        if not frames:
            self.root = value
            return
        frame = frames[-1]
        mark = event.start_mark
        if frame.is_map:
            if frame.key is _NO_KEY:
                self._take_key(frame, value, (mark.line, mark.column))
                return
            at = frame.key_at if text == "" and not event.style else (mark.line, mark.column)  # `nodes:` has no token: the key's
        else:
            at = (mark.line, mark.column)
        number = text if (type(value) is int or type(value) is float) else None
        self._place(frame, value, at, number)

    def alias(self, event: Any) -> None:
        if event.anchor not in self.anchors:
            raise _Problem(YAML_SYNTAX, f"YAML syntax error: found undefined alias '*{event.anchor}'", _mark(event.start_mark))
        target = self.anchors[event.anchor]
        at = _mark(event.start_mark)
        container = isinstance(target, MapNode | SeqNode)
        if container and id(target) in self.open:
            raise _Problem(ALIAS_EXPANSION, f"alias '*{event.anchor}' refers to a mapping or list that contains it", at)
        values, height = self.sizes.get(id(target), (1, 0)) if container else (1, 0)
        if len(self.frames) + height > MAX_DEPTH:
            raise _Problem(TOO_DEEP, f"alias '*{event.anchor}' nests values deeper than {MAX_DEPTH} levels", at)
        self.values += values
        if self.values > MAX_VALUES:
            self._too_many(event.start_mark, event.anchor)
        if not self.frames:
            self.root = target
            return
        frame = self.frames[-1]
        if frame.is_map and frame.key is _NO_KEY:
            if container:
                raise _Problem(COMPLEX_KEY, "a key must be a single value (a name), not a mapping or list", at)
            self._take_key(frame, target, at)
        else:
            self._place(frame, target, at, None)

    def start(self, event: Any, node: MapNode | SeqNode) -> None:
        at = node.at
        if event.tag is not None and event.tag != "!" and event.tag != (_MAP_TAG if type(node) is MapNode else _SEQ_TAG):
            raise _Problem(
                UNSUPPORTED, f"YAML tag '{_excerpt(event.tag)}' is not supported: gpufleet reads plain YAML values only", at
            )
        frames = self.frames
        if frames and frames[-1].is_map and frames[-1].key is _NO_KEY:
            raise _Problem(COMPLEX_KEY, "a key must be a single value (a name), not a mapping or list", at)
        if len(frames) >= MAX_DEPTH:
            raise _Problem(TOO_DEEP, f"mappings and lists are nested more than {MAX_DEPTH} levels deep here", at)
        self.values += 1
        if self.values > MAX_VALUES:
            self._too_many(event.start_mark, None)
        if event.anchor:
            self.anchors[event.anchor] = node
        self.open.add(id(node))
        frames.append(_Frame(node, self.values - 1, at))

    def end(self) -> None:
        frame = self.frames.pop()
        node = frame.node
        self.open.discard(id(node))
        height = 1
        if frame.nests:
            sizes = self.sizes
            children = [sizes[id(v)][1] for v in (node.values() if frame.is_map else node) if id(v) in sizes]
            height += max(children, default=0)
        self.sizes[id(node)] = (self.values - frame.start_values, height)
        if self.frames:
            self._place(self.frames[-1], node, frame.placed_at, None)
        else:
            self.root = node

    # -- helpers --------------------------------------------------------------------------

    def _too_many(self, mark: Any, alias: str | None) -> None:
        what = f"alias '*{alias}' expands" if alias else "this value takes"
        raise _Problem(
            ALIAS_EXPANSION, f"{what} the file past {MAX_VALUES} values; gpufleet reads no input that large", _mark(mark)
        )

    def _take_key(self, frame: _Frame, key: Any, at: tuple[int, int]) -> None:
        if key is None:
            raise _Problem(COMPLEX_KEY, "a key may not be empty", at)
        if key in frame.node and key != _MERGE and not (frame.merged and key in frame.merged):
            raise _Problem(
                DUPLICATE_KEY, f"duplicate key '{key}': a key may appear only once in a mapping (names must be unique)", at
            )
        frame.key, frame.key_at = key, at

    def _place(self, frame: _Frame, value: Any, at: tuple[int, int], written: str | None) -> None:
        node = frame.node
        if type(value) is MapNode or type(value) is SeqNode:
            frame.nests = True
        if not frame.is_map:
            if written is not None:
                node.written[len(node)] = written
            node.append(value)
            node.item_at.append(at)
            return
        key, frame.key = frame.key, _NO_KEY
        if key == _MERGE and isinstance(value, MapNode | SeqNode):
            self._merge(frame, value, at)
            return
        if frame.merged:
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
        if frame.merged is None:
            frame.merged = set()
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
    """A quoted or tagged scalar (plain untagged ones are typed in ``_Builder.scalar``)."""
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
            expected: dict[str, type | tuple[type, ...]] = {"int": int, "float": (float, int), "bool": bool, "null": type(None)}
            matches = isinstance(value, expected[kind]) and not (kind != "bool" and isinstance(value, bool))
            if matches:
                return float(value) if kind == "float" else value
            raise _Problem(UNSUPPORTED, f"'{_excerpt(text)}' is not a valid !!{kind}", _mark(event.start_mark))
    raise _Problem(
        UNSUPPORTED,
        f"YAML tag '{_excerpt(tag)}' is not supported: gpufleet reads plain YAML values only",
        _mark(event.start_mark),
    )


# What a plain scalar's first character allows it to be: anything else is a string.
_NUMBER_START = frozenset("0123456789+-.")
_NULL_OR_BOOL_START = frozenset("~nNtTfF")


def _resolve_plain(text: str, event: Any) -> Any:
    first = text[:1]
    if first not in _NUMBER_START and first not in _NULL_OR_BOOL_START and first != "":
        return text
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
    return _located(text, shown, invalid)


def parse_plain(text: str, shown: str, invalid: type[InputInvalid] = InputInvalid) -> Any:
    """The document's values as plain dicts, lists and scalars, without their positions.

    For inputs that need positions only to report a problem (a demand file of 10,000
    services, the catalog): libyaml's events become plain containers in one tight loop,
    about a third of what ``parse_yaml`` costs. Anything outside the everyday subset of
    YAML (anchors, aliases, tags, merge keys, duplicate or empty keys, deep nesting, a
    second document, a syntax error) is left to ``parse_yaml``, whose result or error is
    returned instead, so both readings refuse and type exactly the same things.
    """
    problems = check_text(text, shown)
    if problems:
        raise invalid(problems)
    collecting = gc.isenabled()
    gc.disable()  # see _located
    try:
        return _plain(text)
    except (_NotPlain, yaml.YAMLError):
        return _located(text, shown, invalid)
    finally:
        if collecting:
            gc.enable()


class _NotPlain(Exception):
    """The text uses YAML that only the located builder reads (or refuses) correctly."""


def _plain(text: str) -> Any:
    with _events(text) as events:
        return _plain_tree(events)


def _plain_tree(events: Iterator[Any]) -> Any:
    scalar_event, mapping_start, sequence_start = yaml.ScalarEvent, yaml.MappingStartEvent, yaml.SequenceStartEvent
    ends = (yaml.MappingEndEvent, yaml.SequenceEndEvent)
    typed: dict[str, Any] = {}
    containers: list[Any] = []  # open dicts and lists, innermost last
    keys: list[Any] = []  # per open container: the key waiting for its value (_NO_KEY for lists and between keys)
    values = documents = 0
    root: Any = None
    for event in events:
        kind = type(event)
        if kind is scalar_event:
            if event.tag is not None or event.anchor:
                raise _NotPlain
            text_value = event.value
            if event.style:
                value: Any = text_value
            elif event.implicit[0]:
                value = typed.get(text_value, _NO_KEY)
                if value is _NO_KEY:
                    try:
                        value = typed[text_value] = _resolve_plain(text_value, event)
                    except _Problem:
                        raise _NotPlain from None
            else:
                raise _NotPlain
        elif kind is mapping_start or kind is sequence_start:
            if event.tag is not None or event.anchor or len(containers) >= MAX_DEPTH or (keys and keys[-1] is _EXPECTING):
                raise _NotPlain
            values += 1
            if values > MAX_VALUES:
                raise _NotPlain
            containers.append({} if kind is mapping_start else [])
            keys.append(_EXPECTING if kind is mapping_start else _NO_KEY)
            continue
        elif kind in ends:
            value = containers.pop()
            keys.pop()
        elif kind is yaml.DocumentStartEvent:
            documents += 1
            if documents > 1:
                raise _NotPlain
            continue
        elif kind is yaml.AliasEvent:
            raise _NotPlain
        else:
            continue
        if kind is scalar_event:
            values += 1
            if values > MAX_VALUES:
                raise _NotPlain
        if not containers:
            root = value
            continue
        container = containers[-1]
        key = keys[-1]
        if key is _NO_KEY:
            container.append(value)
        elif key is _EXPECTING:
            if value is None or value == _MERGE or value in container:
                raise _NotPlain
            keys[-1] = value
        else:
            container[key] = value
            keys[-1] = _EXPECTING
    return root


_EXPECTING = object()  # a mapping between keys: the next value is a key


@contextmanager
def _events(text: str) -> Iterator[Iterator[Any]]:
    """libyaml's events straight from its C parser, without ``yaml.parse``'s generator step per event."""
    parser = yaml.CSafeLoader(text)
    try:
        yield iter(parser.get_event, None)
    finally:
        parser.dispose()


def _located(text: str, shown: str, invalid: type[InputInvalid]) -> Any:
    builder = _Builder()
    collecting = gc.isenabled()
    gc.disable()  # the tree has no reference cycles (aliases to an open container are refused): nothing for it to find
    try:
        with _events(text) as events:
            builder.run(events)
    except _Problem as problem:
        raise invalid(
            [problem.rule.finding((), problem.message).located(Location(shown, problem.at[0] + 1, problem.at[1] + 1))]
        ) from None
    except yaml.MarkedYAMLError as error:
        raise invalid([_syntax_finding(text, shown, error)]) from None
    except yaml.YAMLError as error:
        raise invalid(
            [YAML_SYNTAX.finding((), f"YAML error: {_excerpt(str(error), 200)}").located(Location(shown, 1, 1))]
        ) from None
    finally:
        if collecting:
            gc.enable()
    return builder.root


def _syntax_finding(text: str, shown: str, error: yaml.MarkedYAMLError) -> Finding:
    """Ruamel describes syntax errors better than libyaml; ask it, fall back to libyaml's words.

    Ruamel's pure-Python parser is slow, so it only reads the text up to the line after the
    error, and only when that is at most ``_DESCRIBE_LIMIT`` characters; it must also find
    the error on the same line, or libyaml's description stands.
    """
    from ruamel.yaml import YAML  # only a file with a syntax error pays for importing it
    from ruamel.yaml.error import MarkedYAMLError as RuamelMarkedError
    from ruamel.yaml.error import YAMLError as RuamelError

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


def plain(value: Any) -> Any:
    """A parsed tree's located mappings and lists as plain dicts and lists (keys as text). The
    parser bounded depth and expanded size, aliases included, so this walk is bounded too."""
    if isinstance(value, dict):
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [plain(item) for item in value]
    return value


class Locator:
    """Maps a field path to the 1-based line and column it was written at."""

    def __init__(self, file: str, root: Any = None, *, parse: Callable[[], Any] | None = None) -> None:
        """``root`` is a tree from ``parse_yaml``; or ``parse`` makes it when a position is first asked for."""
        self.file = file
        self._given = root
        self._parse = parse

    @cached_property
    def _root(self) -> Any:
        return self._parse() if self._parse is not None else self._given

    def node(self, path: Sequence[PathPart]) -> Any:
        """The container at ``path``, or None when the path leaves what the file holds."""
        node = self._root
        for part in path:
            if isinstance(node, MapNode):
                if not _has(node, part):
                    return None
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
                    if part in (node.get("kind"), node.get("type")):  # a discriminated union's tag in pydantic's path
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
        """Each finding at its path in this file; one already located (in another file, such as
        the subnet record beside a stack) keeps its place."""
        return sort_findings([f if f.location is not None else f.located(self.location(f.path, f.at_key)) for f in findings])


def _has(node: MapNode, part: PathPart) -> bool:
    try:
        return part in node
    except TypeError:
        return False
