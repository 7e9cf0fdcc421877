"""The provider facts the impact classifier reads: one entry per rendered type, for the provider
versions the lock installs, and conditional facts judged on the values.

The facts (``catalog/data/impact.yaml``) were read from terraform-provider-aws v6.58.0's schema
and CustomizeDiff functions, pulumi-kubernetes' ``diff.go`` and the Kubernetes and Kueue
validation; a pulumi-aws or pulumi-kubernetes bump changes which provider they describe, so the
versions they were read for must be the ones the lock pins.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from gpufleet.catalog import _require_sources, load_catalog, read_data_file
from gpufleet.catalog.impact import ImpactFacts
from gpufleet.impact import Rendered, classify

REPO = Path(__file__).resolve().parents[2]
FACTS = load_catalog().impact


def test_the_facts_describe_the_providers_the_lock_installs() -> None:
    lock = (REPO / "requirements" / "runtime.txt").read_text(encoding="utf-8")
    for package in ("pulumi-aws", "pulumi-kubernetes"):
        pinned = re.search(rf"^{package}==([0-9.]+)", lock, re.MULTILINE)
        assert pinned and FACTS.provider_versions[package] == pinned.group(1), package


def test_every_type_the_example_stacks_render_has_facts(tmp_path: Path) -> None:
    """A type with no entry would be classified "in place" for want of a fact: none may be."""
    from gpufleet.commands.diff import _plan, rendered

    seen = set()
    for stack in ("prod", "staging", "dev", "onprem"):
        _, plan = _plan(REPO / "stacks" / f"{stack}.yaml")
        seen |= {r.type for r in rendered(plan, stack) if r.custom}
    assert {token for token in seen if FACTS.for_type(token) is None} == set()
    assert "aws:eks/nodeGroup:NodeGroup" in seen and "kubernetes:helm.sh/v3:Release" in seen


def test_a_fact_citing_an_unknown_source_is_refused() -> None:
    data = read_data_file("impact.yaml")
    broken = json.loads(json.dumps(data))
    broken["types"]["aws:ec2/vpc:Vpc"]["cidrBlock"]["src"] = "nowhere ec2/func.resourceVPC:60-64"
    facts = ImpactFacts.model_validate(broken)
    with pytest.raises(ValueError, match=r"impact.yaml: unknown source\(s\) nowhere"):
        _require_sources("impact.yaml", facts.source_keys(), facts.sources)


def _pair(type_token: str, old: dict, new: dict, *, protect: bool = False) -> tuple[Rendered, Rendered]:
    urn = f"urn:pulumi:prod::gpufleet::{type_token}::thing"
    return (
        Rendered(urn, type_token, "thing", None, old, protect=protect),
        Rendered(urn, type_token, "thing", None, new, protect=protect),
    )


@pytest.mark.parametrize(
    ("old", "new", "impact"),
    [
        (
            {"storageCapacity": 48000, "deploymentType": "PERSISTENT_2"},
            {"storageCapacity": 60000, "deploymentType": "PERSISTENT_2"},
            "in_place",
        ),
        (
            {"storageCapacity": 48000, "deploymentType": "PERSISTENT_2"},
            {"storageCapacity": 24000, "deploymentType": "PERSISTENT_2"},
            "replace",
        ),
        (
            {"storageCapacity": 1200, "deploymentType": "SCRATCH_1"},
            {"storageCapacity": 2400, "deploymentType": "SCRATCH_1"},
            "replace",
        ),
        ({"fileSystemTypeVersion": "2.12"}, {"fileSystemTypeVersion": "2.15"}, "in_place"),
        ({"fileSystemTypeVersion": "2.15"}, {"fileSystemTypeVersion": "2.12"}, "replace"),
    ],
)
def test_fsx_capacity_and_version_are_judged_on_their_values(old: dict, new: dict, impact: str) -> None:
    """terraform-provider-aws forces a new file system when "n.(int) < o.(int) ||
    d.Get(\\"deployment_type\\") == ... Scratch1", and since v6.44.0 only on a type-version downgrade."""
    (resource,) = classify(*[[side] for side in _pair("aws:fsx/lustreFileSystem:LustreFileSystem", old, new)], FACTS)
    assert resource.impact == impact


def test_a_static_claims_size_change_is_refused_by_the_api_server() -> None:
    """The resize admission plugin: "only dynamically provisioned pvc can be resized and the
    storageclass that provisions the pvc must support resize"; gpufleet's Lustre claims bind a
    static volume (``storageClassName: ""``)."""
    old = {"spec": {"storageClassName": "", "resources": {"requests": {"storage": "48000Gi"}}}}
    new = {"spec": {"storageClassName": "", "resources": {"requests": {"storage": "60000Gi"}}}}
    (claim,) = classify(*[[side] for side in _pair("kubernetes:core/v1:PersistentVolumeClaim", old, new)], FACTS)
    assert claim.impact == "rejected"


def test_a_security_group_rule_changing_its_source_kind_is_replaced() -> None:
    """ "When you modify a rule, you cannot change the rule's source type" (the framework
    resource's ModifyPlan): CIDR to a referenced group replaces it; another CIDR does not."""
    token = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
    (kind,) = classify(*[[s] for s in _pair(token, {"cidrIpv4": "10.0.0.0/16"}, {"referencedSecurityGroupId": "sg-1"})], FACTS)
    (cidr,) = classify(*[[s] for s in _pair(token, {"cidrIpv4": "10.0.0.0/16"}, {"cidrIpv4": "10.1.0.0/16"})], FACTS)
    assert (kind.impact, cidr.impact) == ("replace", "in_place")


def test_a_protected_resource_that_would_be_replaced_or_deleted_is_blocked() -> None:
    old, new = _pair("aws:s3/bucket:Bucket", {"bucket": "a"}, {"bucket": "b"}, protect=True)
    (replaced,) = classify([old], [new], FACTS)
    (deleted,) = classify([old], [], FACTS)
    assert (replaced.impact, deleted.impact, deleted.change) == ("blocked", "blocked", "deleted")
    assert "fails with an error instead" in replaced.why


def test_an_input_no_fact_lists_is_an_update_citing_the_schema_it_was_read_from() -> None:
    (key,) = classify(*[[s] for s in _pair("aws:kms/key:Key", {"description": "a"}, {"description": "b"})], FACTS)
    (change,) = key.inputs
    assert change.impact == "in_place" and "resourceKey" in change.source
