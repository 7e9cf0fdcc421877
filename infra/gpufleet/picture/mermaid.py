"""The fleet as a Mermaid flowchart, for Markdown that GitHub renders (a step summary, a comment).

Mermaid's subgraphs nest strictly, so zones are written in each pool's label rather than drawn
as boxes; the VPC (or the existing cluster) encloses fabrics, fabrics enclose their pools, and
each storage tier points at the pools it feeds with the SVG's label. Only a small, fixed part of
the flowchart grammar is written: ``flowchart LR``, ``subgraph id["label"]`` / ``end``, nodes
``id["label"]`` and ``id[("label")]``, edges ``a -->|"label"| b`` and ``a -.->|"label"| b``,
``classDef`` and ``class``. Ids are ``[a-z][a-z0-9_]*`` with a prefix per kind, so no name can
become a keyword (``end``); labels are quoted, with ``#``, ``"``, ``&``, ``<`` and ``>`` written as
Mermaid's entity codes (``#35;``, ``#quot;``, ...).
"""

from __future__ import annotations

import re

from gpufleet.picture.scene import PoolCard, Scene

CLASSES = {
    "training": "fill:#dbe8fb,stroke:#3b6fc4",
    "inference": "fill:#dcf2de,stroke:#3c9a4a",
    "lab": "fill:#fdebd2,stroke:#d08a1e",
    "system": "fill:#ececec,stroke:#8a8a8a",
    "tier": "fill:#fff8e6,stroke:#9a7b2f",
}


def node_id(kind: str, name: str) -> str:
    return f"{kind}_" + re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


def label(text: str) -> str:
    """A quoted Mermaid label: quotes as entities, lines joined by ``<br/>``."""
    escaped = text.replace("#", "#35;").replace("&", "#amp;").replace('"', "#quot;").replace("<", "#lt;").replace(">", "#gt;")
    return '"' + escaped.replace("\n", "<br/>") + '"'


def _pool_label(card: PoolCard) -> str:
    zones = f"\n{', '.join(card.zones)}" if card.zones else ""
    mig = ""
    if card.mig:
        layouts = "; ".join(
            f"{bar.devices}: " + (" + ".join(block.profile for block in bar.blocks) or "MIG off") for bar in card.mig.bars
        )
        mig = f"\nMIG {layouts}"
    return label(f"{card.name} ({card.workload})\n{card.hardware}\n{card.counts}\n{card.buying}{mig}{zones}")


def render_mermaid(scene: Scene) -> str:
    """The flowchart's text, without the Markdown fence."""
    lines = ["flowchart LR"]
    vpc = scene.vpc
    title = f"VPC {vpc.cidr} · {vpc.region}" if vpc else f"existing cluster {scene.cluster} (no cloud parts)"
    lines.append(f"  subgraph {node_id('cluster', scene.cluster)}[{label(title)}]")
    grouped = {name for group in scene.fabrics for name in group.pools}
    for group in scene.fabrics:
        lines.append(f"    subgraph {node_id('fabric', group.name)}[{label(group.title)}]")
        for name in group.pools:
            card = scene.pool(name)
            lines.append(f"      {node_id('pool', name)}[{_pool_label(card)}]")
        lines.append("    end")
    for card in scene.pools:
        if card.name not in grouped:
            lines.append(f"    {node_id('pool', card.name)}[{_pool_label(card)}]")
    lines.append("  end")
    for tier in scene.tiers:
        words = label("\n".join((tier.name, tier.headline, tier.where)))
        lines.append(f"  {node_id('tier', tier.name)}[({words})]")
    for link in scene.imports:
        lines.append(f"  {node_id('tier', link.source)} -.->|{label('imports')}| {node_id('tier', link.into)}")
    for feed in scene.feeds:
        lines.append(f"  {node_id('tier', feed.tier)} -->|{label(feed.label)}| {node_id('pool', feed.pool)}")
    for name, style in CLASSES.items():
        lines.append(f"  classDef {name} {style}")
    for workload in CLASSES:
        members = [node_id("pool", card.name) for card in scene.pools if card.workload == workload]
        if members:
            lines.append(f"  class {','.join(members)} {workload}")
    if scene.tiers:
        lines.append(f"  class {','.join(node_id('tier', tier.name) for tier in scene.tiers)} tier")
    return "\n".join(lines) + "\n"
