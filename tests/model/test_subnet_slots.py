"""Training pools' dedicated subnets depend on their own names only."""

from __future__ import annotations

import pytest

from gpufleet.catalog import load_catalog
from gpufleet.model import resolve, subnet_slot
from gpufleet.stack import StackInvalid, load_stack

HEAD = """\
cluster: {name: demo, provider: aws, region: us-east-1, kubernetes_version: "1.33"}
network: {vpc_cidr: 10.0.0.0/16, availability_zones: [us-east-1a, us-east-1b]}
fabrics: {rdma: {kind: efa}}
node_pools:
"""


# CoreDNS needs an untainted node (GF-AWS-003); the system pool comes last so lines stay put.
SYSTEM = "  system: {workload: system, instance_type: m7i.xlarge, nodes: {min: 1, max: 2}}\n"


def training_pool(name: str, extra: str = "") -> str:
    return f"  {name}: {{workload: training, instance_type: p5.48xlarge, nodes: {{min: 2, max: 2}}, fabric: rdma{extra}}}\n"


def test_slot_is_a_pure_function_of_the_name():
    assert subnet_slot("l40s") == subnet_slot("l40s")
    assert 0 <= subnet_slot("anything") < 112


def test_dedicated_subnet_is_the_slot_th_slash_24_of_the_upper_half(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text(HEAD + training_pool("p5") + SYSTEM)
    plan = resolve(load_stack(path), load_catalog())
    (subnet,) = plan.pools[0].subnets
    assert str(subnet.cidr) == f"10.0.{128 + subnet_slot('p5')}.0/24"


def test_colliding_names_are_an_error_that_suggests_a_free_slot(tmp_path):
    # 'l40s' and 'h200-renamed' hash to the same slot.
    assert subnet_slot("l40s") == subnet_slot("h200-renamed")
    path = tmp_path / "s.yaml"
    path.write_text(HEAD + training_pool("l40s") + training_pool("h200-renamed") + SYSTEM)
    with pytest.raises(StackInvalid) as caught:
        resolve(load_stack(path), load_catalog())
    (problem,) = caught.value.findings
    assert problem.path == ("node_pools", "l40s")
    assert problem.line == 5
    assert f"training pools 'h200-renamed' and 'l40s' both take dedicated subnet slot {subnet_slot('l40s')}" in problem.message
    assert "add `subnet_slot: 0`" in problem.message


def test_a_pinned_slot_resolves_the_collision_and_moves_nobody_else(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text(HEAD + training_pool("l40s", ", subnet_slot: 0") + training_pool("h200-renamed") + SYSTEM)
    plan = resolve(load_stack(path), load_catalog())
    cidrs = {pool.name: str(pool.subnets[0].cidr) for pool in plan.pools if pool.workload == "training"}
    assert cidrs == {"l40s": "10.0.128.0/24", "h200-renamed": f"10.0.{128 + subnet_slot('h200-renamed')}.0/24"}
