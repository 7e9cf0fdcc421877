"""The GF-K8S rules: each refuses a stack whose Kubernetes side makes no sense, located at the field."""

from __future__ import annotations

import pytest

from gpufleet.catalog import load_catalog
from gpufleet.model import resolve
from gpufleet.model.plan import ExistingNodes
from gpufleet.stack import StackInvalid, load_stack

ONPREM_HEAD = """\
cluster:
  name: onprem
  provider: kubernetes
  kubernetes_version: "1.33"
"""


def findings(path) -> list[tuple[str, int, int, str, str]]:
    with pytest.raises(StackInvalid) as caught:
        resolve(load_stack(path), load_catalog())
    return [(f.rule_id, f.line, f.column, f.field, f.message) for f in caught.value.findings]


def test_gf_k8s_001_node_selector_on_aws(stacks) -> None:
    path = stacks.aws(
        """
        node_pools:
          serve:
            workload: inference
            node_selector: {example.com/rack: r1}
            nodes: {min: 1, max: 2}
        """
    )
    [missing, selector] = findings(path)
    assert selector[:4] == ("GF-K8S-001", 12, 5, "node_pools.serve.node_selector")
    assert "describes existing nodes" in selector[4]
    assert missing[:2] == ("GF-K8S-001", 10) and missing[3] == "node_pools.serve"
    assert "needs instance_type" in missing[4]


def test_gf_k8s_001_instance_type_and_missing_facts_on_an_existing_cluster(stacks) -> None:
    path = stacks.write(
        ONPREM_HEAD,
        """
        node_pools:
          train:
            workload: training
            node_selector: {example.com/rack: r1}
            gpu: H100
            nodes: {min: 1, max: 1}
          serve:
            workload: inference
            node_selector: {example.com/rack: r2}
            nodes: {min: 1, max: 1}
        """,
    )
    problems = findings(path)
    assert {p[0] for p in problems} == {"GF-K8S-001"}
    by_field = {(p[3], p[1]): p[4] for p in problems}
    assert "give gpus_per_node too" in by_field[("node_pools.train.gpu", 9)]
    assert "needs gpu" in by_field[("node_pools.serve.workload", 12)]
    at_pool = sorted(p[4].split(":")[0] for p in problems if p[3] == "node_pools.train")
    assert at_pool == ["give cpus_per_node too", "give memory_gib_per_node too"]


def test_gf_k8s_001_mig_on_existing_nodes(stacks) -> None:
    path = stacks.write(
        ONPREM_HEAD,
        """
        mig_plans:
          halves:
            gpu: H100
            layout: {3g.40gb: 2}
        node_pools:
          serve:
            workload: inference
            node_selector: {example.com/rack: r2}
            gpu: H100
            gpus_per_node: 8
            cpus_per_node: 96
            memory_gib_per_node: 1024
            nodes: {min: 1, max: 1}
            mig: halves
        """,
    )
    [(rule, line, _, field, message)] = findings(path)
    assert (rule, line, field) == ("GF-K8S-001", 18, "node_pools.serve.mig")
    assert "label the nodes yourself" in message


@pytest.mark.parametrize(
    ("pool", "expected"),
    [
        ("workload: inference\n    instance_type: g6.xlarge", "only lab pools may share GPUs, not inference"),
        ("workload: lab\n    instance_type: trn1.32xlarge", "this pool has none"),
    ],
)
def test_gf_k8s_002_time_slicing_only_on_lab_gpu_pools(stacks, pool: str, expected: str) -> None:
    path = stacks.write(
        stacks.head,
        "node_pools:\n  p:\n    " + pool + "\n    nodes: {min: 0, max: 1}\n    sharing: {time_slicing: {replicas: 4}}\n",
    )
    problems = [p for p in findings(path) if p[0] == "GF-K8S-002"]
    assert [(p[1], p[2], p[3]) for p in problems] == [(14, 5, "node_pools.p.sharing")]
    assert expected in problems[0][4]


def test_gf_k8s_002_time_slicing_beside_mig(stacks) -> None:
    path = stacks.aws(
        """
        mig_plans:
          sevenths:
            gpu: H100
            layout: {1g.10gb: 7}
        node_pools:
          lab:
            workload: lab
            instance_type: p5.48xlarge
            nodes: {min: 0, max: 1}
            mig: sevenths
            sharing: {time_slicing: {replicas: 2}}
        """,
        stacks.system_pool,
    )
    [(rule, line, _, field, message)] = findings(path)
    assert (rule, line, field) == ("GF-K8S-002", 19, "node_pools.lab.sharing")
    assert "MIG or time-slices" in message


def test_time_slicing_replicas_is_a_range(stacks) -> None:
    path = stacks.aws(
        """
        node_pools:
          lab:
            workload: lab
            instance_type: g6.xlarge
            nodes: {min: 0, max: 1}
            sharing: {time_slicing: {replicas: 1}}
        """
    )
    [(line, _, field, message)] = stacks.load_problems(path)
    assert (line, field) == (14, "node_pools.lab.sharing.time_slicing.replicas")
    assert "greater than or equal to 2" in message


def test_gf_k8s_003_queue_namespace_without_a_pool_and_twice(stacks) -> None:
    path = stacks.aws(
        """
        node_pools:
          lab:
            workload: lab
            instance_type: g6.xlarge
            nodes: {min: 0, max: 1}
          system:
            workload: system
            instance_type: m7i.xlarge
            nodes: {min: 1, max: 2}
        queues:
          lab: [team-a, team-a]
          inference: [serving]
        """
    )
    problems = findings(path)
    assert {p[0] for p in problems} == {"GF-K8S-003"}
    # Lines 19 and 20: the system pool (lines 14-17) gives CoreDNS a node (GF-AWS-003).
    assert [(p[1], p[3]) for p in problems] == [(19, "queues.lab.1"), (20, "queues.inference")]
    assert "namespace 'team-a' is listed twice" in problems[0][4]
    assert "no inference pool" in problems[1][4]


def test_gf_k8s_004_one_infiniband_fabric(stacks) -> None:
    path = stacks.write(
        ONPREM_HEAD,
        """
        fabrics:
          ib-a: {kind: infiniband}
          ib-b: {kind: infiniband}
        node_pools:
          system:
            workload: system
            node_selector: {example.com/role: system}
            nodes: {min: 1, max: 1}
        """,
    )
    [(rule, line, column, field, message)] = findings(path)
    assert (rule, line, column, field) == ("GF-K8S-004", 7, 16, "fabrics.ib-b.kind")
    assert "serves 'ib-a'" in message


def test_gf_k8s_005_no_cloud_storage_on_an_existing_cluster(stacks) -> None:
    path = stacks.write(
        ONPREM_HEAD,
        """
        storage:
          data: {kind: s3}
          cache: {kind: local-nvme}
        node_pools:
          system:
            workload: system
            node_selector: {example.com/role: system}
            nodes: {min: 1, max: 1}
        """,
    )
    [(rule, line, _, field, message)] = findings(path)
    assert (rule, line, field) == ("GF-K8S-005", 6, "storage.data.kind")
    assert "no s3 tier" in message


def test_an_existing_gpu_pool_resolves_from_its_description(stacks) -> None:
    path = stacks.write(
        ONPREM_HEAD,
        """
        node_pools:
          train:
            workload: training
            node_selector: {example.com/rack: r1}
            gpu: H100
            gpus_per_node: 8
            cpus_per_node: 192
            memory_gib_per_node: 2048
            nodes: {min: 0, max: 3}
            allow_non_rdma: true
        """,
    )
    [pool] = resolve(load_stack(path), load_catalog()).pools
    assert isinstance(pool.source, ExistingNodes) and pool.accelerator.name == "H100-80GB"
    assert (pool.gpus_max, pool.vcpus_per_node, pool.memory_mib_per_node) == (24, 192, 2048 * 1024)
    assert pool.labels == {"example.com/rack": "r1"} and pool.taints == ()


def test_gf_k8s_009_neuron_pools_are_refused(stacks) -> None:
    """EKS UG inferentia-support: the Neuron device plugin "advertises Neuron devices as a system
    resource" (``aws.amazon.com/neuron``) and is installed by the user, not by the AMI; gpufleet
    installs none, and CA's instance table gives inf2 0 GPUs. Rather than render a pool nothing
    can use (or tell the autoscaler it has ``nvidia.com/gpu``), every Neuron type in the catalog
    is refused at its instance_type."""
    catalog = load_catalog()
    neuron = sorted(
        name for name, t in catalog.instance_types.items() if (a := catalog.accelerator_of(t)) is not None and a.kind != "gpu"
    )
    assert {"inf2.xlarge", "trn1.32xlarge"} <= set(neuron)
    for name in ("inf2.xlarge", "trn1.32xlarge"):
        path = stacks.aws(
            f"""
            node_pools:
              serve:
                workload: inference
                instance_type: {name}
                nodes: {{min: 1, max: 2}}
            """,
            stacks.system_pool,
        )
        [problem] = findings(path)
        assert problem[:4] == ("GF-K8S-010", 12, 20, "node_pools.serve.instance_type")
        assert "aws.amazon.com/neuron" in problem[4]
