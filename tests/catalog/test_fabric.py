"""The fabric facts: bus-bandwidth floors, pinned images and EC2 topology depth, held to their sources."""

from __future__ import annotations

from pathlib import Path

import pytest

from gpufleet.catalog import load_catalog
from gpufleet.catalog.fabric import efa_gbps
from tests.kubernetes.references import chart_defaults

CATALOG = load_catalog()
FABRIC = CATALOG.fabric
P_FAMILY = (
    "p4d.24xlarge",
    "p4de.24xlarge",
    "p5.48xlarge",
    "p5e.48xlarge",
    "p5en.48xlarge",
    "p6-b200.48xlarge",
    "p6-b300.48xlarge",
)


def floor(name: str):
    instance = CATALOG.instance_type(name)
    return FABRIC.floor(instance, CATALOG.accelerator_of(instance))


def test_p5_floor_is_nvidias_published_recipe_figure() -> None:
    """NVIDIA AICR's recipes/overlays/h100-eks-ubuntu-training.yaml states
    ``- name: nccl-all-reduce-bw / value: ">= 300"`` for H100 on EKS (p5.48xlarge)."""
    found = floor("p5.48xlarge")
    assert (found.busbw_gbs, found.basis, found.algorithm, found.min_nodes) == (300, "published", "Ring", 2)
    assert "aicr-h100-eks" in found.sources


@pytest.mark.parametrize(
    ("name", "busbw"),
    [
        ("p4d.24xlarge", 43.2),  # 4 x 100 Gb/s: 48 GB/s peak
        ("p5e.48xlarge", 345.6),  # 32 x 100 Gb/s: 384 GB/s peak
        ("p5en.48xlarge", 345.6),  # 16 x 200 Gb/s
        ("p6-b200.48xlarge", 345.6),  # 3200 Gb/s
        ("p6-b300.48xlarge", 691.2),  # 6400 Gb/s
    ],
)
def test_derived_floors_apply_the_maintainers_rule_to_the_catalogs_bandwidth(name: str, busbw: float) -> None:
    """nccl-tests issue 119, sjeaugey: "We usually consider 24GB/s is the peak performance per 200G
    NIC (12 GB/s for 100G NICs)"; AICR's validator passes at ``threshold * 0.9``. The floor is that
    peak over the type's EC2 NetworkPerformance, less 10%."""
    found = floor(name)
    assert (found.busbw_gbs, found.basis) == (busbw, "derived")
    assert "nccl-tests-119" in found.sources


def test_every_rdma_capable_nvidia_type_has_a_floor_and_neuron_types_have_none() -> None:
    """Trainium and Inferentia collectives run on Neuron's library (nccom-test), not NCCL."""
    for name in P_FAMILY:
        assert floor(name) is not None, name
    for name, instance in CATALOG.instance_types.items():
        accelerator = CATALOG.accelerator_of(instance)
        if accelerator is not None and accelerator.kind == "neuron":
            assert floor(name) is None, name
            assert accelerator.name in FABRIC.nccl.not_nccl


def test_no_derived_floor_exceeds_what_the_links_carry() -> None:
    """busbw reflects the hardware bottleneck (nccl-tests doc/PERFORMANCE.md): a Ring floor above the
    type's network bandwidth in GB/s could never be met."""
    for name, instance in CATALOG.instance_types.items():
        found = FABRIC.floor(instance, CATALOG.accelerator_of(instance))
        if found is not None:
            assert found.busbw_gbs < efa_gbps(instance) / 8, name


def test_network_performance_reads_as_gigabits() -> None:
    by_name = CATALOG.instance_types
    assert [efa_gbps(by_name[n]) for n in ("p4d.24xlarge", "p5.48xlarge", "p5.4xlarge")] == [400, 3200, 100]
    with pytest.raises(ValueError, match="not a fixed Gigabit figure"):
        efa_gbps(by_name["g4dn.xlarge"])


def test_topology_layers_follow_the_ec2_prerequisites_page() -> None:
    """ "Returns 4* network nodes in the response: p6-b200.48xlarge | p6-b300.48xlarge"; the other
    supported types return 3; p5.4xlarge is not listed."""
    layers = FABRIC.topology.layers
    assert {name for name, depth in layers.items() if depth == 4} == {"p6-b200.48xlarge", "p6-b300.48xlarge"}
    assert all(layers[name] == 3 for name in P_FAMILY[:5])
    assert "p5.4xlarge" not in layers
    assert FABRIC.topology.levels("p6-b300.48xlarge")[-1] == "topology.k8s.aws/network-node-layer-4"
    assert FABRIC.topology.levels("p5.4xlarge") == ()


def test_dcgm_image_is_the_one_the_catalogs_gpu_operator_release_runs() -> None:
    """The GPU Operator's values.yaml: ``dcgm: repository: nvcr.io/nvidia/cloud-native, image: dcgm,
    version: ...``; the catalog pins the same release of the operator."""
    dcgm = chart_defaults("gpu-operator")["dcgm"]
    assert FABRIC.dcgm.image == f"{dcgm['repository']}/{dcgm['image']}:{dcgm['version']}"


def test_socket_interfaces_exclude_the_ones_nccl_must_never_pick() -> None:
    """NCCL docs: "Using the ^ symbol, NCCL will exclude interfaces starting with any prefix in that
    list"; aws-do-eks PR 54 shows the socket fallback picking pod-id-link0 and hanging."""
    assert FABRIC.nccl.socket_ifname == "^lo,docker,veth,pod-id-link0"


def test_readme_floor_table_matches_the_catalog() -> None:
    """The README's "Verifying the fleet" table states the catalog's floors, row for row."""
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Verifying the fleet", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) == 6 and cells[0] in CATALOG.instance_types:
            rows[cells[0]] = (float(cells[1]), cells[3], cells[4])
    expected = {}
    for name, instance in CATALOG.instance_types.items():
        found = FABRIC.floor(instance, CATALOG.accelerator_of(instance))
        if found is not None:
            expected[name] = (found.busbw_gbs, found.algorithm, found.basis)
    assert rows == expected
