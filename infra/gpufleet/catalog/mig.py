"""Typed MIG geometry: the per-GPU profile and placement tables of ``data/mig.yaml``.

Kept apart from the other accelerator facts because every MIG rule (maxima, slices,
placements) is per GPU and must be checked against the card's own table, never a
global one.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import Field, model_validator

from gpufleet.catalog.models import Fact

Confidence = Literal["confirmed", "inferred", "unconfirmed"]

# `[<C>c.]<G>g.<GB>gb[+attr[,attr...] | -attr[,attr...]]`, the grammar nvidia-smi and
# mig-parted use for GPU-instance profile names.
PROFILE_NAME = re.compile(r"(?:(?P<c>[0-9]+)c\.)?(?P<g>[0-9]+)g\.(?P<gb>[0-9]+)gb(?:(?P<sign>[+-])(?P<attrs>[a-z0-9.,]+))?\Z")
KNOWN_ATTRIBUTES = frozenset({"me", "me.all", "gfx"})


class ProfileName(Fact):
    """A profile name split into its parts; `c` is set only for compute-instance names."""

    text: str
    compute_instance_slices: int | None
    gpu_instance_slices: int
    nominal_gb: int
    attributes: tuple[str, ...] = ()
    negative_attributes: tuple[str, ...] = ()

    @property
    def gpu_instance_name(self) -> str:
        """The GPU-instance profile this name creates (drops a ``<C>c.`` prefix)."""
        suffix = ""
        if self.attributes:
            suffix = "+" + ",".join(self.attributes)
        elif self.negative_attributes:
            suffix = "-" + ",".join(self.negative_attributes)
        return f"{self.gpu_instance_slices}g.{self.nominal_gb}gb{suffix}"


def parse_profile_name(text: str) -> ProfileName | None:
    """Split a profile name, or return None when it is not one (``"3g"``, ``"big"``)."""
    match = PROFILE_NAME.match(text.strip().lower())
    if not match:
        return None
    attrs: tuple[str, ...] = ()
    if match["attrs"]:
        attrs = tuple(match["attrs"].split(","))
        if any(attr not in KNOWN_ATTRIBUTES for attr in attrs) or len(set(attrs)) != len(attrs):
            return None
    compute = int(match["c"]) if match["c"] else None
    gpu_slices = int(match["g"])
    if gpu_slices < 1 or (compute is not None and not 1 <= compute <= gpu_slices):
        return None
    negative = match["sign"] == "-"
    return ProfileName(
        text=match.group(0),
        compute_instance_slices=None if compute in (None, gpu_slices) else compute,
        gpu_instance_slices=gpu_slices,
        nominal_gb=int(match["gb"]),
        attributes=() if negative else attrs,
        negative_attributes=attrs if negative else (),
    )


class MigProfile(Fact):
    name: str
    profile_id: int = Field(ge=0)
    compute_slices: int = Field(ge=1)
    memory_slices: int = Field(ge=1)
    max_count: int = Field(ge=1)
    starts: tuple[int, ...] = Field(min_length=1)
    size: int = Field(ge=1)
    usable_gib: float = Field(gt=0)
    usable_gib_confidence: Literal["observed", "inferred"]
    confidence: Confidence
    min_driver: str | None = None
    also_named: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _name_matches_geometry(self) -> MigProfile:
        parsed = parse_profile_name(self.name)
        if parsed is None or parsed.compute_instance_slices is not None:
            raise ValueError(f"{self.name!r} is not a GPU-instance profile name")
        if parsed.gpu_instance_slices != self.compute_slices:
            raise ValueError(f"{self.name}: name says {parsed.gpu_instance_slices}g")
        if list(self.starts) != sorted(set(self.starts)):
            raise ValueError(f"{self.name}: starts must be ascending and unique")
        return self

    @property
    def parsed(self) -> ProfileName:
        parsed = parse_profile_name(self.name)
        assert parsed is not None  # guaranteed by the validator
        return parsed

    @property
    def is_plain(self) -> bool:
        """True for the profile without media-engine or graphics variants."""
        parsed = self.parsed
        return not parsed.attributes and not parsed.negative_attributes

    @property
    def lgipp(self) -> str:
        """The placement as ``nvidia-smi mig -lgipp`` prints it: ``{0,4}:4``."""
        return "{" + ",".join(str(start) for start in self.starts) + "}:" + str(self.size)


class CombinationRule(Fact):
    profiles: tuple[str, ...] = Field(min_length=2)
    min_driver: str
    source: str


class MigGeometry(Fact):
    gpu: str
    compute_slices: int = Field(ge=1)
    memory_slices: int = Field(ge=1)
    placement_units: int = Field(ge=1)
    max_instances: int = Field(ge=1)
    min_driver: str | None = None
    combination_min_driver: tuple[CombinationRule, ...] = ()
    sources: tuple[str, ...] = Field(min_length=1)
    profiles: dict[str, MigProfile] = Field(min_length=1)

    @model_validator(mode="after")
    def _tables_are_consistent(self) -> MigGeometry:
        ids: dict[int, str] = {}
        for name, profile in self.profiles.items():
            if name != profile.name:
                raise ValueError(f"{self.gpu}: profile key {name!r} != name {profile.name!r}")
            where = f"{self.gpu} {name}"
            if profile.compute_slices > self.compute_slices:
                raise ValueError(f"{where}: more compute slices than the GPU has")
            if profile.memory_slices > self.memory_slices:
                raise ValueError(f"{where}: more memory slices than the GPU has")
            if profile.size * self.memory_slices != profile.memory_slices * self.placement_units:
                raise ValueError(f"{where}: placement size does not match its memory slices")
            if profile.starts[-1] + profile.size > self.placement_units:
                raise ValueError(f"{where}: a placement runs past unit {self.placement_units - 1}")
            if profile.max_count > self.max_instances:
                raise ValueError(f"{where}: max_count above the GPU's max_instances")
            if profile.profile_id in ids:
                raise ValueError(f"{where}: profile id {profile.profile_id} already used by {ids[profile.profile_id]}")
            ids[profile.profile_id] = name
        for rule in self.combination_min_driver:
            unknown = [name for name in rule.profiles if name not in self.profiles]
            if unknown:
                raise ValueError(f"{self.gpu}: combination rule names unknown profiles {unknown}")
        return self

    def profile(self, name: str) -> MigProfile | None:
        """Exact lookup, tolerant only of case and surrounding spaces."""
        return self.profiles.get(name.strip().lower())

    @property
    def plain_profiles(self) -> tuple[MigProfile, ...]:
        return tuple(profile for profile in self.profiles.values() if profile.is_plain)


def parse_mig_geometries(raw: dict[str, Any]) -> dict[str, MigGeometry]:
    """Build the geometry of every GPU in ``mig.yaml``, checking its source keys."""
    sources = raw["sources"]
    geometries: dict[str, MigGeometry] = {}
    for gpu, record in raw["gpus"].items():
        profiles = {name: MigProfile(name=name, **fields) for name, fields in record["profiles"].items()}
        geometry = MigGeometry(gpu=gpu, **{**record, "profiles": profiles})
        cited = set(geometry.sources) | {rule.source for rule in geometry.combination_min_driver}
        missing = sorted(cited - set(sources))
        if missing:
            raise ValueError(f"{gpu}: unknown MIG source(s) {missing}")
        geometries[gpu] = geometry
    return geometries
