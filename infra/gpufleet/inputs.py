"""The one reader for every file gpufleet takes in: stack files, mig-parted configs, demand files.

Whatever a user points gpufleet at is read the same way and refused the same way: only a
regular file (a FIFO would block forever, a device never ends), at most ``MAX_FILE_BYTES``
(so a runaway file cannot exhaust memory before a single check runs), UTF-8, and no
characters that hide what a file says. A file that cannot be read is a usage problem (exit
2); a character or a line gpufleet refuses is located like every other problem in the file.
"""

from __future__ import annotations

import errno
import os
import re
import stat
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from gpufleet.errors import GpufleetError, UsageError
from gpufleet.findings import Finding, Location, declare

# A stack of the largest allowed size (see ``gpufleet.values``) is far below this.
MAX_FILE_BYTES = 1024 * 1024
# YAML scanners slow down on very long lines; no field gpufleet reads needs more (an IAM ARN,
# the longest value a stack holds, is at most 2,048 characters).
MAX_LINE_CHARACTERS = 4096

BAD_CHARACTER = declare(
    "GF-YAML-003",
    "error",
    "A character YAML does not allow, or one that hides or reorders text (bidirectional controls, zero-width characters).",
    "Delete the character; retype the line if you cannot see it.",
)
LONG_LINE = declare(
    "GF-YAML-008", "error", f"A line longer than {MAX_LINE_CHARACTERS} characters.", "Break the value up or shorten it."
)

# YAML 1.2 allows tab, line feed, carriage return, NEL and the printable planes; the rest
# of C0/C1, DEL, surrogates and the two non-characters are refused by the spec itself.
# Bidirectional controls make text display in another order than it is read (the "Trojan
# Source" attack, CVE-2021-42574) and zero-width characters make two names look alike.
_REFUSED = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\x80-\x84\x86-\x9f\ud800-\udfff\ufffe\uffff"
    "\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]"
)
_NAMES = {
    "\u061c": "ARABIC LETTER MARK",
    "\u200b": "ZERO WIDTH SPACE",
    "\u200c": "ZERO WIDTH NON-JOINER",
    "\u200d": "ZERO WIDTH JOINER",
    "\u200e": "LEFT-TO-RIGHT MARK",
    "\u200f": "RIGHT-TO-LEFT MARK",
    "\u202a": "LEFT-TO-RIGHT EMBEDDING",
    "\u202b": "RIGHT-TO-LEFT EMBEDDING",
    "\u202c": "POP DIRECTIONAL FORMATTING",
    "\u202d": "LEFT-TO-RIGHT OVERRIDE",
    "\u202e": "RIGHT-TO-LEFT OVERRIDE",
    "\u2060": "WORD JOINER",
    "\u2066": "LEFT-TO-RIGHT ISOLATE",
    "\u2067": "RIGHT-TO-LEFT ISOLATE",
    "\u2068": "FIRST STRONG ISOLATE",
    "\u2069": "POP DIRECTIONAL ISOLATE",
    "\ufeff": "ZERO WIDTH NO-BREAK SPACE (a byte order mark inside the text)",
}


UNREADABLE = declare(
    "GF-FILE-001",
    "error",
    "An input gpufleet cannot read at all: missing, a folder, a FIFO or device, a symlink loop, past 1 MiB, or not UTF-8.",
    "Point gpufleet at a regular UTF-8 file of at most 1 MiB.",
)


class InputFileError(UsageError):
    """The file cannot be read at all (missing, a directory, a FIFO, too big, not UTF-8): exit 2."""

    def __init__(self, shown: str, kind: str, reason: str) -> None:
        super().__init__(f"{shown}: cannot read {kind}: {reason}")
        self.shown, self.kind, self.reason = shown, kind, reason

    @property
    def finding(self) -> Finding:
        """The same refusal as a finding at the file's start, for reports that go on (``check``)."""
        return UNREADABLE.finding((), f"cannot read {self.kind}: {self.reason}").located(Location(self.shown, 1, 1))


class InputInvalid(GpufleetError):
    """An input has problems; ``findings`` holds all of them, located and sorted."""

    def __init__(self, findings: Sequence[Finding]) -> None:
        super().__init__("\n".join(str(f) for f in findings))
        self.findings = tuple(findings)


@dataclass(frozen=True)
class InputText:
    path: Path
    shown: str
    text: str


def display_path(path: Path) -> str:
    """The path as the user should read it: relative to the working directory when inside it.

    ``os.path.abspath`` never follows links, so a symlink loop cannot make naming it fail.
    """
    absolute = os.path.abspath(path)
    relative = os.path.relpath(absolute, os.getcwd())
    outside = relative == os.pardir or relative.startswith(os.pardir + os.sep)
    shown = str(path) if outside else relative
    # A newline or an escape sequence in a file name must not forge lines of gpufleet's output.
    return shown if shown.isprintable() else ascii(shown)


def read_input(path: str | Path, kind: str) -> InputText:
    """Read a regular UTF-8 file of at most ``MAX_FILE_BYTES``; refuse anything else clearly."""
    path = Path(path)
    shown = display_path(path)

    def refuse(reason: str) -> InputFileError:
        return InputFileError(shown, kind, reason)

    try:
        # O_NONBLOCK: opening a FIFO with no writer must not wait for one.
        descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as error:
        raise refuse(_open_failure(error)) from None
    try:
        status = os.fstat(descriptor)
        if stat.S_ISDIR(status.st_mode):
            raise refuse("it is a directory; name a file")
        if not stat.S_ISREG(status.st_mode):
            raise refuse(f"it is {_file_kind(status.st_mode)}, not a regular file")
        data = _read_at_most(descriptor, MAX_FILE_BYTES + 1)
    except OSError as error:
        raise refuse(error.strerror or str(error)) from None
    finally:
        os.close(descriptor)
    if len(data) > MAX_FILE_BYTES:
        raise refuse(f"it is larger than {MAX_FILE_BYTES // 1024} KiB, the most gpufleet reads")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        before = data[: error.start].decode("utf-8")
        line, column = _line_column(before, len(before))
        raise refuse(f"not UTF-8 text (byte 0x{data[error.start]:02x} at line {line}, column {column})") from None
    return InputText(path=path, shown=shown, text=text.removeprefix("\ufeff"))


def check_text(text: str, shown: str) -> list[Finding]:
    """Refused characters and over-long lines, each at its own line and column (first few only).

    The YAML parser runs this before anything else, so every input kind is held to it.
    """
    problems: list[Finding] = []
    for match in _REFUSED.finditer(text):
        character = match.group()
        name = _NAMES.get(character, "a control character")
        line, column = _line_column(text, match.start())
        message = f"character U+{ord(character):04X} ({name}) is not allowed here"
        problems.append(BAD_CHARACTER.finding((), message).located(Location(shown, line, column)))
        if len(problems) >= 5:
            break
    for number, line_text in enumerate(text.split("\n"), start=1):
        if len(line_text) > MAX_LINE_CHARACTERS:
            message = f"line is {len(line_text)} characters long; at most {MAX_LINE_CHARACTERS} are allowed"
            problems.append(LONG_LINE.finding((), message).located(Location(shown, number, MAX_LINE_CHARACTERS + 1)))
            if len(problems) >= 10:
                break
    return problems


def _line_column(text: str, index: int) -> tuple[int, int]:
    line = text.count("\n", 0, index) + 1
    return line, index - (text.rfind("\n", 0, index) + 1) + 1


def _read_at_most(descriptor: int, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while size < limit:
        chunk = os.read(descriptor, min(65536, limit - size))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


def _open_failure(error: OSError) -> str:
    if error.errno == errno.ELOOP:
        return "a symbolic link loop (the link points, directly or not, back at itself)"
    return error.strerror or str(error)


def _file_kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "a special file"
