"""What a plan costs, each figure worked out by hand from the price table and compared to the cent.

The figures the tests start from are the catalog's (``prices.yaml``, the 2026-12-05 snapshot):
p5.48xlarge on demand in us-east-1 is $55.04/hour; g6.12xlarge spot there is 2.0968 (use1-az1),
1.9631 (use1-az2), 2.0353 (use1-az4) and 1.7552 (use1-az6). Storage figures are the tests' own
(the catalog carries none, see prices.yaml), injected as a table of their own.
"""

from __future__ import annotations

import textwrap
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from gpufleet.catalog import load_catalog
from gpufleet.catalog.prices import PriceTable, S3Band, StoragePrices
from gpufleet.model.cost import cents, fleet_cost, s3_monthly, stale_prices
from tests.conftest import AWS_HEAD, SYSTEM_POOL

CATALOG = load_catalog()
US_EAST_2 = AWS_HEAD.replace("us-east-1a, us-east-1b", "us-east-2a, us-east-2b").replace("region: us-east-1", "region: us-east-2")
US_WEST_2 = AWS_HEAD.replace("us-east-1a, us-east-1b", "us-west-2a, us-west-2b").replace("region: us-east-1", "region: us-west-2")


def write(stacks, pools: str, before: str = "", head: str = AWS_HEAD) -> Path:
    """A stack of ``head``, ``before`` (other sections), then node_pools: the system pool and ``pools``."""
    body = textwrap.indent(textwrap.dedent(pools).lstrip("\n"), "  ")
    return stacks.write(head + textwrap.dedent(before).lstrip("\n") + "node_pools:\n" + SYSTEM_POOL + body)


def line_of(path: Path, text: str) -> int:
    return next(number for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if text in line)


def cost_of(plan, prices: PriceTable | None = None):
    return fleet_cost(plan, prices or CATALOG.prices, CATALOG.mig)


def usd(text: str) -> Decimal:
    return Decimal(text)


MIG = """
mig_plans:
  sliced:
    gpu: H100-80GB
    layout: {3g.40gb: 1, 2g.20gb: 1, 1g.10gb: 2}
"""
POOLS = """
serve:
  workload: inference
  instance_type: p5.48xlarge
  nodes: {min: 2, desired: 4, max: 8}
  mig: sliced
lab:
  workload: lab
  instance_type: g6.12xlarge
  nodes: {min: 1, max: 4}
  capacity: {type: spot}
  sharing: {time_slicing: {replicas: 4}}
"""


def test_on_demand_pool_at_min_desired_and_max(stacks) -> None:
    """On demand, a node costs the region's Price List figure for every hour it runs: 2 nodes at
    $55.04 are $110.08/hour, 4 are $220.16, 8 are $440.32; 30 days are 720 hours."""
    pool = cost_of(stacks.plan(write(stacks, POOLS, MIG))).pool("serve")
    assert pool.rate.usd_per_hour == usd("55.04") and not pool.rate.snapshot
    assert (pool.per_hour(2), pool.per_hour(4), pool.per_hour(8)) == (usd("110.08"), usd("220.16"), usd("440.32"))
    assert pool.as_json()["usd_per_hour"] == {"min": "110.08", "desired": "220.16", "max": "440.32"}
    assert pool.as_json()["usd_per_30_days"] == {"floor": "79257.60", "ceiling": "317030.40"}
    assert pool.gpu_hours_floor == 2 * 8 * 720


def test_spot_pool_takes_the_highest_snapshot_figure_of_its_zones_and_says_snapshot(stacks) -> None:
    """DescribeSpotPriceHistory answers per zone id; zone names (us-east-1a) map to ids per
    account, so a pool named by zone names is priced at the highest of the region's zones:
    4 x 2.0968 = 8.3872/hour, 6,038.784 per 30 days."""
    pool = cost_of(stacks.plan(write(stacks, POOLS, MIG))).pool("lab")
    assert pool.rate.usd_per_hour == usd("2.0968") and pool.rate.snapshot
    assert pool.rate.basis == "spot, snapshot 2026-12-05, highest of 4 zones (use1-az1)"
    assert pool.as_json()["snapshot"] is True
    assert cents(pool.ceiling_per_hour) == usd("8.39") and cents(pool.ceiling_per_hour * 720) == usd("6038.78")
    assert pool.floor_per_hour == usd("2.0968")


def test_spot_pool_on_zone_ids_is_priced_in_those_zones(stacks) -> None:
    head = AWS_HEAD.replace("[us-east-1a, us-east-1b]", "[use1-az2, use1-az6]")
    plan = stacks.plan(write(stacks, POOLS, MIG, head))
    pool = cost_of(plan).pool("lab")
    assert set(pool.rate.basis.split("(")[-1].rstrip(")").split(", ")) <= {"use1-az2"}
    assert pool.rate.usd_per_hour == usd("1.9631")  # the higher of 1.9631 (az2) and 1.7552 (az6)


def test_time_sliced_replica_is_its_gpus_share(stacks) -> None:
    """g6.12xlarge has 4 L4s, each shared by 4 pods: 2.0968 / 4 / 4 = 0.13105 per replica-hour."""
    pool = cost_of(stacks.plan(write(stacks, POOLS, MIG))).pool("lab")
    assert pool.time_sliced_replica_per_hour == usd("0.13105")
    assert pool.as_json()["time_sliced_replica_usd_per_hour"] == "0.13"


def test_mig_slices_share_their_gpu_by_compute_slices(stacks) -> None:
    """An H100 has 7 compute slices; p5.48xlarge's 8 GPUs cost 55.04 / 8 = 6.88 each, so a
    3g.40gb slice is 6.88 x 3/7 = 2.9486, a 2g.20gb 1.9657, a 1g.10gb 0.9829 per hour."""
    pool = cost_of(stacks.plan(write(stacks, POOLS, MIG))).pool("serve")
    assert [(s.profile, cents(s.usd_per_hour)) for s in pool.slices] == [
        ("1g.10gb", usd("0.98")),
        ("2g.20gb", usd("1.97")),
        ("3g.40gb", usd("2.95")),
    ]
    assert pool.services == ()  # a fixed layout does not say which service holds which slice


def test_a_mig_demand_service_pays_for_the_slices_its_replicas_hold(stacks) -> None:
    """The planner gives each replica the smallest slice that holds it: 18 GiB -> 1g.20gb
    (1 of 7 compute slices), a quarter of the SMs -> 2g.20gb (2 of 7). On p5.48xlarge on demand
    a GPU is $6.88/hour: chat's 16 replicas 16 x 6.88/7 = 15.7257, rerank's 4: 4 x 13.76/7 = 7.8629."""
    path = write(
        stacks,
        """
        serve:
          workload: inference
          instance_type: p5.48xlarge
          nodes: {min: 1, max: 4}
          mig: services
        """,
        """
        mig_plans:
          services:
            gpu: H100-80GB
            demand:
              - {name: chat, memory_gib: 18, replicas: 16}
              - {name: rerank, memory_gib: 9, compute_share: 0.25, replicas: 4}
        """,
    )
    pool = cost_of(stacks.plan(path)).pool("serve")
    chat, rerank = pool.services
    assert (chat.service, chat.profile, chat.replicas, cents(chat.usd_per_hour)) == ("chat", "1g.20gb", 16, usd("15.73"))
    assert (rerank.service, rerank.profile, cents(rerank.usd_per_replica_hour), cents(rerank.usd_per_hour)) == (
        "rerank",
        "2g.20gb",
        usd("1.97"),
        usd("7.86"),
    )


FABRIC = """
fabrics:
  efa: {kind: efa}
"""
RESERVED = """
train:
  workload: training
  instance_type: p5e.48xlarge
  nodes: {{min: 0, max: 16}}
  fabric: efa
  capacity:
    type: capacity-block
    reservation_id: cr-0a1b2c3d4e5f60718
    availability_zone: us-east-1a
{price}"""


def test_capacity_block_with_an_hourly_price_is_paid_at_every_node_count(stacks) -> None:
    """A capacity block's reservation fee is charged up front for the whole block (AWS's Capacity
    Blocks pricing page: "The reservation fee is charged up front at the time you schedule the
    reservation"), so 16 instances at $43.26 cost $692.16/hour at nodes.min 0 as at 16."""
    plan = stacks.plan(write(stacks, RESERVED.format(price="    price: {hourly_usd: 43.26}\n"), FABRIC))
    pool = cost_of(plan).pool("train")
    assert pool.rate.paid_regardless
    assert pool.floor_per_hour == pool.ceiling_per_hour == usd("692.16")
    assert pool.as_json()["usd_per_30_days"] == {"floor": "498355.20", "ceiling": "498355.20"}
    assert pool.gpu_hours_floor == 16 * 8 * 720  # the reserved GPUs are paid for at the floor
    assert plan.findings == ()


def test_capacity_block_with_an_upfront_price_spreads_it_over_its_hours(stacks) -> None:
    """$100,000 for 168 hours is 595.238095.../hour for the pool, 428,571.43 per 30 days."""
    plan = stacks.plan(write(stacks, RESERVED.format(price="    price: {upfront_usd: 100000, hours: 168}\n"), FABRIC))
    pool = cost_of(plan).pool("train")
    assert cents(pool.floor_per_hour) == usd("595.24") == cents(pool.ceiling_per_hour)
    assert pool.as_json()["usd_per_30_days"]["floor"] == "428571.43"


def test_a_reserved_pool_without_a_price_is_a_located_warning_and_left_out(stacks) -> None:
    path = write(stacks, RESERVED.format(price=""), FABRIC)
    plan = stacks.plan(path)
    (finding,) = plan.findings
    assert (finding.rule_id, finding.severity, finding.field) == ("GF-COST-001", "warning", "node_pools.train.capacity")
    assert finding.line == line_of(path, "  capacity:")
    cost = cost_of(plan)
    assert cost.pool("train").rate is None and cost.pool("train").floor_per_hour is None
    assert cost.excluded == ("pool train",)
    # Only the system pool (1-2 x m7i.xlarge at $0.2016) is in the totals.
    assert cost.per_30_days("ceiling") == usd("0.2016") * 2 * 720 and cost.as_json()["totals"]["excludes"] == ["pool train"]


def test_a_type_the_table_has_no_on_demand_figure_for_is_a_warning_at_the_type(stacks) -> None:
    """The Price List has no on-demand row for p5e.48xlarge in any region (AWS sells it as
    capacity blocks): the pool is unpriced, never $0."""
    path = write(
        stacks,
        """
        train:
          workload: training
          instance_type: p5e.48xlarge
          nodes: {min: 0, max: 2}
          fabric: efa
        """,
        FABRIC,
        US_EAST_2,
    )
    plan = stacks.plan(path)
    (finding,) = [f for f in plan.findings if f.rule_id.startswith("GF-COST")]
    assert (finding.rule_id, finding.severity, finding.field, finding.line) == (
        "GF-COST-002",
        "warning",
        "node_pools.train.instance_type",
        line_of(path, "p5e.48xlarge"),
    )
    assert "no on-demand figure for p5e.48xlarge in us-east-2" in finding.message
    assert cost_of(plan).pool("train").unpriced.startswith("the price table has no on-demand figure")


def test_a_spot_type_missing_from_the_snapshot_is_a_note_at_its_capacity(stacks) -> None:
    path = write(
        stacks,
        """
        lab:
          workload: lab
          instance_type: p5.4xlarge
          nodes: {min: 0, max: 2}
          capacity: {type: spot}
        """,
        head=US_WEST_2,
    )
    (finding,) = stacks.plan(path).findings
    assert (finding.rule_id, finding.severity, finding.field) == ("GF-COST-004", "info", "node_pools.lab.capacity")


def table_with_storage(**storage) -> PriceTable:
    return CATALOG.prices.model_copy(update={"storage": StoragePrices(**storage)})


TIERS = """
storage:
  data: {kind: s3, size_gb: 60000}
  bucket: {kind: s3}
  scratch: {kind: fsx-lustre, deployment: PERSISTENT_2, capacity_tib: 48, throughput_per_tib: 1000}
"""
BANDS = (S3Band(up_to_gb=50_000, usd_per_gb_month=usd("0.023")), S3Band(up_to_gb=500_000, usd_per_gb_month=usd("0.022")))
BANDS += (S3Band(usd_per_gb_month=usd("0.021")),)


def test_storage_tiers_priced_by_capacity_and_size_or_said_unknown(stacks) -> None:
    """FSx for Lustre bills provisioned capacity per GB-month: 48,000 GiB at a test figure of
    $0.60 is $28,800 per 30 days, $40/hour. S3 bills stored GB-months in volume bands: 60,000 GB
    is 50,000 x 0.023 + 10,000 x 0.022 = $1,370. An s3 tier with no size_gb is "size unknown"."""
    prices = table_with_storage(fsx_lustre={"us-east-1": {"PERSISTENT_2": {1000: usd("0.60")}}}, s3_standard={"us-east-1": BANDS})
    cost = cost_of(stacks.plan(write(stacks, "", TIERS)), prices)
    assert cost.tier("scratch").per_30_days == usd("28800.00") and cost.tier("scratch").per_hour == usd("40")
    assert cost.tier("data").per_30_days == usd("1370.000")
    bucket = cost.tier("bucket")
    assert bucket.per_30_days is None and "size unknown" in bucket.what and "size_gb" in bucket.unpriced
    # The stack: the system pool, 1-2 x m7i.xlarge at $0.2016, plus storage, 30 days.
    assert cost.per_30_days("floor") == usd("0.2016") * 720 + usd("28800") + usd("1370")
    assert cents(cost.per_30_days("floor")) == usd("30315.15")
    assert cost.as_json()["totals"]["ceiling"]["usd_per_30_days"] == "30460.30"
    assert cost.excluded == ("storage tier bucket",)


def test_the_catalog_carries_no_storage_figure_so_tiers_are_unpriced(stacks) -> None:
    cost = cost_of(stacks.plan(write(stacks, "", TIERS)))
    assert cost.tier("scratch").per_30_days is None and "no figure" in cost.tier("scratch").unpriced
    assert cost.tier("data").per_30_days is None


@pytest.mark.parametrize(
    ("size", "expected"),
    [(1, "0.023"), (50_000, "1150"), (500_000, "11050"), (600_000, "13150")],
)
def test_s3_bands(size: int, expected: str) -> None:
    """50,000 at 0.023 = 1,150; 450,000 more at 0.022 = 9,900; each GB past 500,000 at 0.021."""
    assert s3_monthly(BANDS, size) == usd(expected)


def test_stack_totals_floor_and_ceiling(stacks) -> None:
    """serve 2-8 x 55.04, lab 1-4 x 2.0968 and system 1-2 x 0.2016: floor 112.3784/hour,
    ceiling 449.1104/hour; 30 days at the floor 80,912.448."""
    cost = cost_of(stacks.plan(write(stacks, POOLS, MIG)))
    assert cost.per_hour("floor") == usd("112.3784") and cost.per_hour("ceiling") == usd("449.1104")
    assert cost.as_json()["totals"]["floor"] == {"usd_per_hour": "112.38", "usd_per_30_days": "80912.45"}
    assert cost.gpu_hours_floor == (2 * 8 + 1 * 4) * 720
    assert cost.costliest("ceiling").name == "serve"
    assert cost.as_json()["totals"]["includes_spot_snapshot"] is True


def test_price_table_older_than_90_days_warns_with_its_date() -> None:
    assert CATALOG.prices.as_of == date(2026, 12, 5)
    assert stale_prices(CATALOG.prices, date(2027, 3, 5)) is None  # 90 days: still fresh
    finding = stale_prices(CATALOG.prices, date(2027, 3, 6))
    assert finding.rule_id == "GF-COST-003" and finding.severity == "warning"
    assert "dated 2026-12-05, 91 days before today (2027-03-06)" in finding.message


def test_price_only_on_reserved_capacity(stacks) -> None:
    path = write(
        stacks,
        """
        lab:
          workload: lab
          instance_type: g6.12xlarge
          nodes: {min: 0, max: 4}
          capacity: {type: spot, price: {hourly_usd: 1}}
        """,
    )
    ((line, _, field, message),) = stacks.load_problems(path)
    assert (line, field) == (line_of(path, "capacity:"), "node_pools.lab.capacity")
    assert "price only applies to capacity-block or reservation" in message


def test_an_upfront_price_needs_its_hours_at_the_price(stacks) -> None:
    path = write(stacks, RESERVED.format(price="    price: {upfront_usd: 100000}\n"), FABRIC)
    ((line, _, field, message),) = stacks.load_problems(path)
    assert (line, field, message) == (
        line_of(path, "price:"),
        "node_pools.train.capacity.price.hours",
        "required field is missing",
    )
