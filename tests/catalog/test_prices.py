"""The catalog's price table holds the dated snapshot's figures, and no invented one.

The snapshot (``aws_gpu_vms.csv`` in the reference folder, see its SOURCES.md) is SkyPilot's
AWS catalog: ``Price`` is the on-demand figure its fetcher reads from AWS's Price List bulk
offer file (TermType OnDemand, Linux, shared tenancy), one per region; ``SpotPrice`` is what
EC2 DescribeSpotPriceHistory answered per zone id at that moment; an empty cell is no figure.
The suite holds a sample of its rows (tests/data/pricing); the whole table is checked against the
whole snapshot by `scripts/price_table.py --csv <snapshot>` when the table is refreshed.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

from gpufleet.catalog import load_catalog
from scripts import price_table

REPO = Path(__file__).resolve().parents[2]
# Every row of the dated snapshot (shared reference pricing/aws_gpu_vms.csv, SOURCES.md there) for three
# types, copied as test data so the suite needs nothing outside the repository.
SAMPLE = REPO / "tests" / "data" / "pricing" / "aws_gpu_vms-sample.csv"
SAMPLED_TYPES = {"p5.48xlarge", "p5e.48xlarge", "g6.xlarge"}
CATALOG = load_catalog()
PRICES = CATALOG.prices


def sample_table() -> dict[str, dict[str, dict[str, object]]]:
    """The script's reading of every row the snapshot has for three types (one without on-demand)."""
    return price_table.read_snapshot(SAMPLE, set(CATALOG.instance_types))


def test_every_catalog_type_has_prices_and_the_table_names_its_date_and_sources() -> None:
    assert set(PRICES.instance_types) == set(CATALOG.instance_types)
    assert PRICES.as_of == date(2026, 12, 5)
    cited = PRICES.cited()
    assert any(
        "skypilot-org/skypilot-catalog" in source and "00148f2af3672e2229b4f7bf8157d5a3f36e3c35" in source for source in cited
    )
    assert any("pricing.us-east-1.amazonaws.com/offers/v1.0/aws/AmazonEC2" in source for source in cited)


def test_the_sampled_types_carry_the_snapshots_figures() -> None:
    """On-demand per (type, region) and spot per zone id, equal to the snapshot's cells as the
    script reads them (the whole table: `scripts/price_table.py --csv <snapshot>`)."""
    table = sample_table()
    assert set(table) == SAMPLED_TYPES
    for name in SAMPLED_TYPES:
        assert set(PRICES.instance_types[name]) == set(table[name]), name
        for region, cells in table[name].items():
            entry = PRICES.region(name, region)
            on_demand = cells.get("on_demand")
            assert entry.on_demand == (Decimal(str(on_demand)) if on_demand is not None else None), (name, region)
            spot = cells.get("spot")
            if isinstance(spot, dict):
                wanted = {zone: Decimal(str(value)) for zone, value in spot.items()}
                assert entry.spot_in(tuple(wanted)) == wanted, (name, region)
            else:  # one figure for every zone of the region, or none
                assert entry.spot == (Decimal(str(spot)) if spot is not None else None), (name, region)


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
