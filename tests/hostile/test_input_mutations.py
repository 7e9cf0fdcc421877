"""Random edits of the inputs around the stack file: a stamped stack's header (``new --from``),
single ``--set`` values, and a policy config (``check --policy-config``). Each mutant is
accepted or refused with gpufleet's own located error, never any other exception, like the
stack mutations of ``test_stack_mutations.py``."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from gpufleet.catalog import load_catalog
from gpufleet.errors import GpufleetError
from gpufleet.inputs import InputFileError, InputInvalid
from gpufleet.policy.analyzer import PolicyConfigError, PolicyInfo, effective_config
from gpufleet.policy.check import read_policy_config
from gpufleet.policy.pack import policy_definitions
from gpufleet.templating import HEADER_INDENT, ParametersInvalid, TemplateError, header_values, load_template, parse_assignments
from tests.hostile.mutate import mutations

REPO = Path(__file__).resolve().parents[2]
CATALOG = load_catalog()
TEMPLATE = load_template("llm-training", REPO / "infra" / "gpufleet" / "templates", CATALOG)
STAGING = (REPO / "stacks" / "staging.yaml").read_text(encoding="utf-8")
HEADER = STAGING[: STAGING.index("\ncluster:") + 1]
PER_SURFACE = 300


def located_within(findings, text: str) -> None:
    lines = text.split("\n")
    for finding in findings:
        if finding.location is not None:
            assert 1 <= finding.line <= len(lines) + 1, (finding, len(lines))
        assert len(str(finding)) < 1000, "a message quotes an excerpt, not the whole value"


def render_outcome(given, source: str) -> str:
    """'valid' or 'invalid'; anything but gpufleet's own errors propagates and fails the test.
    A refused value is located within ``source``, the text it was read from."""
    try:
        TEMPLATE.render("t", given, CATALOG, root=Path("/nonexistent-root"))
    except ParametersInvalid as invalid:
        located_within(invalid.findings, source)
        return "invalid"
    except InputInvalid as invalid:  # the rendered stack does not resolve
        assert all(finding.location is not None for finding in invalid.findings)
        return "invalid"
    except TemplateError:
        return "invalid"
    return "valid"


def test_mutated_headers_fail_only_with_gpufleets_own_errors(tmp_path: Path) -> None:
    seen: dict[str, int] = {}
    for index, text in enumerate(mutations(HEADER, PER_SURFACE, seed=27)):
        try:
            try:
                _, given = header_values(text, "staging.yaml")
            except ValueError:  # no header left at all: `new` says so (exit 2)
                result = "no header"
            except InputInvalid as invalid:
                assert invalid.exit_code == 2
                located_within(invalid.findings, text)
                assert all(finding.location is not None for finding in invalid.findings)
                result = "unreadable"
            else:
                result = render_outcome(given, text)
        except Exception as error:
            raise AssertionError(f"mutation {index} of the header raised {error!r}:\n{text}") from error
        seen[result] = seen.get(result, 0) + 1
    assert seen.get("valid", 0) > 0 and seen.get("unreadable", 0) > 0 and seen.get("invalid", 0) > 0, seen


def test_mutated_set_values_fail_only_with_gpufleets_own_errors() -> None:
    """Each mutant header line, given as one ``--set name=value`` on top of the header's values."""
    _, base = header_values(STAGING, "staging.yaml")
    rng = random.Random(2027)
    seen: dict[str, int] = {}
    for index, text in enumerate(mutations(HEADER, PER_SURFACE, seed=227)):
        lines = [line.removeprefix(HEADER_INDENT) for line in text.split("\n") if line.startswith(HEADER_INDENT)]
        if not lines:
            continue
        name, _, value = rng.choice(lines).partition(": ")
        assignment = f"{name}={value}"
        try:
            assigned, problems = parse_assignments([assignment])
            result = "refused" if problems else render_outcome({**base, **assigned}, HEADER)
        except Exception as error:
            raise AssertionError(f"mutation {index}: --set {assignment!r} raised {error!r}") from error
        seen[result] = seen.get(result, 0) + 1
    assert seen.get("valid", 0) > 0 and seen.get("invalid", 0) > 0, seen


POLICIES = [
    PolicyInfo(p.name, p.description, p.enforcement, p.kind, p.tags, p.fix, dict(p.schema or {})) for p in policy_definitions()
]
POLICY_CONFIG = json.dumps(
    {
        "all": "advisory",
        "imdsv2-required": {"enforcementLevel": "mandatory", "max_hop_limit": 2},
        "eks-audit-logging": {"log_types": ["api", "audit"]},
        "hot-storage-feeds-training": {"read_mbs_per_gpu": 250.5},
        "non-production-scale-to-zero": {"production_stacks": ["prod", "live"], "expensive_gpus_per_node": 4},
        "models-fit-gpu-memory": "disabled",
    },
    indent=2,
)


@pytest.mark.parametrize("seed", [24, 25])
def test_mutated_policy_configs_fail_only_with_gpufleets_own_errors(seed: int, tmp_path: Path) -> None:
    """Read as ``check`` reads it, then merged into the pack's policies as the Analyzer's
    Configure call would be: a refusal is located in the file (exit 2)."""
    path = tmp_path / "policy.json"
    seen: dict[str, int] = {}
    for index, text in enumerate(mutations(POLICY_CONFIG, PER_SURFACE // 2, seed=seed)):
        path.write_text(text, encoding="utf-8", newline="")
        try:
            result = policy_outcome(path, text)
        except Exception as error:
            raise AssertionError(f"mutation {index} of the policy config raised {error!r}:\n{text}") from error
        seen[result] = seen.get(result, 0) + 1
    assert seen.get("valid", 0) > 0 and seen.get("invalid", 0) > PER_SURFACE // 8, seen


def policy_outcome(path: Path, text: str) -> str:
    try:
        config = read_policy_config(path)
    except InputFileError:
        return "unreadable"
    except InputInvalid as invalid:
        assert invalid.exit_code == 2
        located_within(invalid.findings, text)
        assert all(finding.location is not None for finding in invalid.findings)
        return "invalid"
    try:
        effective_config(POLICIES, {}, config.values)
    except PolicyConfigError as refused:
        located = config.located(refused.path, refused.reason) if refused.path else None
        if located is not None:
            located_within(located.findings, text)
        assert isinstance(refused, GpufleetError) and refused.exit_code == 2
        return "invalid"
    return "valid"
