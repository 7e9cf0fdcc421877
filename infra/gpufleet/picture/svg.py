"""The fleet as an SVG: zones as columns, pools as rows, fabrics and placement groups around them,
storage tiers to the right with a routed arrow to each pool they feed.

The layout is a grid worked out here (no layout engine): a zone is a column, a pool spans the
columns of its zones, and the pools of one fabric are adjacent rows, so a fabric's box encloses
exactly its pools even where it crosses zones (a strictly nested cluster layout, as Graphviz
draws, cannot enclose one set of boxes by zone and another by fabric at once). Text is set in a
monospace face, so its width is known without measuring a font; every coordinate is an integer
or a one-decimal number, and elements are written in the scene's order: the same stack gives the
same bytes on every machine.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass

from gpufleet.picture.scene import FabricGroup, MigBar, PoolCard, Scene, TierCard

FONT = "DejaVu Sans Mono, Liberation Mono, Menlo, Consolas, monospace"
SIZE = 12
CHAR = 7.3
"""Advance of one character at ``SIZE`` px in a monospace face (0.6 em, with a margin)."""
LINE = 16
PAD = 8
MARGIN = 16
GAP = 12
FABRIC_PAD = 10
GROUP_PAD = 8
HEADER = 22
CELL = 46
"""Width of one memory slice in a MIG bar; a compute slice is the same bar divided by its count."""
BAR = 14
SLICE_CHAR = 5.6
"""Advance of one character of a MIG block's 9 px label."""
CHANNEL = 12
FEED_SPACING = 18

WORKLOAD_FILL = {"training": "#dbe8fb", "inference": "#dcf2de", "lab": "#fdebd2", "system": "#ececec"}
WORKLOAD_STROKE = {"training": "#3b6fc4", "inference": "#3c9a4a", "lab": "#d08a1e", "system": "#8a8a8a"}
FABRIC_STROKE = {"EFA": "#7b3fb5", "InfiniBand": "#c0392b", "Ethernet": "#5d6d7e"}
SLICE_FILLS = ("#8fb8f0", "#f5b971", "#9ad3a0", "#e7a0c8", "#b7a4e6", "#f2d479", "#8fd3d1")
SHORT_FEED = "#c0392b"


def text_width(text: str, char: float = CHAR) -> float:
    return len(text) * char


def num(value: float) -> str:
    """A coordinate as the file writes it: an integer, or one decimal."""
    rounded = round(value, 1)
    return str(int(rounded)) if rounded == int(rounded) else f"{rounded:.1f}"


@dataclass(frozen=True)
class Box:
    x: float
    y: float
    width: float
    height: float

    @property
    def right(self) -> float:
        return self.x + self.width

    @property
    def bottom(self) -> float:
        return self.y + self.height


class Canvas:
    """SVG elements in drawing order, on ElementTree (which escapes every text and attribute)."""

    def __init__(self) -> None:
        self.elements: list[ET.Element] = []

    def rect(self, box: Box, **style: str) -> None:
        self._add("rect", x=num(box.x), y=num(box.y), width=num(box.width), height=num(box.height), **style)

    def text(self, x: float, y: float, words: str, **style: str) -> ET.Element:
        element = self._add("text", x=num(x), y=num(y), **style)
        element.text = words
        return element

    def path(self, d: str, **style: str) -> None:
        self._add("path", d=d, **style)

    def titled(self, element_index: int, title: str) -> None:
        """A tooltip on an element already drawn: the detail a card has no room for."""
        ET.SubElement(self.elements[element_index], "title").text = title

    def _add(self, tag: str, **attributes: str) -> ET.Element:
        element = ET.Element(tag, {key.rstrip("_").replace("_", "-"): value for key, value in attributes.items()})
        self.elements.append(element)
        return element


@dataclass(frozen=True)
class _Placed:
    card: PoolCard
    box: Box
    placement: Box | None
    inputs: tuple[float, ...]
    """Where each feed's arrow ends on the card's right edge."""


def _mig_height(bars: tuple[MigBar, ...]) -> int:
    return LINE + len(bars) * (LINE + 2 * (BAR + 4)) if bars else 0


def _card_lines(card: PoolCard) -> list[str]:
    lines = [card.hardware, card.counts, card.buying]
    if card.time_slicing:
        lines.append(f"time-sliced: {card.time_slicing} pods per GPU")
    return lines


def _card_width(card: PoolCard) -> float:
    widths = [text_width(card.name, CHAR * 1.1) + text_width(f"  {card.workload}"), *map(text_width, _card_lines(card))]
    if card.mig:
        widths.append(text_width("compute ") + 8 * CELL)
        widths.append(text_width(f"MIG {card.mig.plan} on {card.mig.gpu}"))
    return max(widths) + 2 * PAD


def _card_height(card: PoolCard, feeds: int) -> float:
    text = PAD + LINE + 2 + LINE * len(_card_lines(card)) + PAD
    if card.mig:
        text += _mig_height(card.mig.bars)
    return max(text, 2 * PAD + LINE + feeds * FEED_SPACING)


def render_svg(scene: Scene) -> str:
    """The scene as a standalone SVG document."""
    canvas = Canvas()
    feeds_into = {card.name: [feed for feed in scene.feeds if feed.pool == card.name] for card in scene.pools}
    columns = scene.vpc.zones if scene.vpc else ("nodes of the existing cluster, selected by their labels",)
    column_of = {zone: index for index, zone in enumerate(columns)}

    def span(card: PoolCard) -> tuple[int, int]:
        indexes = [column_of[zone] for zone in card.zones if zone in column_of] or [0, len(columns) - 1]
        if not card.launched:
            indexes = [0]
        return min(indexes), max(indexes)

    def inset(card: PoolCard) -> float:
        return (FABRIC_PAD if card.fabric else 0) + (GROUP_PAD if card.placement else 0)

    if scene.vpc:
        what = f"VPC {scene.vpc.cidr} · {scene.vpc.region} (provider aws)"
    else:
        what = f"existing Kubernetes cluster {scene.cluster} (provider {scene.provider}): gpufleet creates no cloud parts"

    # Column width: every card fits its span, every zone's name its column, the title the box.
    column = max(text_width(zone) + 2 * PAD for zone in columns)
    column = max(column, (text_width(what) + 2 * PAD - (len(columns) - 1) * GAP) / len(columns))
    for card in scene.pools:
        first, last = span(card)
        count = last - first + 1
        need = _card_width(card) + 2 * inset(card)
        column = max(column, (need - (count - 1) * GAP) / count)
    column = float(int(column) + 1)

    title_y = MARGIN + 16
    outer = Box(MARGIN, title_y + 2 * LINE, 0, 0)
    columns_top = outer.y + HEADER + 4
    content_x = outer.x + PAD
    y = columns_top + HEADER + 6

    def column_x(index: int) -> float:
        return content_x + index * (column + GAP)

    placed: list[_Placed] = []
    fabric_boxes: list[tuple[FabricGroup, Box]] = []
    by_fabric = {group.name: group for group in scene.fabrics}
    index = 0
    while index < len(scene.pools):
        card = scene.pools[index]
        group = by_fabric.get(card.fabric) if card.fabric else None
        members = [c for c in scene.pools[index:] if group and c.fabric == group.name] if group else [card]
        top = y
        if group:
            y += HEADER
        for member in members:
            first, last = span(member)
            left = column_x(first)
            width = column_x(last) + column - left
            group_box = None
            if member.placement:
                group_top = y
                y += HEADER - 4
            x = left + inset(member)
            feeds = len(feeds_into[member.name])
            box = Box(x, y, width - 2 * inset(member), _card_height(member, feeds))
            y = box.bottom
            if member.placement:
                y += GROUP_PAD
                group_box = Box(left + FABRIC_PAD, group_top, width - 2 * FABRIC_PAD, y - group_top)
            first_input = box.y + PAD + LINE
            inputs = tuple(first_input + i * FEED_SPACING for i in range(feeds))
            placed.append(_Placed(member, box, group_box, inputs))
            y += GAP
        if group:
            lefts = [p.box.x - inset(p.card) for p in placed[-len(members) :]]
            rights = [p.box.right + inset(p.card) for p in placed[-len(members) :]]
            fabric_boxes.append((group, Box(min(lefts), top, max(rights) - min(lefts), y - top - GAP + FABRIC_PAD)))
            y += FABRIC_PAD + GAP
        index += len(members)
    outer_right = column_x(len(columns) - 1) + column + PAD
    outer = Box(outer.x, outer.y, outer_right - outer.x, y - outer.y)

    # Storage to the right: a label lane, one routing channel per feed, then the tiers.
    labels = max((text_width(feed.label, 6.6) for feed in scene.feeds), default=0)
    channels_x = outer.right + PAD + labels + PAD
    tier_x = channels_x + CHANNEL * len(scene.feeds) + 2 * PAD
    tier_width = max(
        (max(text_width(t.headline), text_width(t.name, CHAR * 1.1), text_width(t.where)) for t in scene.tiers), default=0
    )
    tier_width += 2 * PAD
    tier_boxes: dict[str, Box] = {}
    ty = columns_top + HEADER + 6
    for tier in scene.tiers:
        outgoing = sum(1 for feed in scene.feeds if feed.tier == tier.name)
        tier_height = max(PAD + 3 * LINE + PAD, 2 * PAD + outgoing * 10)
        tier_boxes[tier.name] = Box(tier_x, ty, tier_width, tier_height)
        ty += tier_height + 3 * GAP
    imports_room = 90 if scene.imports else 0
    width = (tier_x + tier_width + imports_room if scene.tiers else outer.right) + MARGIN
    legend_y = max(outer.bottom, ty) + 2 * GAP
    width = max(width, MARGIN + _legend_width(scene) + MARGIN)
    height = legend_y + LINE + MARGIN

    # Title.
    canvas.text(MARGIN, title_y, f"{scene.cluster} · {scene.source}", font_size="16", font_weight="bold")
    canvas.text(MARGIN, title_y + LINE + 2, scene.totals, fill="#444")

    # The VPC (or the existing cluster) and its columns.
    canvas.rect(outer, class_="cluster", fill="#fbfbfd", stroke="#34495e", stroke_width="1.5", rx="6")
    canvas.text(outer.x + PAD, outer.y + 16, what, font_weight="bold")
    for position, zone in enumerate(columns):
        lane = Box(column_x(position), columns_top, column, outer.bottom - PAD - columns_top)
        canvas.rect(lane, class_="zone", data_zone=zone, fill="#f1f4f8", stroke="#c8d0da", stroke_dasharray="4 3", rx="4")
        canvas.text(lane.x + PAD, lane.y + 16, zone, fill="#34495e")

    for group, box in fabric_boxes:
        stroke = FABRIC_STROKE[group.kind]
        canvas.rect(
            box,
            class_="fabric",
            data_fabric=group.name,
            fill="none",
            stroke=stroke,
            stroke_width="2",
            stroke_dasharray="7 4",
            rx="6",
        )
        canvas.text(box.x + PAD, box.y + 15, group.title, fill=stroke, font_weight="bold")

    for item in placed:
        if item.placement:
            canvas.rect(
                item.placement,
                class_="placement-group",
                data_pool=item.card.name,
                fill="none",
                stroke="#555",
                stroke_dasharray="2 3",
                rx="4",
            )
            canvas.text(item.placement.x + PAD, item.placement.y + 13, item.card.placement or "", fill="#555", font_size="11")
        _draw_card(canvas, item)

    for tier in scene.tiers:
        _draw_tier(canvas, tier, tier_boxes[tier.name])

    # Feeds: tier -> its channel -> the pool's row -> the pool's right edge.
    used = {card.name: 0 for card in scene.pools}
    sent = {tier.name: 0 for tier in scene.tiers}
    cards = {item.card.name: item for item in placed}
    for number, feed in enumerate(scene.feeds):
        target = cards[feed.pool]
        end_y = target.inputs[used[feed.pool]]
        used[feed.pool] += 1
        source = tier_boxes[feed.tier]
        start_y = source.y + PAD + sent[feed.tier] * 10
        sent[feed.tier] += 1
        channel = channels_x + number * CHANNEL
        colour = SHORT_FEED if feed.short else "#2c3e50"
        canvas.path(
            f"M{num(source.x)} {num(start_y)} H{num(channel)} V{num(end_y)} H{num(target.box.right + 2)}",
            class_="feed",
            data_tier=feed.tier,
            data_pool=feed.pool,
            fill="none",
            stroke=colour,
            stroke_width="1.4",
            marker_end="url(#arrow-short)" if feed.short else "url(#arrow)",
        )
        canvas.text(channels_x - PAD, end_y - 4, feed.label, font_size="11", text_anchor="end", fill=colour)

    for number, link in enumerate(scene.imports):
        source, into = tier_boxes[link.source], tier_boxes[link.into]
        bend = source.right + 24 + number * CHANNEL
        mid_source, mid_into = source.y + source.height / 2, into.y + into.height / 2
        canvas.path(
            f"M{num(source.right)} {num(mid_source)} H{num(bend)} V{num(mid_into)} H{num(into.right + 2)}",
            class_="import",
            fill="none",
            stroke="#2c3e50",
            stroke_width="1.4",
            stroke_dasharray="5 3",
            marker_end="url(#arrow)",
        )
        canvas.text(bend + 4, (mid_source + mid_into) / 2, "imports", font_size="11", fill="#2c3e50")

    _legend(canvas, MARGIN, legend_y, scene)
    return _document(canvas, width, height, scene)


def _draw_card(canvas: Canvas, item: _Placed) -> None:
    card, box = item.card, item.box
    canvas.rect(
        box,
        class_="pool",
        data_pool=card.name,
        fill=WORKLOAD_FILL[card.workload],
        stroke=WORKLOAD_STROKE[card.workload],
        stroke_width="1.5",
        rx="5",
    )
    detail = [f"pool {card.name} ({card.workload})", f"cost: {card.cost_detail}" if card.cost_detail else ""]
    if card.zones:
        detail.append("zones: " + ", ".join(card.zones))
    canvas.titled(len(canvas.elements) - 1, "\n".join(line for line in detail if line))
    y = box.y + PAD + 12
    canvas.text(box.x + PAD, y, card.name, font_weight="bold", font_size="13")
    canvas.text(box.x + PAD + text_width(card.name, CHAR * 1.1) + CHAR, y, card.workload, fill="#555")
    y += 2
    for line in _card_lines(card):
        y += LINE
        canvas.text(box.x + PAD, y, line)
    if card.mig:
        y += LINE
        canvas.text(box.x + PAD, y, f"MIG {card.mig.plan} on {card.mig.gpu}", font_weight="bold", fill="#34495e")
        for bar in card.mig.bars:
            y = _draw_mig_bar(canvas, box.x + PAD, y, bar)


def _draw_mig_bar(canvas: Canvas, x: float, y: float, bar: MigBar) -> float:
    """Two rows to scale: the GPU's memory slices (with each instance at its placement) and its
    compute slices (each instance's share, in the same order)."""
    y += LINE
    off = " (MIG off)" if not bar.blocks else ""
    canvas.text(x, y, f"{bar.devices}: {bar.memory_slices} memory / {bar.compute_slices} compute slices{off}", font_size="11")
    left = x + text_width("compute ")
    total = bar.memory_slices * CELL
    rows = (("memory", bar.memory_slices, y + 4), ("compute", bar.compute_slices, y + 4 + BAR + 4))
    for label, slices, top in rows:
        canvas.text(x, top + BAR - 3, label, font_size="10", fill="#555")
        width = total / slices
        for slot in range(slices):
            canvas.rect(
                Box(left + slot * width, top, width, BAR),
                class_=f"mig-{label}-slot",
                fill="#ffffff",
                stroke="#b0b7c0",
                stroke_width="0.8",
            )
    for number, block in enumerate(bar.blocks):
        fill = SLICE_FILLS[number % len(SLICE_FILLS)]
        memory = Box(left + block.memory_start * CELL, rows[0][2], block.memory_size * CELL, BAR)
        compute_width = total / bar.compute_slices
        compute = Box(left + block.compute_start * compute_width, rows[1][2], block.compute_size * compute_width, BAR)
        for row, part, words in (("memory", memory, block.profile), ("compute", compute, block.profile.split(".", 1)[0])):
            canvas.rect(part, class_=f"mig-{row}", data_profile=block.profile, fill=fill, stroke="#34495e", stroke_width="0.8")
            if text_width(words, SLICE_CHAR) <= part.width - 2:
                canvas.text(part.x + part.width / 2, part.y + BAR - 4, words, font_size="9", text_anchor="middle")
    return y + 2 * (BAR + 4)


def _draw_tier(canvas: Canvas, tier: TierCard, box: Box) -> None:
    canvas.rect(box, class_="tier", data_tier=tier.name, fill="#fff8e6", stroke="#9a7b2f", stroke_width="1.5", rx="5")
    canvas.text(box.x + PAD, box.y + PAD + 12, tier.name, font_weight="bold", font_size="13")
    canvas.text(box.x + PAD, box.y + PAD + 12 + LINE, tier.headline)
    canvas.text(box.x + PAD, box.y + PAD + 12 + 2 * LINE, tier.where, fill="#555")


def _legend_entries(scene: Scene) -> list[str]:
    entries = [*WORKLOAD_FILL, *(f"{kind} fabric" for kind in FABRIC_STROKE)]
    return entries + (["feed below need"] if any(feed.short for feed in scene.feeds) else [])


def _legend_width(scene: Scene) -> float:
    return sum(28 + text_width(entry, 6.6) + 14 for entry in _legend_entries(scene))


def _legend(canvas: Canvas, x: float, y: float, scene: Scene) -> None:
    for workload, fill in WORKLOAD_FILL.items():
        canvas.rect(Box(x, y - 10, 12, 12), fill=fill, stroke=WORKLOAD_STROKE[workload])
        canvas.text(x + 16, y, workload, font_size="11")
        x += 16 + text_width(workload, 6.6) + 14
    for kind, stroke in FABRIC_STROKE.items():
        canvas.path(f"M{num(x)} {num(y - 4)} h24", stroke=stroke, stroke_width="2", stroke_dasharray="7 4")
        canvas.text(x + 28, y, f"{kind} fabric", font_size="11")
        x += 28 + text_width(f"{kind} fabric", 6.6) + 14
    if any(feed.short for feed in scene.feeds):
        canvas.path(f"M{num(x)} {num(y - 4)} h24", stroke=SHORT_FEED, stroke_width="1.4")
        canvas.text(x + 28, y, "feed below need", font_size="11", fill=SHORT_FEED)


def _document(canvas: Canvas, width: float, height: float, scene: Scene) -> str:
    root = ET.Element(
        "svg",
        {
            "xmlns": "http://www.w3.org/2000/svg",
            "width": num(width),
            "height": num(height),
            "viewBox": f"0 0 {num(width)} {num(height)}",
            "font-family": FONT,
            "font-size": str(SIZE),
            "role": "img",
        },
    )
    ET.SubElement(root, "title").text = f"gpufleet: the fleet of {scene.cluster} ({scene.source})"
    defs = ET.SubElement(root, "defs")
    for marker, colour in (("arrow", "#2c3e50"), ("arrow-short", SHORT_FEED)):
        element = ET.SubElement(
            defs,
            "marker",
            {
                "id": marker,
                "viewBox": "0 0 10 10",
                "refX": "9",
                "refY": "5",
                "markerWidth": "7",
                "markerHeight": "7",
                "orient": "auto",
            },
        )
        ET.SubElement(element, "path", {"d": "M0 0 L10 5 L0 10 z", "fill": colour})
    ET.SubElement(root, "rect", {"width": "100%", "height": "100%", "fill": "#ffffff"})
    root.extend(canvas.elements)
    ET.indent(root, space=" ")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
