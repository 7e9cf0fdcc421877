"""The Analyzer driver: the engine's calls in the engine's order, config, crashes, failures."""

from __future__ import annotations

import pytest

from gpufleet.policy.analyzer import PolicyConfigError, PolicyPackError, StackIdentity, run_pack
from gpufleet.policy.check import PROJECT_PACK
from gpufleet.policy.pack import INSTALLED_PACK
from gpufleet.policy.results import policy_findings
from gpufleet.stack import load_stack
from tests.policy.conftest import PACK, PROD, REPO, changed, identity, key_line, removed

RAISING_PACK = REPO / "tests" / "data" / "raising_pack"


def test_pack_lists_every_policy_with_level_schema_rule_id_and_fix(prod_resources):
    run = run_pack(PACK, identity(PROD), prod_resources[:1])
    assert run.pack == "gpufleet"
    names = [policy.name for policy in run.policies]
    assert len(names) == len(set(names)) == 33
    rule_ids = sorted(tag for policy in run.policies for tag in policy.tags if tag.startswith("GF-"))
    assert rule_ids == sorted(
        {f"GF-SEC-{n:03d}" for n in range(1, 13)}
        | {f"GF-PRC-{n:03d}" for n in range(1, 17)}
        | {"GF-CST-001", "GF-CST-002", "GF-IMP-006", "GF-IMP-007", "GF-IMP-008"}
    )
    assert all(
        policy.description and policy.remediation and policy.enforcement in ("mandatory", "advisory") for policy in run.policies
    )
    advisory = sorted(policy.name for policy in run.policies if policy.enforcement == "advisory")
    # Every policy blocks by default (a stack lowers one with --policy-config) but the budget's
    # warning band, whose point is to warn below the budget that monthly-budget enforces, and the
    # day-2 warnings whose edit is right once the block has ended or the queue's jobs are done.
    assert advisory == [
        "capacity-block-pool-scaled-to-zero-before-update",
        "kueue-queue-stopped-before-removal",
        "monthly-budget-headroom",
    ]
    feed = run.policy("hot-storage-feeds-training")
    assert feed is not None and feed.kind == "stack" and feed.config_schema["read_mbs_per_gpu"]["default"] == 180
    assert "mlcommons.org" in feed.config_schema["read_mbs_per_gpu"]["description"]
    assert run.config["hot-storage-feeds-training"] == {"enforcementLevel": "mandatory", "read_mbs_per_gpu": 180}


def test_installed_pack_runs_the_same_policies_as_the_projects(prod_resources):
    project = run_pack(PROJECT_PACK, identity(PROD), prod_resources)
    installed = run_pack(INSTALLED_PACK, identity(PROD), prod_resources)
    assert project.policies == installed.policies
    assert project.diagnostics == installed.diagnostics


def test_policy_config_file_sets_levels_and_thresholds(analyze_prod, prod_resources):
    plain_and_open = changed(
        removed(prod_resources, "datasets-tls-only"), "ai-prod-eks", lambda inputs: inputs["vpcConfig"].pop("publicAccessCidrs")
    )
    findings = analyze_prod(
        plain_and_open, {"all": "advisory", "s3-tls-only": "mandatory", "eks-endpoint-not-public-in-production": "disabled"}
    )
    assert [(f.finding.rule_id, f.finding.severity) for f in findings] == [("GF-SEC-004", "error")]


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"no-such-policy": "mandatory"}, "policy config names unknown policies: no-such-policy"),
        ({"s3-tls-only": "blocking"}, "policy s3-tls-only: enforcementLevel 'blocking' is not one of"),
        (
            {"hot-storage-feeds-training": {"read_mbs_per_gpu": -5}},
            "policy hot-storage-feeds-training: read_mbs_per_gpu: -5 is less than or equal to the minimum of 0",
        ),
        (
            {"imdsv2-required": {"max_hops": 1}},
            "policy imdsv2-required: Additional properties are not allowed ('max_hops' was unexpected)",
        ),
    ],
)
def test_bad_policy_config_is_a_usage_error(prod_resources, config, message):
    with pytest.raises(PolicyConfigError) as raised:
        run_pack(PACK, identity(PROD), prod_resources[:1], config)
    assert raised.value.exit_code == 2
    assert str(raised.value).startswith(message)


def test_a_gpufleet_policy_that_raises_is_reported_as_an_error_at_its_pool(analyze_prod, prod_resources):
    def garbled(inputs):
        inputs["metadataOptions"]["httpPutResponseHopLimit"] = "two"

    findings = analyze_prod(changed(prod_resources, "train-h200-template", garbled))
    (crash,) = [f for f in findings if f.finding.rule_id == "GF-POL-000"]
    assert crash.mandatory and crash.finding.field == "node_pools.train-h200"
    assert crash.finding.line == key_line(PROD, "node_pools", "train-h200")
    assert crash.finding.message.startswith("policy imdsv2-required crashed on train-h200-template: ")
    assert "gpufleet policy imdsv2-required: ValueError: invalid literal for int()" in crash.finding.message


def test_any_pack_whose_policy_raises_is_reported_not_passed(prod_resources):
    run = run_pack(RAISING_PACK, identity(PROD), prod_resources)
    (crash,) = [d for d in run.diagnostics if d.crashed]
    assert crash.enforcement == "mandatory" and "division by zero" in crash.message
    findings = {f.finding.rule_id: f for f in policy_findings(run, prod_resources, load_stack(PROD).locator)}
    assert set(findings) == {"GF-POL-000", "GF-POL-001"}
    assert findings["GF-POL-000"].mandatory and findings["GF-POL-000"].finding.line == 1
    foreign = findings["GF-POL-001"]
    assert foreign.finding.severity == "warning" and foreign.policy == "flags-the-stack"
    assert foreign.finding.message == "a finding from a pack that is not gpufleet's"


def test_a_directory_without_pulumipolicy_yaml_is_refused(tmp_path):
    with pytest.raises(PolicyPackError, match=r"is not a policy pack: it has no PulumiPolicy\.yaml"):
        run_pack(tmp_path, StackIdentity("gpufleet", "prod"), [])


def test_a_pack_that_dies_before_printing_its_port_is_an_error_naming_its_output(tmp_path):
    (tmp_path / "PulumiPolicy.yaml").write_text("name: broken\nruntime: python\n", encoding="utf-8")
    (tmp_path / "__main__.py").write_text("raise SystemExit('cannot load my policies')\n", encoding="utf-8")
    with pytest.raises(PolicyPackError) as raised:
        run_pack(tmp_path, StackIdentity("gpufleet", "prod"), [])
    assert "exited before it printed its port" in str(raised.value) and "cannot load my policies" in str(raised.value)
    assert raised.value.exit_code == 1


def test_the_packs_servicer_answers_as_the_sdks_does(monkeypatch, prod_resources):
    """``policy/pack/shared.py`` builds each request's resources once for every policy; the SDK's
    own servicer rebuilds them per policy. On the same requests (prod with an IMDSv1 launch
    template, a public endpoint and a training pool without its taint) both must report the
    same violations, levels and not-applicable policies, call by call."""
    import json

    from pulumi_policy import policy as sdk

    from gpufleet.policy.analyzer import analyze_request, analyze_stack_request
    from gpufleet.policy.pack import policy_definitions
    from gpufleet.policy.pack.build import sdk_policy
    from gpufleet.policy.pack.shared import SharedServicer

    monkeypatch.setenv("PULUMI_STACK", "prod")
    monkeypatch.setenv("PULUMI_PROJECT", "gpufleet")
    monkeypatch.setenv("PULUMI_DRY_RUN", "true")
    monkeypatch.setenv("PULUMI_CONFIG", json.dumps({"gpufleet:spec": str(PROD.resolve())}))
    broken = changed(prod_resources, "system-template", lambda inputs: inputs["metadataOptions"].update(httpTokens="optional"))
    broken = changed(broken, "ai-prod-eks", lambda inputs: inputs["vpcConfig"].update(publicAccessCidrs=["0.0.0.0/0"]))
    broken = changed(broken, "train-h200-nodes", lambda inputs: inputs.update(taints=[]))
    requests = [analyze_request(r) for r in broken]
    stack = analyze_stack_request(broken)

    def answers(servicer_class):
        servicer = servicer_class(
            "gpufleet", "0.0.1", [sdk_policy(d) for d in policy_definitions()], sdk.EnforcementLevel.MANDATORY
        )
        responses = [servicer.Analyze(request, None) for request in requests] + [servicer.AnalyzeStack(stack, None)]
        return [
            (
                sorted((d.policyName, d.message, d.urn, d.enforcementLevel) for d in response.diagnostics),
                sorted((n.policy_name, n.reason) for n in response.not_applicable),
            )
            for response in responses
        ]

    ours, theirs = answers(SharedServicer), answers(sdk._PolicyAnalyzerServicer)
    assert ours == theirs
    reported = {name for diagnostics, _ in ours for name, *_ in diagnostics}
    assert {"imdsv2-required", "eks-endpoint-not-public-in-production", "training-inference-apart"} <= reported
