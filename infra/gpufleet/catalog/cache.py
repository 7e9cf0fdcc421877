"""The catalog's data files parsed once per change, not once per command.

Parsing the catalog's YAML (about 130 KB of it for one ``validate``) took a tenth of a short
command's time; reading back the parsed values (plain dicts, lists and scalars) with
``marshal`` takes about 1 ms. Entries live in the user's cache folder
(``$XDG_CACHE_HOME/gpufleet``, else ``~/.cache/gpufleet``), named by the data file and keyed
by a hash of its text, of the YAML reader's source and of the Python version, so an edited
data file, a changed reader or another interpreter parses afresh. The cache is best effort:
a folder that cannot be written or an entry that cannot be read only means parsing again.
Only the catalog's own files come through here; user input is always parsed.
"""

from __future__ import annotations

import hashlib
import marshal
import os
import sys
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any


def cached_parse(name: str, text: str, parse: Callable[[str], Any]) -> Any:
    """``parse(text)``, or what it returned last time for this very text."""
    folder = _folder()
    digest = hashlib.sha256(_reader_key() + text.encode("utf-8")).hexdigest()[:32]
    entry = folder / f"{name}.{digest}.marshal"
    try:
        return marshal.loads(entry.read_bytes())
    except (OSError, EOFError, ValueError, TypeError):
        pass
    value = parse(text)
    _store(folder, name, entry, value)
    return value


def _folder() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "gpufleet"


@lru_cache(maxsize=1)
def _reader_key() -> bytes:
    from gpufleet import yamltree

    return f"{sys.version_info[:3]} marshal {marshal.version}\n".encode() + Path(yamltree.__file__).read_bytes()


def _store(folder: Path, name: str, entry: Path, value: Any) -> None:
    """Write the entry whole (``outputs.write_file``) and drop this file's older entries; a cache
    that cannot be written is only slower."""
    from gpufleet.outputs import OutputError, write_file

    try:
        write_file(entry, marshal.dumps(value))
        for older in folder.glob(f"{name}.*.marshal"):
            if older != entry:
                older.unlink(missing_ok=True)
    except (OSError, OutputError):
        pass
