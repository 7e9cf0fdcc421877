"""The catalog's price table holds the dated snapshot's figures, every one, and no invented one.

The snapshot (``aws_gpu_vms.csv`` in the reference folder, see its SOURCES.md) is SkyPilot's
AWS catalog: ``Price`` is the on-demand figure its fetcher reads from AWS's Price List bulk
offer file (TermType OnDemand, Linux, shared tenancy), one per region; ``SpotPrice`` is what
EC2 DescribeSpotPriceHistory answered per zone id at that moment; an empty cell is no figure.
"""

from __future__ import annotations

import csv
import subprocess
import sys
from collections import defaultdict
from datetime import date
from decimal import Decimal
from pathlib import Path

from gpufleet.catalog import load_catalog
from gpufleet.catalog.prices import ZONE_ID

REPO = Path(__file__).resolve().parents[2]
SNAPSHOT = REPO.parent / "shared" / "reference" / "pricing" / "aws_gpu_vms.csv"
CATALOG = load_catalog()
PRICES = CATALOG.prices


def snapshot_rows() -> list[dict[str, str]]:
    with SNAPSHOT.open(encoding="utf-8", newline="") as stream:
        return [row for row in csv.DictReader(stream) if row["InstanceType"] in CATALOG.instance_types]


def test_every_catalog_type_has_prices_and_the_table_names_its_date_and_sources() -> None:
    assert set(PRICES.instance_types) == set(CATALOG.instance_types)
    assert PRICES.as_of == date(2026, 12, 5)
    cited = PRICES.cited()
    assert any(
        "skypilot-org/skypilot-catalog" in source and "00148f2af3672e2229b4f7bf8157d5a3f36e3c35" in source for source in cited
    )
    assert any("pricing.us-east-1.amazonaws.com/offers/v1.0/aws/AmazonEC2" in source for source in cited)


def test_every_figure_is_the_snapshots() -> None:
    """On-demand per (type, region) and spot per zone id, as Decimals equal to the CSV cells."""
    on_demand: dict[tuple[str, str], set[Decimal | None]] = defaultdict(set)
    spot: dict[tuple[str, str], dict[str, Decimal]] = defaultdict(dict)
    for row in snapshot_rows():
        if not ZONE_ID.match(row["AvailabilityZone"]):
            continue  # Local Zones are left out, as prices.yaml says
        key = (row["InstanceType"], row["Region"])
        on_demand[key].add(Decimal(row["Price"]) if row["Price"] else None)
        zones = spot.setdefault(key, {})
        if row["SpotPrice"]:
            zones[row["AvailabilityZone"]] = Decimal(row["SpotPrice"])
    listed = {(name, region) for name, regions in PRICES.instance_types.items() for region in regions}
    assert listed == set(on_demand)
    for (name, region), figures in on_demand.items():
        entry = PRICES.region(name, region)
        (figure,) = figures
        assert entry.on_demand == figure, (name, region)
        zones = spot[(name, region)]
        assert entry.spot_in(tuple(zones)) == zones, (name, region)


def test_gaps_are_absent_never_zero() -> None:
    """The price list has no on-demand row for p5e.48xlarge or trn2 anywhere."""
    for name in ("p5e.48xlarge", "trn2.3xlarge", "trn2.48xlarge"):
        assert PRICES.instance_types[name] and all(entry.on_demand is None for entry in PRICES.instance_types[name].values())
    figures = [
        figure
        for regions in PRICES.instance_types.values()
        for entry in regions.values()
        for figure in (entry.on_demand, *entry.spot_in(()).values())
        if figure is not None
    ]
    assert figures and min(figures) > 0
    assert PRICES.storage.fsx_lustre == {} and PRICES.storage.s3_standard == {}  # not found, so not carried


def test_the_script_regenerates_the_same_table() -> None:
    result = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "price_table.py"), "--csv", str(SNAPSHOT)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
