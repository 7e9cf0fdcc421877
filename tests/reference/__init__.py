"""The one way tests read upstream reference files: by manifest name, verified by sha256.

The folder is the one setting ``GPUFLEET_REFERENCE`` (see ``scripts/fetch_references.py``). A test
whose file is missing or altered fails with one line naming the fetch command; nothing skips.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pytest

from scripts.fetch_references import FETCH_COMMAND, SETTING, Reference, load_manifest, problem, reference_folder

_verified: set[Path] = set()


@cache
def manifest() -> dict[str, Reference]:
    return load_manifest()


def reference_path(name: str) -> Path:
    """The path of manifest file ``name`` (``k8s/...``, ``nvidia-mig-configs/...``), once its hash is checked."""
    folder = reference_folder()
    path = folder / name
    if path not in _verified:
        found = problem(folder, manifest()[name])
        if found is not None:
            pytest.fail(
                f"{found}: run {FETCH_COMMAND} (the folder is ${SETTING}, by default shared/reference beside the checkout)",
                pytrace=False,
            )
        _verified.add(path)
    return path


def reference_names(folder: str) -> list[str]:
    """The manifest's files in one folder of the reference tree (``nvidia-mig-configs``), by name."""
    return sorted(name.removeprefix(f"{folder}/") for name in manifest() if name.startswith(f"{folder}/"))
