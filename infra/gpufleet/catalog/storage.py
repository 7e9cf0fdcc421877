"""Typed storage facts (FSx for Lustre limits and throughput, S3 request rates)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from gpufleet.catalog.models import Fact

LustreDeployment = Literal["SCRATCH_2", "PERSISTENT_1", "PERSISTENT_2"]


class CapacityRule(Fact):
    first: tuple[int, ...]
    increment: int = Field(gt=0)

    def allows(self, gib: int) -> bool:
        if gib in self.first:
            return True
        return gib > max(self.first) and gib % self.increment == 0

    def describe(self, gib_per_tib: int) -> str:
        sizes = ", ".join(f"{gib / gib_per_tib:g}" for gib in self.first)
        return f"{sizes} or a multiple of {self.increment / gib_per_tib:g} TiB"


class LustreDeploymentFacts(Fact):
    network_mbs_per_tib: dict[int, int]
    capacity_gib: CapacityRule
    persistent: bool

    @property
    def per_unit_throughputs(self) -> tuple[int, ...]:
        return tuple(sorted(self.network_mbs_per_tib))


class LustreFacts(Fact):
    sources: tuple[str, ...]
    lnet_ports: tuple[tuple[int, int], ...]
    capacity_gib_per_tib: int = Field(gt=0)
    deployments: dict[LustreDeployment, LustreDeploymentFacts]

    def capacity_gib(self, capacity_tib: float) -> int:
        """FSx counts StorageCapacity in GiB where the console says TiB: 1.2 TiB is 1200 GiB."""
        return round(capacity_tib * self.capacity_gib_per_tib)

    def throughput_mbs(self, deployment: LustreDeployment, capacity_tib: float, per_unit: int) -> float:
        """Baseline network throughput clients can draw from the whole file system."""
        return capacity_tib * self.deployments[deployment].network_mbs_per_tib[per_unit]

    def disk_throughput_mbs(self, capacity_tib: float, per_unit: int) -> float:
        """What the file system's disks sustain: PerUnitStorageThroughput MB/s for each TiB. Reads
        served from the file servers' cache can reach the (higher) network figure; a training set
        larger than that cache is read from disk, so this is the figure that feeds it."""
        return capacity_tib * per_unit


class S3Facts(Fact):
    sources: tuple[str, ...]
    get_requests_per_second_per_prefix: int
    put_requests_per_second_per_prefix: int


class StorageFacts(Fact):
    sources: dict[str, str]
    fsx_lustre: LustreFacts
    s3: S3Facts
