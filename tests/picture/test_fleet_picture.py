"""``fleet.svg``, the picture ``gpufleet preview`` writes: what it shows is the plan's, it renders in
a real browser, and the README's copy of ``stacks/prod.yaml``'s picture is current."""

from __future__ import annotations

import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from dataclasses import replace
from pathlib import Path

import pytest

from gpufleet.catalog import load_catalog
from gpufleet.model import FleetPlan, resolve
from gpufleet.model.cost import fleet_cost
from gpufleet.picture import fleet_scene, plan_scene, render_svg
from gpufleet.picture.scene import usd
from gpufleet.picture.svg import WORKLOAD_FILL
from gpufleet.policy.sizing import training_feeds
from gpufleet.stack import load_stack
from tests.picture.png import colours

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = sorted(path.stem for path in (REPO / "stacks").glob("*.yaml"))
README_PICTURE = REPO / "docs" / "fleet-prod.svg"
SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture(scope="module")
def catalog():
    return load_catalog()


def plan_of(name: str, catalog) -> FleetPlan:
    return resolve(load_stack(REPO / "stacks" / f"{name}.yaml"), catalog)


def drawn(name: str, catalog) -> ET.Element:
    return ET.fromstring(render_svg(plan_scene(plan_of(name, catalog), catalog)))


def rects(root: ET.Element, kind: str) -> dict[str, tuple[float, float, float, float]]:
    """``class=kind`` rectangles by their data attribute, as (left, top, right, bottom)."""
    found = {}
    for rect in root.iter(f"{SVG}rect"):
        if rect.get("class") == kind:
            key = next((value for name, value in rect.attrib.items() if name.startswith("data-")), "")
            x, y, w, h = (float(rect.get(attribute)) for attribute in ("x", "y", "width", "height"))
            found[key] = (x, y, x + w, y + h)
    return found


def inside(inner, outer) -> bool:
    return outer[0] <= inner[0] and outer[1] <= inner[1] and inner[2] <= outer[2] and inner[3] <= outer[3]


def texts(root: ET.Element) -> list[str]:
    return [element.text or "" for element in root.iter(f"{SVG}text")]


BROWSERS = ("chromium", "chromium-browser", "google-chrome")
"""Debian's package (README command 2), Ubuntu's name for it, and the Chrome GitHub's Ubuntu runners carry."""


def chromium() -> str:
    found = next((path for name in BROWSERS if (path := shutil.which(name))), None)
    assert found, "headless Chromium is needed: apt-get update && apt-get install -y chromium (README command 2)"
    return found


@pytest.mark.parametrize("name", EXAMPLES)
def test_every_example_stacks_picture_renders_in_headless_chromium(name, catalog, tmp_path):
    """Chrome's headless reference: "The --dump-dom flag prints the serialized DOM of the target
    page to stdout" and "The --screenshot flag takes a screenshot of the target page ... especially
    useful in combination with the --window-size flag". A malformed file shows Chromium's
    ``<parsererror>`` page instead of the drawing, and an attribute it refuses is logged as
    ``INFO:CONSOLE ... "Error: <rect> attribute width: ..."`` with ``--enable-logging=stderr``: the
    picture must do neither, must paint (pixels of the pool cards' colours, not a white page), and
    must carry every pool's name as text."""
    plan = plan_of(name, catalog)
    svg = tmp_path / "fleet.svg"
    svg.write_text(render_svg(plan_scene(plan, catalog)), encoding="utf-8")
    root = ET.fromstring(svg.read_text(encoding="utf-8"))
    width, height = (int(float(root.get(size))) + 1 for size in ("width", "height"))
    screenshot = tmp_path / "fleet.png"
    completed = subprocess.run(
        [
            chromium(),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--no-first-run",
            "--enable-logging=stderr",
            "--v=0",
            f"--user-data-dir={tmp_path / 'profile'}",
            f"--window-size={width},{height}",
            f"--screenshot={screenshot}",
            "--dump-dom",
            svg.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    dom = completed.stdout
    assert "<svg" in dom and "parsererror" not in dom
    assert not [line for line in completed.stderr.splitlines() if ":CONSOLE" in line]
    for pool in plan.pools:
        assert f">{pool.name}</text>" in dom, pool.name
    painted = colours(screenshot)
    total = sum(painted.values())
    assert painted[(255, 255, 255)] < total * 0.9, "a blank page"
    for workload in {pool.workload for pool in plan.pools}:
        fill = tuple(int(WORKLOAD_FILL[workload][i : i + 2], 16) for i in (1, 3, 5))
        assert painted[fill] > 500, f"no {workload} card painted"


def test_the_readme_picture_is_the_prod_stacks_current_one(catalog):
    """The README shows docs/fleet-prod.svg; regenerate it with
    ``gpufleet preview stacks/prod.yaml`` and copy out/prod/fleet.svg there."""
    assert README_PICTURE.read_text(encoding="utf-8") == render_svg(plan_scene(plan_of("prod", catalog), catalog))
    assert "](docs/fleet-prod.svg)" in (REPO / "README.md").read_text(encoding="utf-8")


def test_pool_cards_say_what_the_plan_decided(catalog):
    plan = plan_of("prod", catalog)
    cost = fleet_cost(plan, catalog.prices, catalog.mig)
    words = texts(ET.fromstring(render_svg(fleet_scene(plan, cost, training_feeds(plan)))))
    for facts in plan.pool_facts():
        ceiling = cost.pool(facts.pool).ceiling_per_hour
        assert facts.pool in words
        assert f"nodes {facts.nodes['min']}-{facts.nodes['max']}" in " ".join(words)
        assert any(usd(ceiling) in line for line in words), facts.pool
        if facts.accelerator:
            assert f"{facts.instance_type} · {facts.accelerators_per_node} × {facts.accelerator}" in words
            assert f"nodes {facts.nodes['min']}-{facts.nodes['max']} · {facts.accelerators_max} GPUs at max" in words
    assert "capacity block · $692.16/h, paid at any size" in words  # 16 nodes x the stack's $43.26
    assert any(line.startswith("spot · $") and line.endswith("(spot snapshot)") for line in words)
    assert "time-sliced: 4 pods per GPU" in words


def test_pools_sit_in_the_zones_the_plan_placed_them_in(catalog):
    plan = plan_of("prod", catalog)
    root = drawn("prod", catalog)
    zones, pools = rects(root, "zone"), rects(root, "pool")
    assert list(zones) == list(plan.network.zones)
    for facts in plan.pool_facts():
        pool = pools[facts.pool]
        covered = [zone for zone, lane in zones.items() if lane[0] < pool[2] and pool[0] < lane[2]]
        assert covered == list(facts.zones), facts.pool
    assert covered and len(pools) == len(plan.pools)


@pytest.mark.parametrize("name", ["prod", "staging", "onprem"])
def test_fabrics_and_placement_groups_enclose_exactly_their_pools(name, catalog):
    plan = plan_of(name, catalog)
    root = drawn(name, catalog)
    fabrics, pools, groups = rects(root, "fabric"), rects(root, "pool"), rects(root, "placement-group")
    assert set(fabrics) == {pool.fabric_name for pool in plan.pools if pool.fabric_name}
    for pool in plan.pools:
        for fabric, box in fabrics.items():
            assert inside(pools[pool.name], box) == (pool.fabric_name == fabric), (pool.name, fabric)
    placed = {facts.pool for facts in plan.pool_facts() if facts.placement not in (None, "none")}
    assert set(groups) == placed
    for pool, box in groups.items():
        assert inside(pools[pool], box)
    if name == "staging":
        assert placed == {"train-h200"}  # multi-node training on EFA with on-demand capacity


def test_feeds_point_from_each_tier_to_the_pools_mounting_it_with_the_sizing_figures(catalog):
    """The label is ``policy.sizing``'s: the hot tier's throughput shared over every GPU mounting
    it, against the policy's read rate per GPU (the figures ``gpufleet check`` judges)."""
    plan = plan_of("prod", catalog)
    root = drawn("prod", catalog)
    feeds = {(path.get("data-tier"), path.get("data-pool")) for path in root.iter(f"{SVG}path") if path.get("class") == "feed"}
    mounted = {(tier.name, pool.name) for pool in plan.pools for tier in pool.storage}
    assert feeds == mounted == {("scratch", "train-h200"), ("nvme-cache", "train-h200")}
    (feed,) = training_feeds(plan)
    scratch = plan.storage_tier("scratch")
    train = next(pool for pool in plan.pools if pool.name == "train-h200")
    # The tier's disks (115.2 TiB x 1000 MB/s per TiB) over the pool's 128 GPUs, against its own 900.
    assert feed.supply_mbs_per_gpu == scratch.disk_throughput_mbs / train.gpus_max == 900
    assert f"900 MB/s per GPU, needs {feed.need_mbs_per_gpu:,.0f}" in texts(root)
    assert [path.get("class") for path in root.iter(f"{SVG}path")].count("import") == 1  # datasets -> scratch


def test_a_feed_below_the_need_is_drawn_in_the_warning_colour(catalog):
    plan = plan_of("prod", catalog)
    cost = fleet_cost(plan, catalog.prices, catalog.mig)
    thirsty = [replace(feed, demand_mbs=feed.gpus * 2000, tier_demand_mbs=feed.gpus * 2000) for feed in training_feeds(plan)]
    root = ET.fromstring(render_svg(fleet_scene(plan, cost, thirsty)))
    (scratch,) = [p for p in root.iter(f"{SVG}path") if p.get("class") == "feed" and p.get("data-tier") == "scratch"]
    assert scratch.get("marker-end") == "url(#arrow-short)"
    assert "900 MB/s per GPU, needs 2,000" in texts(root) and "feed below need" in texts(root)
    ordinary = ET.fromstring(render_svg(fleet_scene(plan, cost, training_feeds(plan))))
    assert "feed below need" not in texts(ordinary)


def test_mig_layouts_are_drawn_to_scale_where_the_engine_placed_them(catalog):
    """H100-80GB: 8 memory slices, 7 compute slices; the plan holds each instance's start."""
    plan = plan_of("prod", catalog)
    (setup,) = plan.mig_plans
    assert (setup.geometry.memory_slices, setup.geometry.compute_slices) == (8, 7)
    root = drawn("prod", catalog)
    by_class: dict[str, list[ET.Element]] = {}
    for rect in root.iter(f"{SVG}rect"):
        by_class.setdefault(rect.get("class") or "", []).append(rect)
    memory_slots, compute_slots = by_class["mig-memory-slot"], by_class["mig-compute-slot"]
    assert (len(memory_slots), len(compute_slots)) == (8, 7)
    left = float(memory_slots[0].get("x"))
    row = sum(float(slot.get("width")) for slot in memory_slots)
    assert row == pytest.approx(sum(float(slot.get("width")) for slot in compute_slots), abs=0.5)
    (placed,) = setup.placements
    memory = by_class["mig-memory"]
    assert [rect.get("data-profile") for rect in memory] == [instance.profile for instance in placed]
    for rect, instance in zip(memory, placed, strict=True):
        assert float(rect.get("x")) == pytest.approx(left + row * instance.start / 8, abs=0.1)
        assert float(rect.get("width")) == pytest.approx(row * instance.size / 8, abs=0.1)
    compute = {rect.get("data-profile"): float(rect.get("width")) for rect in by_class["mig-compute"]}
    assert compute["3g.40gb"] == pytest.approx(row * 3 / 7, abs=0.1)
    assert compute["2g.20gb"] == pytest.approx(row * 2 / 7, abs=0.1)


def test_an_existing_cluster_is_drawn_without_cloud_parts(catalog):
    root = drawn("onprem", catalog)
    words = " ".join(texts(root))
    assert "VPC" not in words and "us-east" not in words and "$" not in words
    assert "existing Kubernetes cluster onprem" in words
    assert list(rects(root, "zone")) == ["nodes of the existing cluster, selected by their labels"]
    assert "existing nodes · owned, not priced" in texts(root)


def test_the_same_plan_gives_the_same_bytes(catalog):
    first = render_svg(plan_scene(plan_of("prod", catalog), catalog))
    assert first == render_svg(plan_scene(plan_of("prod", catalog), catalog))
    assert not re.search(r'="-?\d+\.\d{2,}"', first), "coordinates are written with at most one decimal"
