"""Typed facts for proving the fabric after apply: bus-bandwidth floors, test images, topology depth.

Loaded from ``data/fabric.yaml``. A floor is either a published recipe figure or derived from
NVIDIA's per-NIC rule of thumb and the instance type's own network figure; ``floor`` says which.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from pydantic import Field, model_validator

from gpufleet.catalog.models import Accelerator, Fact, InstanceType

_GIGABIT = re.compile(r"(?:([0-9]+)x )?([0-9]+) Gigabit\Z")


class PublishedFloor(Fact):
    busbw_gbs: float = Field(gt=0)
    sources: tuple[str, ...] = Field(min_length=1)
    note: str


class TransportFacts(Fact):
    net: str
    provider: str | None = None
    sources: tuple[str, ...] = Field(min_length=1)


class NcclFacts(Fact):
    checked: str
    image: str
    image_sources: tuple[str, ...] = Field(min_length=1)
    plugin_library_path: str
    algorithm: Literal["Ring"]
    max_message: str
    min_nodes: int = Field(ge=2)
    peak_gbs_per_100gbps: float = Field(gt=0)
    tolerance: float = Field(ge=0, lt=1)
    rule_sources: tuple[str, ...] = Field(min_length=1)
    published: dict[str, PublishedFloor]
    socket_exclude: tuple[str, ...] = Field(min_length=1)
    socket_sources: tuple[str, ...] = Field(min_length=1)
    efa: TransportFacts
    infiniband: TransportFacts
    not_nccl: dict[str, str]
    not_nccl_sources: tuple[str, ...] = Field(min_length=1)

    @property
    def socket_ifname(self) -> str:
        """NCCL's exclusion syntax: ``^`` then prefixes, so ``veth`` also drops ``veth1a2b``."""
        return "^" + ",".join(self.socket_exclude)


class DcgmFacts(Fact):
    checked: str
    image: str
    level: int = Field(ge=1, le=4)
    sources: tuple[str, ...] = Field(min_length=1)


class TopologyFacts(Fact):
    checked: str
    label_prefix: str
    labelled_by: str
    sources: tuple[str, ...] = Field(min_length=1)
    layers: dict[str, Literal[3, 4]]

    def levels(self, instance_type: str) -> tuple[str, ...]:
        """Node labels from the top network layer down to the one nearest the instance; empty
        where ``DescribeInstanceTopology`` does not cover the type."""
        depth = self.layers.get(instance_type, 0)
        return tuple(f"{self.label_prefix}{layer}" for layer in range(1, depth + 1))


@dataclass(frozen=True)
class BusBandwidthFloor:
    """What an NCCL all-reduce over a pool's nodes must beat, and where the figure comes from."""

    instance_type: str
    busbw_gbs: float
    min_nodes: int
    algorithm: str
    basis: Literal["published", "derived"]
    sources: tuple[str, ...]
    reason: str


class FabricFacts(Fact):
    sources: dict[str, str]
    nccl: NcclFacts
    dcgm: DcgmFacts
    topology: TopologyFacts

    @model_validator(mode="after")
    def _sources_known(self) -> FabricFacts:
        cited = [
            *self.nccl.image_sources,
            *self.nccl.rule_sources,
            *self.nccl.socket_sources,
            *self.nccl.efa.sources,
            *self.nccl.infiniband.sources,
            *self.nccl.not_nccl_sources,
            *(source for floor in self.nccl.published.values() for source in floor.sources),
            *self.dcgm.sources,
            *self.topology.sources,
        ]
        unknown = sorted(set(cited) - set(self.sources))
        if unknown:
            raise ValueError(f"fabric.yaml: unknown source(s) {', '.join(unknown)}")
        return self

    def floor(self, instance: InstanceType, accelerator: Accelerator | None) -> BusBandwidthFloor | None:
        """The floor for an EFA-capable NVIDIA type; None where NCCL does not run over EFA."""
        if accelerator is None or accelerator.vendor != "nvidia" or not instance.efa_supported:
            return None
        nccl = self.nccl
        published = nccl.published.get(instance.name)
        if published is not None:
            return BusBandwidthFloor(
                instance.name, published.busbw_gbs, nccl.min_nodes, nccl.algorithm, "published", published.sources, published.note
            )
        gbps = efa_gbps(instance)
        peak = gbps / 100 * nccl.peak_gbs_per_100gbps
        busbw = round(peak * (1 - nccl.tolerance), 1)
        reason = (
            f"derived: {nccl.peak_gbs_per_100gbps:g} GB/s per 100 Gb/s x {gbps:g} Gb/s of EFA"
            f" ({instance.network_performance}) = {peak:g} GB/s peak, less {nccl.tolerance:.0%}"
        )
        return BusBandwidthFloor(instance.name, busbw, nccl.min_nodes, nccl.algorithm, "derived", nccl.rule_sources, reason)


def efa_gbps(instance: InstanceType) -> float:
    """The type's network bandwidth as EC2 states it (``NetworkPerformance``): ``4x 100 Gigabit``
    is 400, ``3200 Gigabit`` is 3200. "Up to" figures are burst rates and no EFA type has one."""
    match = _GIGABIT.match(instance.network_performance)
    if match is None:
        raise ValueError(f"{instance.name}: network performance {instance.network_performance!r} is not a fixed Gigabit figure")
    count, each = match.groups()
    return float(int(count or 1) * int(each))
