"""Re-derive the catalog's EC2 price table (``catalog/data/prices.yaml``) from the dated snapshot.

The snapshot is ``aws_gpu_vms.csv`` in the project's reference folder: SkyPilot's AWS price
catalog (on-demand from AWS's Price List API, spot from EC2's spot price history), extracted on
the date its SOURCES.md gives. The catalog keeps its own copy of the figures for the instance
types it carries; ``tests/catalog/test_prices.py`` checks a sample of rows (tests/data/pricing), this
script the whole table. After a new snapshot:

    .venv/bin/python scripts/price_table.py --csv PATH/aws_gpu_vms.csv --write   # then set as_of by hand

Without ``--write`` it only says whether ``prices.yaml`` matches the snapshot (exit 1 when not).
Local Zones (``use1-atl2-az1``) are left out: gpufleet places pools in a region's own zones.
"""

from __future__ import annotations

import argparse
import csv
import re
import sys
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

import yaml

DATA = Path(__file__).resolve().parent.parent / "infra" / "gpufleet" / "catalog" / "data"
PRICES = DATA / "prices.yaml"
REGION_ZONE = re.compile(r"^[a-z]+[0-9]+-az[0-9]+$")
HEADER_END = "# --- generated below this line by scripts/price_table.py ---\n"

Regions = dict[str, dict[str, object]]


def catalog_instance_types() -> set[str]:
    document = yaml.safe_load((DATA / "aws_instances.yaml").read_text(encoding="utf-8"))
    return set(document["instance_types"])


def read_snapshot(path: Path, types: set[str]) -> dict[str, Regions]:
    """Type -> region -> {on_demand, spot}; spot is one figure when every zone listed had it."""
    on_demand: dict[tuple[str, str], set[str]] = defaultdict(set)
    spot: dict[tuple[str, str], dict[str, str]] = defaultdict(dict)
    zones_listed: dict[tuple[str, str], int] = defaultdict(int)
    with path.open(encoding="utf-8", newline="") as stream:
        for row in csv.DictReader(stream):
            name, region, zone = row["InstanceType"], row["Region"], row["AvailabilityZone"]
            if name not in types or not REGION_ZONE.match(zone):
                continue
            key = (name, region)
            on_demand[key].add(row["Price"])
            zones_listed[key] += 1
            if row["SpotPrice"]:
                spot[key][zone] = row["SpotPrice"]
    table: dict[str, Regions] = defaultdict(dict)
    for (name, region), prices in sorted(on_demand.items()):
        if len(prices) != 1:
            raise ValueError(f"{name} {region}: on-demand differs between zones: {sorted(prices)}")
        entry: dict[str, object] = {}
        (price,) = prices
        if price:
            entry["on_demand"] = _figure(price)
        zones = spot[(name, region)]
        figures = {_figure(value) for value in zones.values()}
        if len(figures) == 1 and len(zones) == zones_listed[(name, region)] > 1:
            entry["spot"] = figures.pop()  # every zone of the region had this one figure
        elif zones:
            entry["spot"] = {zone: _figure(zones[zone]) for zone in sorted(zones)}
        table[name][region] = entry
    return {name: table[name] for name in sorted(table)}


def _figure(text: str) -> str:
    """The figure as the snapshot writes it, less trailing zeros (0.190100 is 0.1901)."""
    value = Decimal(text).normalize()
    return f"{value:f}"


def render(table: dict[str, Regions]) -> str:
    lines = ["instance_types:"]
    for name, regions in table.items():
        lines.append(f"  {name}:")
        for region, entry in regions.items():
            parts = []
            if "on_demand" in entry:
                parts.append(f"on_demand: {entry['on_demand']}")
            spot = entry.get("spot")
            if isinstance(spot, dict):
                parts.append("spot: {" + ", ".join(f"{zone}: {value}" for zone, value in spot.items()) + "}")
            elif spot is not None:
                parts.append(f"spot: {spot}")
            lines.append(f"    {region}: {{{', '.join(parts)}}}")
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--csv", type=Path, required=True, help="the snapshot, aws_gpu_vms.csv")
    parser.add_argument("--write", action="store_true", help="rewrite the generated part of prices.yaml")
    arguments = parser.parse_args()
    current = PRICES.read_text(encoding="utf-8")
    header, marker, _ = current.partition(HEADER_END)
    if not marker:
        print(f"{PRICES}: no line {HEADER_END.strip()!r} to write below", file=sys.stderr)
        return 2
    wanted = header + HEADER_END + render(read_snapshot(arguments.csv, catalog_instance_types()))
    if arguments.write:
        PRICES.write_text(wanted, encoding="utf-8")
        return 0
    if wanted != current:
        print(f"{PRICES} differs from {arguments.csv}; run with --write", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
