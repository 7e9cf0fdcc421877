"""Plain-text secrets in stack config: the pack reads config the way the engine passes it."""

from __future__ import annotations

from gpufleet.policy.analyzer import PolicyPackSession, StackIdentity
from gpufleet.policy.results import policy_findings
from gpufleet.stack import load_stack
from tests.policy.conftest import PACK, PROD, identity, of_rule


def test_secret_looking_config_must_be_a_secret(prod_resources):
    base = identity(PROD)
    config = {**base.config, "gpufleet:dbPassword": "hunter2", "gpufleet:apiToken": "[secret]", "gpufleet:region": "us-east-1"}
    stack = StackIdentity(project=base.project, stack=base.stack, config=config, secret_keys=("gpufleet:apiToken",))
    with PolicyPackSession(PACK, stack) as session:
        run = session.analyze(prod_resources, {})
    (finding,) = of_rule(policy_findings(run, prod_resources, load_stack(PROD).locator), "GF-SEC-012")
    assert finding.mandatory and finding.finding.line == 1 and finding.owner == "stack"
    assert (
        finding.finding.message
        == "stack config gpufleet:dbPassword is stored in plain text; set it with `pulumi config set --secret gpufleet:dbPassword`."
    )


def test_a_policy_config_pattern_cannot_stall_the_pack(prod_resources):
    """``secret_key_pattern`` comes from the policy config, a user's file: ``(a+)+$`` against a
    40-letter key takes Python's ``re`` about 2**40 steps. The pack searches with pydantic's
    Rust engine (linear), so the run ends and the pattern still means what it says."""
    base = identity(PROD)
    key = "gpufleet:" + "a" * 40 + "!"
    config = {**base.config, key: "x", "gpufleet:aaa": "y"}
    stack = StackIdentity(project=base.project, stack=base.stack, config=config)
    with PolicyPackSession(PACK, stack) as session:
        run = session.analyze(prod_resources, {"no-plaintext-secrets": {"secret_key_pattern": "^(a+)+$"}})
    found = of_rule(policy_findings(run, prod_resources, load_stack(PROD).locator), "GF-SEC-012")
    assert [finding.finding.message.split(" is stored")[0] for finding in found] == ["stack config gpufleet:aaa"]
