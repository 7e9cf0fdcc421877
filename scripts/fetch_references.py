"""Fetch the upstream reference files the tests validate against, exactly those in the manifest.

    python scripts/fetch_references.py [--dest DIR] [--from DIR | --base-url URL]

``tests/reference/manifest.toml`` names each file's repository, commit, path and sha256. Every
file goes to ``DIR/<name>`` (default: the folder the tests read, ``$GPUFLEET_REFERENCE``, else
``../shared/reference`` beside the repository), downloaded from
``raw.githubusercontent.com/<repository>/<commit>/<path>`` or copied from another folder with the
same layout (``--from``). A file already there with the right hash is kept, so a complete folder
needs no network. A download whose hash differs is not written. Nothing else in DIR is touched.
Exit 0 when every file is there and verified, 1 otherwise (each problem on one line).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import tomllib
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

REPO = Path(__file__).resolve().parent.parent
MANIFEST = REPO / "tests" / "reference" / "manifest.toml"
SETTING = "GPUFLEET_REFERENCE"
DEFAULT_FOLDER = REPO.parent / "shared" / "reference"
GITHUB_RAW = "https://raw.githubusercontent.com"
FETCH_COMMAND = "python scripts/fetch_references.py"


@dataclass(frozen=True)
class Reference:
    """One upstream file: where it comes from and the bytes it must have."""

    name: str
    repository: str
    commit: str
    path: str
    sha256: str
    tag: str | None = None
    note: str | None = None

    def url(self, base: str = GITHUB_RAW) -> str:
        return f"{base.rstrip('/')}/{self.repository}/{self.commit}/{quote(self.path)}"


def load_manifest(path: Path = MANIFEST) -> dict[str, Reference]:
    with path.open("rb") as handle:
        entries = tomllib.load(handle)["file"]
    return {entry["name"]: Reference(**entry) for entry in entries}


def reference_folder(environ: Mapping[str, str] = os.environ) -> Path:
    """The one setting: ``$GPUFLEET_REFERENCE`` (a relative path is from the repository root)."""
    configured = environ.get(SETTING)
    return REPO / configured if configured else DEFAULT_FOLDER


def problem(folder: Path, reference: Reference) -> str | None:
    """Why ``folder`` does not hold ``reference`` as published, or None when it does."""
    target = folder / reference.name
    if not folder.is_dir():
        return f"the reference folder {folder} does not exist"
    if not target.is_file():
        return f"{reference.name} is missing from {folder}"
    if _sha256(target.read_bytes()) != reference.sha256:
        return f"{reference.name} in {folder} is not the file {reference.repository}@{reference.commit[:12]} published (sha256 differs)"
    return None


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


Getter = Callable[[Reference], bytes]


def from_url(base: str = GITHUB_RAW, timeout: float = 60) -> Getter:
    def get(reference: Reference) -> bytes:
        with urllib.request.urlopen(reference.url(base), timeout=timeout) as response:
            return bytes(response.read())

    return get


def from_folder(source: Path) -> Getter:
    return lambda reference: (source / reference.name).read_bytes()


def fetch(references: Sequence[Reference], folder: Path, get: Getter) -> list[str]:
    """Bring every file into ``folder``; the problems left, one line each."""
    problems = []
    for reference in references:
        if problem(folder, reference) is None:
            continue
        try:
            data = get(reference)
        except OSError as error:  # urllib's errors and a missing source file alike
            problems.append(f"{reference.name}: cannot get it: {error}")
            continue
        if _sha256(data) != reference.sha256:
            problems.append(f"{reference.name}: got sha256 {_sha256(data)}, the manifest says {reference.sha256}; not written")
            continue
        target = folder / reference.name
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(target.name + ".partial")
        partial.write_bytes(data)
        partial.replace(target)
    return problems


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dest", type=Path, help=f"where to put them (default: ${SETTING}, else {DEFAULT_FOLDER})")
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--from", dest="source", type=Path, help="copy from this folder instead of downloading")
    source.add_argument("--base-url", default=GITHUB_RAW, help=f"where to download from (default {GITHUB_RAW})")
    args = parser.parse_args(argv)
    folder = args.dest or reference_folder()
    references = list(load_manifest().values())
    problems = fetch(references, folder, from_folder(args.source) if args.source else from_url(args.base_url))
    for line in problems:
        print(line, file=sys.stderr)
    print(f"{len(references) - len(problems)} of {len(references)} reference files verified in {folder}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
