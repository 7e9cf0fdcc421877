"""Re-derive the catalog data cited from moto's EC2 snapshot, after the lock moves moto.

The catalog cites ``PyPI moto==X, <path>`` in ``aws_instances.yaml``, ``gpus.yaml`` and
``aws_zones.yaml``. ``tests/catalog`` checks the citation against the version
``requirements/dev.txt`` locks and every figure against the installed copy. After a lock bump:

    .venv/bin/python scripts/moto_catalog.py --write   # zone offerings + citations from moto
    .venv/bin/pytest tests/catalog                     # instance figures, checked one by one

``--write`` regenerates the zone offerings (wholly derived: which zones offer each catalog type)
and moves the three citations to the installed version. Instance figures are curated by hand
(grouped network cards, documented exceptions), so a figure that moved is reported by
``tests/catalog/test_aws_vs_moto.py`` and fixed in ``aws_instances.yaml`` or ``gpus.yaml``.
Without ``--write`` it only says whether the zone offerings match (exit 1 when not).
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import sys
from importlib import metadata, resources
from pathlib import Path

import yaml

DATA = Path(__file__).resolve().parent.parent / "infra" / "gpufleet" / "catalog" / "data"
CITING_FILES = ("aws_instances.yaml", "gpus.yaml", "aws_zones.yaml")
CITATION = re.compile(r'"PyPI moto==(?P<version>[0-9][0-9A-Za-z.]*), ')
OFFERINGS = "resources/instance_type_offerings"

Offerings = dict[str, dict[str, dict[str, list[str]]]]


def catalog_instance_types() -> set[str]:
    document = yaml.safe_load((DATA / "aws_instances.yaml").read_text(encoding="utf-8"))
    return set(document["instance_types"])


def _offering_file(kind: str, region: str) -> list[dict[str, str]]:
    blob = resources.files("moto.ec2").joinpath(f"{OFFERINGS}/{kind}/{region}.json.gz").read_bytes()
    return list(json.loads(gzip.decompress(blob)))


def moto_regions() -> list[str]:
    folder = resources.files("moto.ec2").joinpath(f"{OFFERINGS}/availability-zone")
    return sorted(entry.name.removesuffix(".json.gz") for entry in folder.iterdir() if entry.name.endswith(".json.gz"))


def derive_offerings(instance_types: set[str]) -> Offerings:
    """Region -> catalog type -> zone letters and zone ids that offer it, from moto's snapshot.

    A region that offers no catalog type stays, empty: it is a known region, so a stack naming
    it is told that its type is not offered there rather than that the region is unknown."""
    regions: Offerings = {}
    for region in moto_regions():
        by_type: dict[str, dict[str, list[str]]] = {}
        for kind, key in (("availability-zone", "names"), ("availability-zone-id", "ids")):
            for row in _offering_file(kind, region):
                if row["InstanceType"] not in instance_types:
                    continue
                location = row["Location"]
                value = location.removeprefix(region) if key == "names" else location
                by_type.setdefault(row["InstanceType"], {"names": [], "ids": []})[key].append(value)
        regions[region] = {
            name: {"names": sorted(zones["names"]), "ids": sorted(zones["ids"])} for name, zones in sorted(by_type.items())
        }
    return regions


def recorded_offerings() -> Offerings:
    document = yaml.safe_load((DATA / "aws_zones.yaml").read_text(encoding="utf-8"))
    return dict(document["regions"])


def offerings_text(regions: Offerings) -> str:
    lines = ["regions:"]
    for region, by_type in regions.items():
        if not by_type:
            lines.append(f"  {region}: {{}}  # no catalog type offered")
            continue
        lines.append(f"  {region}:")
        for name, zones in by_type.items():
            lines.append(f"    {name}: {{names: [{', '.join(zones['names'])}], ids: [{', '.join(zones['ids'])}]}}")
    return "\n".join(lines) + "\n"


def cited_versions() -> set[str]:
    return {match["version"] for name in CITING_FILES for match in CITATION.finditer((DATA / name).read_text(encoding="utf-8"))}


def write(version: str, regions: Offerings) -> None:
    for name in CITING_FILES:
        path = DATA / name
        text = CITATION.sub(f'"PyPI moto=={version}, ', path.read_text(encoding="utf-8"))
        if name == "aws_zones.yaml":
            head, _, _ = text.partition("\nregions:\n")
            text = head + "\n" + offerings_text(regions)
        path.write_text(text, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="rewrite the zone offerings and citations")
    args = parser.parse_args(argv)
    installed = metadata.version("moto")
    derived = derive_offerings(catalog_instance_types())
    if args.write:
        write(installed, derived)
        print(f"catalog: zone offerings and citations re-derived from moto {installed}; now run pytest tests/catalog")
        return 0
    recorded = recorded_offerings()
    stale = sorted(region for region in set(derived) | set(recorded) if derived.get(region) != recorded.get(region))
    if stale or cited_versions() != {installed}:
        print(
            f"catalog: moto {installed} differs from aws_zones.yaml (cited {', '.join(sorted(cited_versions()))}; regions: {', '.join(stale) or 'none'}); run with --write"
        )
        return 1
    print(f"catalog: zone offerings match moto {installed}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
