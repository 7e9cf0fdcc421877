"""Every AWS instance type in the catalog, checked figure by figure against moto's copy of
EC2 DescribeInstanceTypes, so a mistyped number in ``aws_instances.yaml`` or ``gpus.yaml``
fails CI.

The only tolerated difference is documented in ``gpus.yaml``: Trainium2's memory, where
the snapshot says 512 GiB per device and the Neuron docs say 96 GiB per chip.
"""

from __future__ import annotations

import gzip
import json
from functools import lru_cache
from importlib import resources
from typing import Any

import pytest

from gpufleet.catalog import load_catalog
from gpufleet.catalog.models import InstanceType

CATALOG = load_catalog()
INSTANCE_NAMES = sorted(CATALOG.instance_types)

# Documented in gpus.yaml (Trainium2 record) and in the reference's "Data vs docs" #1.
TRAINIUM2_MOTO_MIB = 524288
TRAINIUM2_DOCS_MIB = 96 * 1024


@lru_cache(maxsize=1)
def moto_instance_types() -> dict[str, dict[str, Any]]:
    blob = resources.files("moto.ec2").joinpath("resources/instance_types.json.gz").read_bytes()
    return json.loads(gzip.decompress(blob))


def moto(name: str) -> dict[str, Any]:
    data = moto_instance_types()
    assert name in data, f"{name} is in the catalog but not in moto's DescribeInstanceTypes data"
    return data[name]


def moto_accelerators(record: dict[str, Any]) -> list[dict[str, Any]]:
    gpus = record.get("GpuInfo", {}).get("Gpus", [])
    neurons = record.get("NeuronInfo", {}).get("NeuronDevices", [])
    return [*gpus, *neurons]


def instance(name: str) -> InstanceType:
    return CATALOG.instance_types[name]


def test_moto_snapshot_is_readable_and_large() -> None:
    data = moto_instance_types()
    # Sanity of the reference itself: a real snapshot has well over a thousand types and
    # records in the DescribeInstanceTypes shape.
    assert len(data) > 1000
    assert data["p5.48xlarge"]["InstanceType"] == "p5.48xlarge"


@pytest.mark.parametrize("name", INSTANCE_NAMES)
def test_accelerator_count(name: str) -> None:
    record, inst = moto(name), instance(name)
    devices = moto_accelerators(record)
    assert sum(device["Count"] for device in devices) == inst.accelerator_count
    if inst.accelerator is None:
        assert devices == []


@pytest.mark.parametrize("name", INSTANCE_NAMES)
def test_accelerator_kind_and_vendor(name: str) -> None:
    record, inst = moto(name), instance(name)
    accelerator = CATALOG.accelerator_of(inst)
    if accelerator is None:
        assert "GpuInfo" not in record and "NeuronInfo" not in record
        return
    if accelerator.kind == "gpu":
        assert "GpuInfo" in record and "NeuronInfo" not in record
        assert {gpu["Manufacturer"] for gpu in record["GpuInfo"]["Gpus"]} == {"NVIDIA"}
        assert accelerator.vendor == "nvidia"
    else:
        assert "NeuronInfo" in record and "GpuInfo" not in record
        assert accelerator.vendor == "aws"


@pytest.mark.parametrize("name", INSTANCE_NAMES)
def test_accelerator_model_name(name: str) -> None:
    """moto's device name resolves to the catalog accelerator (or prefixes it when moto's
    name is ambiguous, e.g. 'A100' for both the 40 GB and the 80 GB part)."""
    inst = instance(name)
    if inst.accelerator is None:
        return
    for device in moto_accelerators(moto(name)):
        resolved = CATALOG.accelerator(device["Name"])
        if resolved is not None:
            assert resolved.name == inst.accelerator
        else:
            assert inst.accelerator.upper().startswith(device["Name"].upper().replace(" ", "-"))


@pytest.mark.parametrize("name", INSTANCE_NAMES)
def test_accelerator_memory(name: str) -> None:
    inst = instance(name)
    accelerator = CATALOG.accelerator_of(inst)
    if accelerator is None:
        return
    sizes = {device["MemoryInfo"]["SizeInMiB"] for device in moto_accelerators(moto(name))}
    if accelerator.name == "Trainium2":
        # The one documented exception: the snapshot's figure is the whole device
        # memory pool, the catalog keeps the Neuron docs' 96 GiB HBM per chip.
        assert sizes == {TRAINIUM2_MOTO_MIB}
        assert accelerator.memory_mib == TRAINIUM2_DOCS_MIB == 98304
    else:
        assert sizes == {accelerator.memory_mib}


def test_trainium2_exception_is_documented_in_gpus_yaml() -> None:
    text = resources.files("gpufleet.catalog").joinpath("data", "gpus.yaml").read_text(encoding="utf-8")
    block = text[text.index("  Trainium2:") :]
    block = block[: block.index("\n  Inferentia2:")]
    assert str(TRAINIUM2_MOTO_MIB) in block
    assert "96 GiB" in block
    # The catalog must not claim moto as a source for a figure that contradicts it.
    assert "moto-ec2" not in CATALOG.accelerators["Trainium2"].sources


@pytest.mark.parametrize("name", INSTANCE_NAMES)
def test_vcpus_memory_architecture(name: str) -> None:
    record, inst = moto(name), instance(name)
    assert record["VCpuInfo"]["DefaultVCpus"] == inst.vcpus
    assert record["MemoryInfo"]["SizeInMiB"] == inst.memory_mib
    assert record["ProcessorInfo"]["SupportedArchitectures"] == [inst.architecture]


@pytest.mark.parametrize("name", INSTANCE_NAMES)
def test_efa_maximum(name: str) -> None:
    network, inst = moto(name)["NetworkInfo"], instance(name)
    assert network["EfaSupported"] == inst.efa_supported
    expected = network["EfaInfo"]["MaximumEfaInterfaces"] if network["EfaSupported"] else 0
    assert inst.max_efa_interfaces == expected


@pytest.mark.parametrize("name", INSTANCE_NAMES)
def test_network_cards(name: str) -> None:
    network, inst = moto(name)["NetworkInfo"], instance(name)
    assert network["MaximumNetworkCards"] == inst.max_network_cards
    moto_cards = sorted(network["NetworkCards"], key=lambda card: card["NetworkCardIndex"])
    ours = inst.cards
    assert [card["NetworkCardIndex"] for card in moto_cards] == [card.index for card in ours]
    for theirs, mine in zip(moto_cards, ours, strict=True):
        assert tuple(theirs["InterfaceTypes"]) == mine.interface_types, f"card {mine.index}"
        assert theirs["MaximumNetworkInterfaces"] == mine.max_interfaces, f"card {mine.index}"
        assert theirs["BaselineBandwidthInGbps"] == pytest.approx(mine.baseline_gbps), f"card {mine.index}"


@pytest.mark.parametrize("name", INSTANCE_NAMES)
def test_network_performance_string(name: str) -> None:
    assert moto(name)["NetworkInfo"]["NetworkPerformance"] == instance(name).network_performance


@pytest.mark.parametrize("name", INSTANCE_NAMES)
def test_local_nvme(name: str) -> None:
    record, inst = moto(name), instance(name)
    storage = record.get("InstanceStorageInfo")
    if storage is None:
        assert inst.local_nvme is None
        assert record["InstanceStorageSupported"] is False
        return
    assert inst.local_nvme is not None
    # One kind of disk on every type in the catalog, all of them NVMe SSDs.
    assert len(storage["Disks"]) == 1
    (disk,) = storage["Disks"]
    assert disk["Type"] == "ssd"
    assert storage["NvmeSupport"] in ("required", "supported")
    assert disk["Count"] == inst.local_nvme.disks
    assert disk["SizeInGB"] == inst.local_nvme.disk_gb
    assert storage["TotalSizeInGB"] == inst.local_nvme.total_gb


@pytest.mark.parametrize("name", INSTANCE_NAMES)
def test_capacity_block_eligibility(name: str) -> None:
    classes = moto(name)["SupportedUsageClasses"]
    assert ("capacity-block" in classes) == instance(name).capacity_block


@pytest.mark.parametrize("name", INSTANCE_NAMES)
def test_placement_strategies(name: str) -> None:
    strategies = moto(name)["PlacementGroupInfo"]["SupportedStrategies"]
    assert tuple(strategies) == instance(name).placement_strategies


def test_capacity_block_types_match_the_aws_research() -> None:
    # aws_efa_notes.md section 3: CB-eligible types in the snapshot, restricted to the catalog.
    assert {name for name, inst in CATALOG.instance_types.items() if inst.capacity_block} == {
        "p4d.24xlarge",
        "p4de.24xlarge",
        "p5.4xlarge",
        "p5.48xlarge",
        "p5e.48xlarge",
        "p5en.48xlarge",
        "p6-b200.48xlarge",
        "p6-b300.48xlarge",
        "trn1.32xlarge",
        "trn2.3xlarge",
        "trn2.48xlarge",
    }


def test_p6_b300_card_zero_takes_no_efa() -> None:
    # The research's headline exception, checked against the snapshot and the catalog both.
    card0 = next(c for c in moto("p6-b300.48xlarge")["NetworkInfo"]["NetworkCards"] if c["NetworkCardIndex"] == 0)
    assert card0["InterfaceTypes"] == ["interface"]
    assert not instance("p6-b300.48xlarge").cards[0].supports_efa
    assert all(card.supports_efa for card in instance("p6-b300.48xlarge").cards[1:])


@pytest.mark.parametrize("name", INSTANCE_NAMES)
def test_ipv4_addresses_per_interface(name: str) -> None:
    """What sizes a pool's subnet: the addresses each of a node's interfaces holds (also cited to AWS's table)."""
    assert instance(name).ipv4_per_interface == moto(name)["NetworkInfo"]["Ipv4AddressesPerInterface"]
    assert "ec2-ip-per-eni" in instance(name).sources
    assert CATALOG.sources["ec2-ip-per-eni"].startswith(
        "https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/AvailableIpPerENI.html"
    )
