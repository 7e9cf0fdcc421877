"""The catalog's shape: families issue 2 asks for, sources behind every record, lookups."""

from __future__ import annotations

import re
from importlib import metadata, resources
from pathlib import Path

import pytest

from gpufleet.catalog import load_catalog, read_data_file
from gpufleet.findings import closest_name

CATALOG = load_catalog()

URL = re.compile(r"^https://[a-z0-9.-]+\.[a-z]{2,}/\S*")
# "PyPI moto==<version>, moto/ec2/resources/instance_types.json.gz (...)"
PACKAGE_FILE = re.compile(r"^PyPI (?P<dist>[A-Za-z0-9_.-]+)==(?P<version>[0-9][0-9A-Za-z.]*), (?P<path>[\w./-]+)")

# Issue 2: "p4d, p4de, p5.4xlarge, p5, p5e, p5en, p6-b200, p6-b300, g4dn, g5, g6, g6e, g7e,
# gr6, g5g, trn1, trn1n, trn2, inf2".
REQUIRED_FAMILIES = [
    "p4d", "p4de", "p5", "p5e", "p5en", "p6-b200", "p6-b300", "g4dn", "g5", "g6", "g6e",
    "g7e", "gr6", "g5g", "trn1", "trn1n", "trn2", "inf2",
]  # fmt: skip


def check_source(text: str) -> None:
    """A source is a public URL, or a named file inside a public package that is installed here."""
    if URL.match(text):
        return
    match = PACKAGE_FILE.match(text)
    assert match, f"source is neither a URL nor 'PyPI pkg==version, path': {text!r}"
    dist = metadata.distribution(match["dist"])
    files = {str(Path(str(f))) for f in dist.files or ()}
    assert match["path"] in files, f"{match['path']} is not a file of {match['dist']}"


@pytest.mark.parametrize("family", REQUIRED_FAMILIES)
def test_required_family_present(family: str) -> None:
    assert any(inst.family == family for inst in CATALOG.instance_types.values())


def test_p5_4xlarge_and_p5_48xlarge_both_present() -> None:
    assert "p5.4xlarge" in CATALOG.instance_types
    assert "p5.48xlarge" in CATALOG.instance_types


def test_family_parses_hyphenated_names() -> None:
    assert CATALOG.instance_types["p6-b200.48xlarge"].family == "p6-b200"
    assert CATALOG.instance_types["p5en.48xlarge"].family == "p5en"


@pytest.mark.parametrize("key", sorted({*CATALOG.sources}))
def test_instance_and_accelerator_sources_are_urls_or_package_files(key: str) -> None:
    check_source(CATALOG.sources[key])


def test_storage_sources_are_urls_and_referenced() -> None:
    storage = read_data_file("storage.yaml")
    for text in storage["sources"].values():
        check_source(text)
    for block in ("fsx_lustre", "s3"):
        assert storage[block]["sources"], block
        for key in storage[block]["sources"]:
            assert key in storage["sources"], f"{block} cites unknown source {key}"


@pytest.mark.parametrize("name", sorted(CATALOG.instance_types))
def test_instance_sources_resolve(name: str) -> None:
    inst = CATALOG.instance_types[name]
    assert inst.sources
    for key in inst.sources:
        assert key in CATALOG.sources


@pytest.mark.parametrize("name", sorted(CATALOG.accelerators))
def test_accelerator_sources_resolve(name: str) -> None:
    accelerator = CATALOG.accelerators[name]
    assert accelerator.sources
    for key in accelerator.sources:
        assert key in CATALOG.sources


@pytest.mark.parametrize("name", sorted(CATALOG.accelerators))
def test_accelerators_citing_moto_are_sold_on_aws(name: str) -> None:
    accelerator = CATALOG.accelerators[name]
    carried = any(inst.accelerator == name for inst in CATALOG.instance_types.values())
    if "moto-ec2" in accelerator.sources:
        assert carried, f"{name} cites the EC2 snapshot but no catalog instance carries it"


def test_every_instance_accelerator_is_in_the_catalog() -> None:
    for inst in CATALOG.instance_types.values():
        if inst.accelerator is None:
            assert inst.accelerator_count == 0
        else:
            assert inst.accelerator in CATALOG.accelerators
            assert inst.accelerator_count >= 1


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("H100-80GB", "H100-80GB"),
        ("h100-80gb", "H100-80GB"),
        ("H100", "H100-80GB"),
        ("h100", "H100-80GB"),
        ("H100-SXM5-80GB", "H100-80GB"),
        ("h100_sxm5_80gb", "H100-80GB"),
        ("0x233010DE", "H100-80GB"),
        ("0x233010de", "H100-80GB"),
        ("  a100-sxm4-40gb ", "A100-40GB"),
        ("A100 SXM4 80GB", "A100-80GB"),
        ("0x20b210de", "A100-80GB"),
        ("h200", "H200-141GB"),
        ("l4", "L4-24GB"),
        ("RTX PRO Server 6000", "RTX-PRO-6000-96GB"),
        ("trn1", "Trainium"),
        ("TRN2", "Trainium2"),
        ("inf2", "Inferentia2"),
    ],
)
def test_accelerator_lookup(query: str, expected: str) -> None:
    found = CATALOG.accelerator(query)
    assert found is not None and found.name == expected


@pytest.mark.parametrize("query", ["H300", "A100", "0x000010DE", "", "p5.48xlarge"])
def test_accelerator_lookup_misses(query: str) -> None:
    # 'A100' alone is ambiguous (40 GB and 80 GB parts) and must not silently pick one.
    assert CATALOG.accelerator(query) is None


def test_accelerator_keys_are_unambiguous() -> None:
    """No name, alias or PCI id may point at two accelerators (the later one would win)."""
    seen: dict[str, str] = {}
    for accelerator in CATALOG.accelerators.values():
        for key in {
            k.strip().upper().replace("_", "-").replace(" ", "-")
            for k in (accelerator.name, *accelerator.aliases, *accelerator.pci_device_ids)
        }:
            assert seen.setdefault(key, accelerator.name) == accelerator.name, key


@pytest.mark.parametrize("name", sorted(CATALOG.accelerators))
def test_pci_ids_are_nvidia_device_ids(name: str) -> None:
    accelerator = CATALOG.accelerators[name]
    for pci in accelerator.pci_device_ids:
        assert re.fullmatch(r"0x[0-9A-F]{4}10DE", pci), pci
    if accelerator.vendor == "aws":
        assert accelerator.pci_device_ids == ()


def test_suggestions() -> None:
    assert closest_name("p5e.48xl", CATALOG.instance_types) == "p5e.48xlarge"
    assert closest_name("H100-80G", CATALOG.accelerators) == "H100-80GB"
    assert closest_name("zzzzzz", CATALOG.instance_types) is None


def test_storage_facts_match_the_fsx_api() -> None:
    # aws_efa_notes.md 4.1: PerUnitStorageThroughput values and baseline MB/s per TiB.
    lustre = CATALOG.storage.fsx_lustre
    assert lustre.deployments["PERSISTENT_2"].per_unit_throughputs == (125, 250, 500, 1000)
    assert lustre.deployments["PERSISTENT_1"].per_unit_throughputs == (50, 100, 200)
    assert lustre.deployments["SCRATCH_2"].per_unit_throughputs == (200,)
    assert lustre.deployments["PERSISTENT_2"].network_mbs_per_tib[1000] == 2600
    assert lustre.throughput_mbs("PERSISTENT_2", 48, 1000) == 48 * 2600
    rule = lustre.deployments["PERSISTENT_2"].capacity_gib
    assert [rule.allows(g) for g in (1200, 2400, 3600, 4800, 7200, 1000)] == [True, True, False, True, True, False]
    assert CATALOG.storage.s3.get_requests_per_second_per_prefix == 5500
    assert CATALOG.storage.s3.put_requests_per_second_per_prefix == 3500


def test_data_files_ship_with_the_package() -> None:
    data = resources.files("gpufleet.catalog").joinpath("data")
    for name in ("gpus.yaml", "aws_instances.yaml", "storage.yaml"):
        assert data.joinpath(name).is_file()
