"""Typed hardware facts. Loaded from the data files beside this module, never edited at run time."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

InterfaceType = Literal["interface", "efa", "efa-only"]
GroupStrategy = Literal["cluster", "partition", "spread"]


class Fact(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Accelerator(Fact):
    name: str
    aliases: tuple[str, ...] = ()
    vendor: Literal["nvidia", "aws"]
    kind: Literal["gpu", "neuron"]
    architecture: str
    memory_mib: int = Field(gt=0)
    memory_bandwidth_gbs: int = Field(gt=0)
    interconnect: str
    pci_device_ids: tuple[str, ...] = ()
    sources: tuple[str, ...] = Field(min_length=1)

    @property
    def memory_gib(self) -> float:
        return self.memory_mib / 1024


class NetworkCardGroup(Fact):
    """Consecutive network cards that share the same facts."""

    first: int = Field(ge=0)
    count: int = Field(ge=1)
    interface_types: tuple[InterfaceType, ...]
    max_interfaces: int = Field(ge=1)
    baseline_gbps: float = Field(gt=0)


class NetworkCard(Fact):
    index: int
    interface_types: tuple[InterfaceType, ...]
    max_interfaces: int
    baseline_gbps: float

    @property
    def supports_efa(self) -> bool:
        return "efa" in self.interface_types or "efa-only" in self.interface_types


class LocalNvme(Fact):
    disks: int = Field(ge=1)
    disk_gb: int = Field(ge=1)

    @property
    def total_gb(self) -> int:
        return self.disks * self.disk_gb


class InstanceType(Fact):
    name: str
    accelerator: str | None = Field(description="None for the general-purpose types of system pools.")
    accelerator_count: int = Field(ge=0)
    vcpus: int = Field(ge=1)
    memory_mib: int = Field(ge=1)
    architecture: Literal["x86_64", "arm64"]
    network_performance: str
    max_efa_interfaces: int = Field(ge=0)
    ipv4_per_interface: int = Field(
        ge=2, description="Private IPv4 addresses one network interface holds (its primary and its secondaries)."
    )
    network_cards: tuple[NetworkCardGroup, ...] = Field(min_length=1)
    local_nvme: LocalNvme | None = None
    placement_strategies: tuple[GroupStrategy, ...]
    capacity_block: bool
    sources: tuple[str, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _cards_are_contiguous(self) -> InstanceType:
        expected = 0
        for group in self.network_cards:
            if group.first != expected:
                raise ValueError(f"{self.name}: network card groups must be contiguous from 0")
            expected += group.count
        return self

    @property
    def cards(self) -> tuple[NetworkCard, ...]:
        return tuple(
            NetworkCard(
                index=group.first + offset,
                interface_types=group.interface_types,
                max_interfaces=group.max_interfaces,
                baseline_gbps=group.baseline_gbps,
            )
            for group in self.network_cards
            for offset in range(group.count)
        )

    @property
    def max_network_cards(self) -> int:
        return sum(group.count for group in self.network_cards)

    @property
    def efa_supported(self) -> bool:
        return self.max_efa_interfaces > 0

    @property
    def family(self) -> str:
        return self.name.split(".", 1)[0]


class EfaHost(Fact):
    hugepages_2mib: int = Field(gt=0)
    vpc_cni_min_version: str
    sources: tuple[str, ...] = Field(min_length=1)


class PlacementGroupLimits(Fact):
    spread_instances_per_zone: int = Field(gt=0)
    partitions_per_zone: int = Field(gt=0)
    sources: tuple[str, ...] = Field(min_length=1)
