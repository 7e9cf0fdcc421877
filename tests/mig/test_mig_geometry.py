"""The MIG geometry catalog: NVIDIA's published tables, per-GPU names, GPU resolution."""

from __future__ import annotations

import pytest

from gpufleet.catalog import load_catalog
from gpufleet.catalog.mig import parse_mig_geometries, parse_profile_name
from gpufleet.mig import UnknownMigGpu, resolve_gpu

CATALOG = load_catalog()

MIG_GPUS = [
    "A100-40GB",
    "A100-80GB",
    "A30-24GB",
    "B200-180GB",
    "B300-288GB",
    "GB200-186GB",
    "GB300-288GB",
    "GH200-144GB",
    "GH200-96GB",
    "H100-80GB",
    "H100-NVL-94GB",
    "H200-141GB",
    "RTX-PRO-6000-96GB",
]

# NVIDIA MIG User Guide, "Supported GPUs" (https://docs.nvidia.com/datacenter/tesla/mig-user-guide/supported-gpus.html),
# column "Max Number of Instances", for the products the guide lists (read 2026-12): A100-SXM4/PCIE 40GB and
# 80GB 7, A30 4, H100-SXM5/PCIE 80GB and 94GB 7, "H100 on GH200" 96GB 7, H200-SXM5 141GB 7, B200 7, GB200 7,
# RTX PRO 6000 Blackwell (Server, Workstation, Max-Q) 4. B300, GB300 and GH200 144GB are not in that table.
GUIDE_MAX_INSTANCES = {
    "A100-40GB": 7,
    "A100-80GB": 7,
    "A30-24GB": 4,
    "H100-80GB": 7,
    "H100-NVL-94GB": 7,
    "GH200-96GB": 7,
    "H200-141GB": 7,
    "B200-180GB": 7,
    "GB200-186GB": 7,
    "RTX-PRO-6000-96GB": 4,
}


def test_every_mig_capable_gpu_has_geometry_keyed_by_its_catalog_name():
    assert sorted(CATALOG.mig) == MIG_GPUS
    for gpu in CATALOG.mig:
        assert CATALOG.accelerators[gpu].pci_device_ids, gpu


@pytest.mark.parametrize(("gpu", "instances"), sorted(GUIDE_MAX_INSTANCES.items()))
def test_max_instances_are_the_mig_user_guides(gpu, instances):
    assert CATALOG.mig[gpu].max_instances == instances


def test_a30_profiles_are_the_mig_user_guides_table():
    """NVIDIA MIG User Guide, "Supported MIG Profiles", A30-24GB table
    (https://docs.nvidia.com/datacenter/tesla/mig-user-guide/supported-mig-profiles.html): fraction of memory,
    fraction of SMs and "Number of Instances Available": 1g.6gb 1/4 1/4 4; 1g.6gb+me 1/4 1/4 1 ("A single 1g
    profile can include media extensions"); 2g.12gb 2/4 2/4 2; 2g.12gb+me 2/4 2/4 1; 4g.24gb full 4/4 1. The
    quarters are the card's four memory and four compute slices."""
    a30 = CATALOG.mig["A30-24GB"]
    assert (a30.compute_slices, a30.memory_slices) == (4, 4)
    assert {p.name: (p.memory_slices, p.compute_slices, p.max_count) for p in a30.profiles.values()} == {
        "1g.6gb": (1, 1, 4),
        "1g.6gb+me": (1, 1, 1),
        "2g.12gb": (2, 2, 2),
        "2g.12gb+me": (2, 2, 1),
        "4g.24gb": (4, 4, 1),
    }


def test_confidence_is_marked_where_the_geometry_was_not_seen_on_hardware():
    mig = CATALOG.mig
    assert mig["H100-80GB"].profiles["3g.40gb"].confidence == "confirmed"
    assert mig["H200-141GB"].profiles["3g.71gb"].confidence == "inferred"
    assert mig["B300-288GB"].profiles["7g.269gb"].confidence == "unconfirmed"
    assert mig["A100-80GB"].profiles["1g.10gb"].usable_gib_confidence == "inferred"
    assert mig["H100-80GB"].profiles["1g.10gb"].usable_gib == 9.75


def test_same_name_means_different_profiles_on_different_gpus():
    mig = CATALOG.mig
    forty, eighty = mig["A100-40GB"].profiles["1g.10gb"], mig["A100-80GB"].profiles["1g.10gb"]
    assert (forty.memory_slices, forty.max_count, forty.profile_id) == (2, 4, 15)
    assert (eighty.memory_slices, eighty.max_count, eighty.profile_id) == (1, 7, 19)
    assert mig["H200-141GB"].profiles["1g.35gb"].max_count == 4
    assert mig["GB300-288GB"].profiles["1g.35gb"].max_count == 7
    assert mig["H100-NVL-94GB"].profiles["1g.24gb"].memory_slices == 2
    assert mig["RTX-PRO-6000-96GB"].profiles["1g.24gb"].memory_slices == 1
    # Profile ids are per family too: 14 is a 2g on H100 and a 1g on A30 and RTX PRO 6000.
    assert mig["H100-80GB"].profiles["2g.20gb"].profile_id == 14
    assert mig["A30-24GB"].profiles["1g.6gb"].profile_id == 14


def test_rtx_pro_6000_places_on_twelve_units_three_per_memory_slice():
    rtx = CATALOG.mig["RTX-PRO-6000-96GB"]
    assert rtx.profiles["1g.24gb"].lgipp == "{0,3,6,9}:3"
    assert rtx.profiles["2g.48gb"].lgipp == "{0,6}:6"
    assert rtx.profiles["4g.96gb"].lgipp == "{0}:12"


def test_every_cited_source_is_an_address_not_the_shared_research_folder():
    from gpufleet.catalog import read_data_file

    sources = read_data_file("mig.yaml")["sources"]
    for key, text in sources.items():
        assert "shared/" not in text and "mig_geometry.json" not in text, key
        assert text.startswith("https://") or " @ " in text or "not recorded" in text, key


def test_loader_rejects_a_placement_that_runs_off_the_gpu_and_unknown_sources():
    from gpufleet.catalog import read_data_file

    raw = read_data_file("mig.yaml")
    raw["gpus"]["A30-24GB"]["profiles"]["2g.12gb"]["starts"] = [0, 3]
    with pytest.raises(ValueError, match="runs past unit 3"):
        parse_mig_geometries(raw)
    raw = read_data_file("mig.yaml")
    raw["gpus"]["A30-24GB"]["sources"] = ["nowhere"]
    with pytest.raises(ValueError, match="unknown MIG source"):
        parse_mig_geometries(raw)
    raw = read_data_file("mig.yaml")
    raw["gpus"]["A30-24GB"]["profiles"]["2g.12gb"]["size"] = 1
    with pytest.raises(ValueError, match="does not match its memory slices"):
        parse_mig_geometries(raw)


@pytest.mark.parametrize(
    ("text", "gpu_instance", "compute", "attributes", "negative"),
    [
        ("1g.5gb", "1g.5gb", None, (), ()),
        ("2c.3g.20gb", "3g.20gb", 2, (), ()),
        ("3c.3g.20gb", "3g.20gb", None, (), ()),
        ("1g.24gb+me.all", "1g.24gb+me.all", None, ("me.all",), ()),
        ("1g.24gb-me", "1g.24gb-me", None, (), ("me",)),
        ("1G.10GB+ME", "1g.10gb+me", None, ("me",), ()),
    ],
)
def test_profile_names_follow_the_nvidia_grammar(text, gpu_instance, compute, attributes, negative):
    parsed = parse_profile_name(text)
    assert parsed is not None
    assert (parsed.gpu_instance_name, parsed.compute_instance_slices, parsed.attributes, parsed.negative_attributes) == (
        gpu_instance,
        compute,
        attributes,
        negative,
    )


@pytest.mark.parametrize("text", ["3g", "1g.5gb+", "1g.5gb+turbo", "4c.3g.20gb", "0g.1gb", "1g.5gb+me,me", "big"])
def test_malformed_profile_names_are_rejected(text):
    assert parse_profile_name(text) is None


@pytest.mark.parametrize(
    ("query", "gpu"),
    [
        ("H100-80GB", "H100-80GB"),
        ("h100", "H100-80GB"),
        ("0x233010DE", "H100-80GB"),
        ("0x233010de", "H100-80GB"),
        ("233010DE", "H100-80GB"),
        ("10de:2330", "H100-80GB"),
        ("0x2BB510DE", "RTX-PRO-6000-96GB"),
        ("A30", "A30-24GB"),
    ],
)
def test_gpus_resolve_by_name_alias_or_pci_id(query, gpu):
    assert resolve_gpu(CATALOG, query).gpu == gpu


def test_unknown_and_non_mig_gpus_are_told_apart():
    with pytest.raises(UnknownMigGpu, match=r"Unknown GPU 'H100-80G'.*Did you mean H100-80GB\?"):
        resolve_gpu(CATALOG, "H100-80G")
    with pytest.raises(UnknownMigGpu, match=r"L4-24GB is in the catalog but does not support MIG"):
        resolve_gpu(CATALOG, "L4")
    with pytest.raises(UnknownMigGpu, match="MIG-capable GPUs: A100-40GB"):
        resolve_gpu(CATALOG, "0xDEADBEEF")
