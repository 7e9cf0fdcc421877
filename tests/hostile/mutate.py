"""Random, seeded mutations of a stack file's text: values, keys, structure and YAML syntax.

Shared by the property test (a few thousand cases) and ``bench/mutations.py`` (a bigger run):
each mutation is one edit a careless or hostile user could make, and gpufleet must answer
every one with its own error type or a valid plan.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Iterator

# Values that have broken YAML loaders and number handling before.
HOSTILE_VALUES = (
    ".inf",
    "-.inf",
    ".nan",
    "1e400",
    "1e308",
    "9" * 60,
    "-1",
    "0",
    "0x7fffffffffffffff",
    "0o777",
    "1_000",
    "true",
    "no",
    "~",
    "null",
    "''",
    '""',
    "[",
    "]",
    "{",
    "}",
    "{a: 1}",
    "[1, [2, [3]]]",
    "*missing",
    "&anchor x",
    "!!python/object/apply:os.system [id]",
    "!!binary aGk=",
    "? x",
    "- x",
    "|",
    ">-",
    "'unclosed",
    '"\\x00"',
    '"\\u202e"',
    "2001-12-14",
    "1:20",
    "=",
    "<<",
    "x" * 300,
    "%YAML 1.1",
    "---",
    "...",
    "@x",
    "`x",
)
HOSTILE_CHARACTERS = "{}[]:,&*!|>'\"%@#?-\n\t\\ 0123456789.eE+~<=\x00\x07\u202e\u200b\ufeff\xa0"
_VALUE = re.compile(r"(?<=: )[^\s{}\[\],#][^,}\]\n#]*")
_KEY = re.compile(r"^(\s*)([A-Za-z0-9_.-]+)(?=:)", re.M)


def _replace_value(text: str, rng: random.Random) -> str:
    spans = [m.span() for m in _VALUE.finditer(text)]
    if not spans:
        return text
    start, end = rng.choice(spans)
    return text[:start] + rng.choice(HOSTILE_VALUES) + text[end:]


def _rename_key(text: str, rng: random.Random) -> str:
    keys = list(_KEY.finditer(text))
    if not keys:
        return text
    match = rng.choice(keys)
    key = match.group(2)
    new = rng.choice([key[:-1] or "x", key + rng.choice("s_-9"), key.upper(), "", "?", key + ": x", "<<"])
    return text[: match.start(2)] + new + text[match.end(2) :]


def _delete_line(text: str, rng: random.Random) -> str:
    lines = text.split("\n")
    del lines[rng.randrange(len(lines))]
    return "\n".join(lines)


def _duplicate_line(text: str, rng: random.Random) -> str:
    lines = text.split("\n")
    index = rng.randrange(len(lines))
    lines.insert(index, lines[index])
    return "\n".join(lines)


def _swap_lines(text: str, rng: random.Random) -> str:
    lines = text.split("\n")
    first, second = rng.randrange(len(lines)), rng.randrange(len(lines))
    lines[first], lines[second] = lines[second], lines[first]
    return "\n".join(lines)


def _reindent(text: str, rng: random.Random) -> str:
    lines = text.split("\n")
    index = rng.randrange(len(lines))
    lines[index] = (
        rng.choice(["", " ", "  ", "\t", "    "]) + lines[index].lstrip(" ") if rng.random() < 0.5 else lines[index][1:]
    )
    return "\n".join(lines)


def _insert_character(text: str, rng: random.Random) -> str:
    at = rng.randrange(len(text) + 1)
    return text[:at] + rng.choice(HOSTILE_CHARACTERS) + text[at:]


def _delete_character(text: str, rng: random.Random) -> str:
    at = rng.randrange(max(len(text), 1))
    return text[:at] + text[at + 1 :]


def _nest(text: str, rng: random.Random) -> str:
    """Wrap a value in lists, mappings or an alias: structure where a scalar was."""
    spans = [m.span() for m in _VALUE.finditer(text)]
    if not spans:
        return text
    start, end = rng.choice(spans)
    value = text[start:end]
    depth = rng.choice([1, 2, 5, 40])
    wrapped = rng.choice([("[" * depth) + value + ("]" * depth), ("{a: " * depth) + value + ("}" * depth), f"&v {value}", "*v"])
    return text[:start] + wrapped + text[end:]


MUTATIONS: tuple[Callable[[str, random.Random], str], ...] = (
    _replace_value,
    _replace_value,
    _rename_key,
    _delete_line,
    _duplicate_line,
    _swap_lines,
    _reindent,
    _insert_character,
    _insert_character,
    _delete_character,
    _nest,
)


def mutations(text: str, count: int, seed: int) -> Iterator[str]:
    """``count`` mutated copies of ``text``, each one to three edits away from it."""
    rng = random.Random(seed)
    for _ in range(count):
        mutated = text
        for _ in range(rng.choice([1, 1, 2, 3])):
            mutated = rng.choice(MUTATIONS)(mutated, rng)
        yield mutated
