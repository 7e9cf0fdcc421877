"""Hundreds of random edits of each example stack (1,600 in all): each loads and resolves, or fails with
gpufleet's own located error, never with any other exception. (``bench/mutations.py`` runs
the same mutations at ten times the count.)"""

from __future__ import annotations

from pathlib import Path

import pytest

from gpufleet.catalog import load_catalog
from gpufleet.inputs import InputFileError, InputInvalid
from gpufleet.model import resolve
from gpufleet.stack import load_stack
from tests.hostile.mutate import mutations

REPO = Path(__file__).resolve().parents[2]
STACKS = sorted((REPO / "stacks").glob("*.yaml"))
CATALOG = load_catalog()
PER_STACK = 400


def outcome(path: Path, text: str) -> str:
    """'valid', 'invalid' or 'unreadable'; anything else propagates and fails the test."""
    try:
        resolve(load_stack(path), CATALOG)
    except InputFileError:
        return "unreadable"
    except InputInvalid as invalid:
        lines = text.split("\n")
        for finding in invalid.findings:
            assert finding.location is not None, finding
            assert 1 <= finding.line <= len(lines), (finding, len(lines))
            assert len(str(finding)) < 1000, "a message must quote an excerpt, not the whole value"
        return "invalid"
    return "valid"


@pytest.mark.parametrize("stack", STACKS, ids=[path.stem for path in STACKS])
def test_mutated_stacks_fail_only_with_gpufleets_own_errors(stack: Path, tmp_path: Path) -> None:
    target = tmp_path / stack.name
    seen: dict[str, int] = {}
    for index, text in enumerate(mutations(stack.read_text(encoding="utf-8"), PER_STACK, seed=sum(map(ord, stack.stem)))):
        target.write_text(text, encoding="utf-8", newline="")
        try:
            result = outcome(target, text)
        except Exception as error:
            raise AssertionError(f"mutation {index} of {stack.name} raised {error!r}:\n{text}") from error
        seen[result] = seen.get(result, 0) + 1
    # The mutations must actually exercise both outcomes, or the test proves nothing.
    assert seen.get("invalid", 0) > PER_STACK // 2, seen
    assert seen.get("valid", 0) > 0, seen
