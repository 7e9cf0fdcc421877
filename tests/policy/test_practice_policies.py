"""Each of the guide's practices on a violating and a compliant fixture, through the Analyzer.

Rendered fixtures change the example stacks' pools; the storage-feed and model-memory
policies read the plan, so their violating fixture is a stack file of its own (``TIGHT``).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.policy.conftest import DEV, TIGHT, changed, messages, of_rule, preview_resources, session_for


def _without_efa(inputs):
    inputs["networkInterfaces"] = inputs["networkInterfaces"][:1]


def _fewer_efa(inputs):
    inputs["networkInterfaces"] = inputs["networkInterfaces"][:-4]


def _no_workload_taint(inputs):
    inputs["taints"] = [t for t in inputs["taints"] if t["key"] != "gpufleet.io/workload"]


def _on_demand(inputs):
    inputs.pop("instanceMarketOptions")
    inputs.pop("capacityReservationSpecification")


def _label(value):
    return lambda inputs: inputs["labels"].update({"nvidia.com/mig.config": value})


@pytest.fixture(scope="module")
def broken(analyze_prod, prod_resources):
    """No EFA, two subnets, two GPU types, no taint, a placement group on a capacity block, and
    MIG labels naming a missing config and a config planned for another GPU."""
    fixture = changed(prod_resources, "train-h200-template", _without_efa)
    fixture = changed(fixture, "train-h200-template", lambda inputs: inputs.update(placement={"groupName": "pg-1"}))
    fixture = changed(
        fixture,
        "train-h200-nodes",
        lambda inputs: inputs.update(subnetIds=["subnet-a", "subnet-b"], instanceTypes=["p5e.48xlarge", "p4d.24xlarge"]),
    )
    fixture = changed(fixture, "train-h200-nodes", _no_workload_taint)
    fixture = changed(fixture, "serve-h100-nodes", _label("serve-everything"))
    fixture = changed(fixture, "lab-l4-nodes", _label("serve-balanced"))
    return analyze_prod(fixture)


def _with_flavor(name):
    return lambda inputs: inputs["spec"]["resourceGroups"][0]["flavors"].append({"name": name, "resources": []})


@pytest.fixture(scope="module")
def crossed_queues(analyze_prod, prod_resources):
    """The H200 training queue also admits onto the H100 inference pool, and the inference
    queue onto the training pool."""
    fixture = changed(prod_resources, "training-h200-141gb", _with_flavor("serve-h100"))
    return analyze_prod(changed(fixture, "inference", _with_flavor("train-h200")))


@pytest.fixture(scope="module")
def short_of_efa(analyze_prod, prod_resources):
    """Four EFA interfaces short, and on-demand capacity with no placement group."""
    fixture = changed(prod_resources, "train-h200-template", _fewer_efa)
    fixture = changed(fixture, "train-h200-template", _on_demand)
    return analyze_prod(changed(fixture, "train-h200-nodes", lambda inputs: inputs.update(capacityType="ON_DEMAND")))


@pytest.fixture(scope="module")
def tight_spec(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("tight") / "tight.yaml"
    path.write_text(TIGHT, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def tight(tight_spec):
    resources = preview_resources(tight_spec, "us-east-2")
    for analyze in session_for(tight_spec):
        return analyze(resources)


def test_multi_node_training_on_an_rdma_fabric(broken, prod_baseline):
    assert "pool train-h200: trains on up to 16 nodes over plain Ethernet; give it a fabric of kind efa." in messages(
        broken, "GF-PRC-001", "node_pools.train-h200.fabric"
    )
    assert of_rule(prod_baseline, "GF-PRC-001") == []


def test_training_carries_every_efa_interface(short_of_efa, prod_baseline):
    text = messages(short_of_efa, "GF-PRC-002", "node_pools.train-h200.fabric")
    assert "p5e.48xlarge supports 32 EFA interfaces but its launch template carries 28" in text
    assert of_rule(prod_baseline, "GF-PRC-002") == []


def test_training_in_one_subnet(broken, prod_baseline):
    assert "multi-node training spans 2 subnets" in messages(broken, "GF-PRC-003", "node_pools.train-h200.availability_zone")
    assert of_rule(prod_baseline, "GF-PRC-003") == []


def test_training_in_a_cluster_placement_group_unless_reserved(broken, short_of_efa, prod_baseline):
    assert "multi-node training without a cluster placement group" in messages(
        short_of_efa, "GF-PRC-004", "node_pools.train-h200.placement"
    )
    assert "a placement group on top of a capacity block makes launches fail" in messages(
        broken, "GF-PRC-004", "node_pools.train-h200.placement"
    )
    assert of_rule(prod_baseline, "GF-PRC-004") == [], "a capacity block places the pool without a placement group"


def test_training_pool_holds_one_gpu_type(broken, prod_baseline):
    assert "one training pool mixes A100-40GB, H200-141GB" in messages(
        broken, "GF-PRC-005", "node_pools.train-h200.instance_type"
    )
    assert of_rule(prod_baseline, "GF-PRC-005") == []


def test_training_kept_apart_from_inference_by_taints(broken, prod_baseline):
    assert "lack the gpufleet.io/workload=training:NoSchedule taint" in messages(
        broken, "GF-PRC-006", "node_pools.train-h200.workload"
    )
    assert of_rule(prod_baseline, "GF-PRC-006") == []


def test_mig_config_labels_name_feasible_entries(broken, prod_baseline):
    assert "nvidia.com/mig.config=serve-everything names no entry of the mig-parted config" in messages(
        broken, "GF-PRC-007", "node_pools.serve-h100.mig"
    )
    assert "nvidia.com/mig.config=serve-balanced has no entry for L4" in messages(broken, "GF-PRC-007", "node_pools.lab-l4.mig")
    assert of_rule(prod_baseline, "GF-PRC-007") == []


def test_hot_storage_feeds_the_training_pools_mounting_it(tight, tight_spec, prod_baseline):
    text = messages(tight, "GF-PRC-008", "storage.scratch.capacity_tib", tight_spec)
    # 2.4 TiB x 125 MB/s per TiB on disk, for 128 GPUs x 180 MB/s.
    assert (
        "storage tier scratch's disks deliver 300 MB/s (capacity_tib x throughput_per_tib) to training pools needing "
        "23,040 MB/s (180 MB/s per GPU of train-h200), feed ratio 0.01" in text
    )
    assert of_rule(prod_baseline, "GF-PRC-008") == []


def test_models_fit_gpu_memory(tight, tight_spec, prod_baseline):
    assert "model giant needs 582.1 GiB but has 141.0 GiB (sharded over 128 GPUs)" in messages(
        tight, "GF-PRC-009", "node_pools.train-h200.models.0", tight_spec
    )
    assert "model llama-70b needs 163.0 GiB but has 22.4 GiB (1 x L4-24GB on one node)" in messages(
        tight, "GF-PRC-009", "node_pools.serve-l4.models.0", tight_spec
    )
    assert of_rule(prod_baseline, "GF-PRC-009") == []


def test_non_production_gpu_pools_scale_to_zero(analyze_dev, dev_resources, dev_baseline, prod_baseline):
    always_on = changed(dev_resources, "serve-l4-nodes", lambda inputs: inputs["scalingConfig"].update(minSize=1))
    findings = analyze_dev(always_on)
    assert "keeps 1 node(s) of 1 GPUs running outside production; set nodes.min to 0" in messages(
        findings, "GF-PRC-010", "node_pools.serve-l4.nodes.min", DEV
    )
    assert [(f.finding.severity, f.enforcement) for f in of_rule(findings, "GF-PRC-010")] == [("error", "mandatory")]
    assert [
        f.finding.severity for f in of_rule(analyze_dev(always_on, {"non-production-scale-to-zero": "advisory"}), "GF-PRC-010")
    ] == ["warning"]
    assert of_rule(analyze_dev(always_on, {"non-production-scale-to-zero": {"expensive_gpus_per_node": 4}}), "GF-PRC-010") == []
    assert of_rule(analyze_dev(always_on, {"non-production-scale-to-zero": {"production_stacks": ["dev"]}}), "GF-PRC-010") == []
    assert of_rule(dev_baseline, "GF-PRC-010") == []
    assert of_rule(prod_baseline, "GF-PRC-010") == [], "production pools may keep nodes running"


def test_training_queue_admits_onto_one_gpu_type(crossed_queues, prod_baseline):
    text = messages(crossed_queues, "GF-PRC-011", "cluster")
    assert "queue training-h200-141gb: admits training onto H100-80GB, H200-141GB (pools serve-h100, train-h200)" in text
    assert of_rule(prod_baseline, "GF-PRC-011") == []


def test_training_and_inference_queued_apart(crossed_queues, prod_baseline):
    text = messages(crossed_queues, "GF-PRC-012", "cluster")
    assert "training queue training-h200-141gb: admits onto inference pool(s) serve-h100" in text
    assert "inference queue inference: admits onto training pool(s) train-h200" in text
    assert of_rule(prod_baseline, "GF-PRC-012") == [], "the lab queue borrows idle GPUs of both; it is neither"
