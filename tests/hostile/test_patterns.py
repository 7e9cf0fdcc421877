"""Every pattern that checks what a user wrote is anchored at the very end of the text and uses
ASCII classes, so a trailing newline or a Unicode digit never passes for a name or a number.

Python's ``re`` lets ``$`` match before a final newline (``re.match(r"^arn:...$", "arn:...\\n")``
matches) and, for text patterns, lets ``\\d`` match any Unicode digit (``1.٣٣`` passed
``^1\\.\\d{2}$``); pydantic's Rust engine reads ``$`` as the end of the text, but its ``\\d`` is
Unicode too. The rule, checked here over the source: an anchored pattern uses ``[0-9]``-style
classes (or ``re.ASCII``), and a Python pattern ends in ``\\Z`` or is used with ``fullmatch``.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gpufleet.cli import app

PACKAGE = Path(__file__).resolve().parents[2] / "infra" / "gpufleet"
# Parsers of tools' own output (nccl-tests, dcgmi logs): they read no name a user writes.
OUTPUT_PARSERS = ("verify",)
UNICODE_CLASSES = re.compile(r"\\[dwsDWS]")
PYTHON_RE = {"compile", "match", "search", "fullmatch"}


def patterns() -> list[tuple[str, int, str, str, bool]]:
    """(file, line, pattern, engine, ascii flag) for every literal pattern in the package."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE)
        if relative.parts[0] in OUTPUT_PARSERS:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            function = node.func
            name = function.attr if isinstance(function, ast.Attribute) else getattr(function, "id", "")
            flags = " ".join(ast.unparse(argument) for argument in node.args[1:]) + " ".join(
                ast.unparse(keyword.value) for keyword in node.keywords if keyword.arg == "flags"
            )
            is_re = name in PYTHON_RE and isinstance(function, ast.Attribute) and ast.unparse(function.value) == "re"
            if is_re and node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str):
                engine = "fullmatch" if name == "fullmatch" else "python"
                found.append((str(relative), node.lineno, node.args[0].value, engine, "ASCII" in flags))
            for keyword in node.keywords:
                if keyword.arg == "pattern" and isinstance(keyword.value, ast.Constant) and isinstance(keyword.value.value, str):
                    found.append((str(relative), node.lineno, keyword.value.value, "pydantic", False))
    return found


def anchored(pattern: str) -> bool:
    return pattern.startswith("^") or pattern.endswith(("$", r"\Z"))


def test_the_scan_finds_the_patterns_it_is_about() -> None:
    found = {(file, pattern) for file, _, pattern, _, _ in patterns()}
    assert any(file == "names.py" for file, _ in found)
    assert any(file == "stack/models.py" and "iam::" in pattern for file, pattern in found)
    assert sum(1 for _, _, _, engine, _ in patterns() if engine == "pydantic") >= 8


def test_anchored_patterns_use_ascii_classes() -> None:
    offending = [
        f"{file}:{line}: {pattern}"
        for file, line, pattern, _, ascii_only in patterns()
        if anchored(pattern) and UNICODE_CLASSES.search(pattern) and not ascii_only
    ]
    assert offending == []


def test_python_patterns_end_at_the_end_of_the_text() -> None:
    offending = [
        f"{file}:{line}: {pattern}"
        for file, line, pattern, engine, _ in patterns()
        if engine == "python" and pattern.endswith("$") and not pattern.endswith(r"\$")
    ]
    assert offending == []


def test_pydantic_patterns_are_anchored_at_both_ends() -> None:
    """pydantic searches (``re.search`` semantics): a pattern without ``^`` and ``$`` checks a part only."""
    offending = [
        f"{file}:{line}: {pattern}"
        for file, line, pattern, engine, _ in patterns()
        if engine == "pydantic" and not (pattern.startswith("^") and pattern.endswith("$"))
    ]
    assert offending == []


@pytest.mark.parametrize(
    ("field", "value", "says"),
    [
        ("kubernetes_version", '"1.\u0663\u0663"', "cluster.kubernetes_version: invalid value '1.\u0663\u0663'"),
        ("ami_release", '"v2025\u0660\u0666\u0662\u0660"', "cluster.ami_release: invalid value"),
        ("region", '"us-east-\u0661"', "cluster.region: invalid value"),
        ("admins", '["arn:aws:iam::123456789012:role/admin\\n"]', "is not an IAM role or user ARN"),
    ],
)
def test_a_unicode_digit_or_a_trailing_newline_does_not_pass(
    field: str, value: str, says: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lines = ["cluster:", "  name: c", "  provider: aws", "  region: us-east-1", '  kubernetes_version: "1.33"']
    lines = [line for line in lines if not line.startswith(f"  {field}:")] + [f"  {field}: {value}"]
    lines += ["network: {vpc_cidr: 10.0.0.0/16, availability_zones: [us-east-1a, us-east-1b]}"]
    lines += ["node_pools:", "  system: {workload: system, instance_type: m7i.xlarge, nodes: {min: 1, max: 2}}"]
    (tmp_path / "c.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["validate", "c.yaml"])
    assert result.exit_code == 1, result.output
    assert says in result.output
