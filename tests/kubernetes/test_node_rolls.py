"""Day-2 node rolls: GPU pools replace nodes in place and one pool at a time (issue 23: #22, #23)."""

from __future__ import annotations

import itertools
from pathlib import Path

from tests.kubernetes.conftest import REPO, rendered
from tests.program.conftest import preview_file

NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"


def test_accelerated_pools_update_in_place() -> None:
    """EKS API NodegroupUpdateConfig: "The minimal strategy ... terminates the old instances before
    launching the new instances. This minimal strategy is useful in scenarios where you are
    constrained to resources or costs (for example, with hardware accelerators such as GPUs)";
    the default strategy's scale-up phase adds "Up to twice the number of Availability Zones"
    nodes (managed-node-update-behavior). Every GPU pool of every AWS example is MINIMAL; the
    untainted system pool keeps the surge."""
    for stack in ("prod", "dev", "staging"):
        plan, result = rendered(stack, str(REPO / "stacks"))
        for pool in plan.pools:
            strategy = result.named(NODE_GROUP, f"{pool.name}-nodes").inputs["updateConfig"]["updateStrategy"]
            assert strategy == ("DEFAULT" if pool.accelerator is None else "MINIMAL"), (stack, pool.name)


def test_an_ami_bump_rolls_one_gpu_pool_after_another(tmp_path: Path) -> None:
    """An ``ami_release`` edit changes every launch template; without an order EKS would roll every
    pool at once. Before/after the bump on prod: the node groups that update are exactly the
    pools', and each accelerated one depends on the one before it (lab, then inference, then
    training), so Pulumi updates them one at a time."""
    plan, before = rendered("prod", str(REPO / "stacks"))
    text = (REPO / "stacks" / "prod.yaml").read_text(encoding="utf-8").replace("ami_release: v20250620", "ami_release: v20250715")
    (tmp_path / "prod.yaml").write_text(text, encoding="utf-8")
    (tmp_path / "prod.subnets.lock").write_text((REPO / "stacks" / "prod.subnets.lock").read_text(encoding="utf-8"))
    after = preview_file(tmp_path / "prod.yaml")
    old = {r.urn: r for r in before.of_type("aws:ec2/launchTemplate:LaunchTemplate")}
    changed = sorted(r.name for r in after.of_type("aws:ec2/launchTemplate:LaunchTemplate") if r.inputs != old[r.urn].inputs)
    assert changed == sorted(f"{pool.name}-template" for pool in plan.pools)
    groups = {r.name.removesuffix("-nodes"): r for r in after.of_type(NODE_GROUP)}
    chain = ["lab-l4", "serve-h100", "train-h200"]
    for earlier, later in itertools.pairwise(chain):
        assert groups[earlier].urn in groups[later].depends_on, later
    assert not any(groups[name].urn in groups["system"].depends_on for name in chain)


def test_a_capacity_block_pool_says_to_scale_to_zero_before_an_update() -> None:
    """EKS UG capacity-blocks-mng: "When upgrading managed node groups with Capacity Blocks, make
    sure that the desired size of the node group is set to `0`." and, for scaling up, "update the
    scaling config and set the desired size". The pool's update reason and the stamped stack's
    comment say both."""
    plan, _ = rendered("prod", str(REPO / "stacks"))
    train = next(facts for facts in plan.pool_facts() if facts.pool == "train-h200")
    assert "desired size 0 before" in train.update_reason
    text = (REPO / "stacks" / "prod.yaml").read_text(encoding="utf-8")
    assert "raise desired to 16 when it starts" in text and "set desired to 0, as EKS asks" in text
