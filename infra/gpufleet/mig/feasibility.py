"""Prove a MIG layout fits a GPU before anything is applied to a node.

A layout passes only if per-profile maxima, the instance limit, both slice budgets and a
placement search over the GPU's ``-lgipp`` table all pass. Counting alone is not enough
once instances are pinned (explicit starts or instances already on the GPU), and a
greedy lowest-start placer fails sets that do fit, so the search backtracks.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from gpufleet.catalog import Catalog
from gpufleet.catalog.mig import MigGeometry, MigProfile
from gpufleet.mig.geometry import resolve_gpu, resolve_profile, unknown_profile_reason
from gpufleet.values import MAX_ACCELERATORS_PER_NODE, MAX_MIG_INSTANCES_PER_GPU

# Strict: YAML's true/false or a quoted "3" must not pass for a GPU index or a count.
# Bounded by the hardware: no node carries more than 16 GPUs, no GPU more than 7 MIG instances.
GpuIndex = Annotated[int, Field(strict=True, ge=0, lt=MAX_ACCELERATORS_PER_NODE)]
InstanceCount = Annotated[int, Field(strict=True, ge=1, le=MAX_MIG_INSTANCES_PER_GPU)]
Layout = Annotated[dict[Annotated[str, Field(max_length=64)], InstanceCount], Field(max_length=MAX_MIG_INSTANCES_PER_GPU)]
Devices = Annotated[tuple[GpuIndex, ...], Field(max_length=MAX_ACCELERATORS_PER_NODE)] | Literal["all"]


class FrozenModel(BaseModel):
    """Results are values: immutable, and strict about their fields."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class PlacedInstance(FrozenModel):
    profile: str
    start: int
    size: int
    existing: bool = False

    @property
    def label(self) -> str:
        return f"{self.profile}@{self.start}"

    @property
    def mask(self) -> int:
        return ((1 << self.size) - 1) << self.start


class LayoutCheck(FrozenModel):
    gpu: str
    layout: dict[str, int]
    feasible: bool
    reasons: tuple[str, ...] = ()
    placement: tuple[PlacedInstance, ...] = ()
    creation_order: tuple[str, ...] = ()
    creation_profile_ids: tuple[int, ...] = ()
    notes: tuple[str, ...] = ()


class DeviceLayout(FrozenModel):
    """What mig-parted does to some GPU indexes of a node.

    ``layout=None`` turns MIG off on them and ``{}`` turns it on without instances, both
    forms mig-parted has; a stack narrows this to layouts that create instances.
    """

    devices: Devices = "all"
    layout: Layout | None


class DevicePlanCheck(FrozenModel):
    gpu: str
    feasible: bool
    reasons: tuple[str, ...] = ()
    entries: tuple[LayoutCheck | None, ...] = ()


def check_layout(
    catalog: Catalog,
    gpu: str,
    layout: Mapping[str, int],
    *,
    placements: Mapping[str, Sequence[int]] | None = None,
    existing: Sequence[tuple[str, int]] = (),
) -> LayoutCheck:
    """Judge ``layout`` (profile -> count) on ``gpu``; raises only for an unknown GPU."""
    return check_geometry_layout(resolve_gpu(catalog, gpu), layout, placements=placements, existing=existing, catalog=catalog)


def check_geometry_layout(
    geometry: MigGeometry,
    layout: Mapping[str, int],
    *,
    placements: Mapping[str, Sequence[int]] | None = None,
    existing: Sequence[tuple[str, int]] = (),
    catalog: Catalog | None = None,
) -> LayoutCheck:
    """Judge ``layout`` on one geometry; ``catalog`` lets a foreign profile name say whose it is."""
    reasons: list[str] = []
    requested: Counter[str] = Counter()
    for key, count in layout.items():
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            reasons.append(f"{key}: count must be a whole number >= 0, got {count!r}.")
            continue
        profile = resolve_profile(geometry, key)
        if profile is None:
            reasons.append(unknown_profile_reason(geometry, key, catalog))
        elif count:
            requested[profile.name] += count

    pinned: list[PlacedInstance] = []
    for key, start in existing:
        profile = resolve_profile(geometry, key)
        if profile is None:
            reasons.append("Existing instance: " + unknown_profile_reason(geometry, key, catalog))
        else:
            pinned.append(PlacedInstance(profile=profile.name, start=start, size=profile.size, existing=True))
    explicit: Counter[str] = Counter()
    for key, given in (placements or {}).items():
        profile = resolve_profile(geometry, key)
        if profile is None:
            reasons.append("Placement: " + unknown_profile_reason(geometry, key, catalog))
            continue
        for start in given:
            explicit[profile.name] += 1
            pinned.append(PlacedInstance(profile=profile.name, start=start, size=profile.size))
    for name, count in sorted(explicit.items()):
        if count > requested[name]:
            reasons.append(f"{count} placement(s) given for {name} but the layout asks for {requested[name]} of it.")
    if not reasons:
        reasons = _count_reasons(geometry, requested, pinned) or _pinned_reasons(geometry, pinned)
    if reasons:
        return LayoutCheck(gpu=geometry.gpu, layout=dict(sorted(requested.items())), feasible=False, reasons=tuple(reasons))

    free = [geometry.profiles[name] for name in sorted(requested) for _ in range(requested[name] - explicit[name])]
    occupied = 0
    for instance in pinned:
        occupied |= instance.mask
    starts = place(free, occupied)
    if starts is None:
        return LayoutCheck(
            gpu=geometry.gpu,
            layout=dict(sorted(requested.items())),
            feasible=False,
            reasons=tuple(_placement_reasons(geometry, free, pinned, occupied)),
        )
    placed = [
        PlacedInstance(profile=profile.name, start=start, size=profile.size) for profile, start in zip(free, starts, strict=True)
    ]
    new = sorted(
        (instance for instance in (*pinned, *placed) if not instance.existing),
        key=lambda instance: (*_constraint_key(geometry.profiles[instance.profile]), instance.start),
    )
    return LayoutCheck(
        gpu=geometry.gpu,
        layout=dict(sorted(requested.items())),
        feasible=True,
        placement=tuple(sorted((*pinned, *placed), key=lambda instance: (instance.start, instance.profile))),
        creation_order=tuple(instance.profile for instance in new),
        creation_profile_ids=tuple(geometry.profiles[instance.profile].profile_id for instance in new),
        notes=tuple(_notes(geometry, requested)),
    )


def _constraint_key(profile: MigProfile) -> tuple[int, int, str]:
    """Most constrained first: few allowed starts, then large, then by name."""
    return (len(profile.starts), -profile.size, profile.name)


def place(instances: Sequence[MigProfile], occupied: int = 0) -> list[int] | None:
    """Start unit for each instance so none overlap ``occupied`` or each other, or None."""
    order = sorted(range(len(instances)), key=lambda index: _constraint_key(instances[index]))
    chosen: list[int] = [0] * len(instances)

    def extend(depth: int, used: int) -> bool:
        if depth == len(order):
            return True
        index = order[depth]
        profile = instances[index]
        after = -1
        if depth and instances[order[depth - 1]].name == profile.name:
            after = chosen[order[depth - 1]]  # identical instances: only increasing starts
        for start in profile.starts:
            mask = ((1 << profile.size) - 1) << start
            if start > after and not used & mask:
                chosen[index] = start
                if extend(depth + 1, used | mask):
                    return True
        return False

    return chosen if extend(0, occupied) else None


def _count_reasons(geometry: MigGeometry, requested: Counter[str], pinned: list[PlacedInstance]) -> list[str]:
    reasons: list[str] = []
    existing = Counter(instance.profile for instance in pinned if instance.existing)
    totals = requested + existing
    gpu = geometry.gpu
    for name in sorted(totals):
        profile = geometry.profiles[name]
        if totals[name] > profile.max_count:
            already = f" ({existing[name]} already on the GPU)" if existing[name] else ""
            reasons.append(f"Profile limit: {totals[name]} x {name}{already} but {gpu} allows at most {profile.max_count}.")
    instances = sum(totals.values())
    if instances > geometry.max_instances:
        reasons.append(f"Instance limit: {instances} GPU instances but {gpu} holds at most {geometry.max_instances}.")
    for axis, total in (("compute", geometry.compute_slices), ("memory", geometry.memory_slices)):
        need = sum(getattr(geometry.profiles[name], f"{axis}_slices") * count for name, count in totals.items())
        if need > total:
            parts = " + ".join(
                f"{count} x {name} ({getattr(geometry.profiles[name], f'{axis}_slices')} each)"
                for name, count in sorted(totals.items())
            )
            reasons.append(f"{axis.capitalize()} slices: {parts} = {need} but {gpu} has {total}.")
    return reasons


def _pinned_reasons(geometry: MigGeometry, pinned: list[PlacedInstance]) -> list[str]:
    reasons: list[str] = []
    for instance in pinned:
        profile = geometry.profiles[instance.profile]
        if instance.start not in profile.starts:
            reasons.append(
                f"Placement: {instance.profile} cannot start at {instance.start} on {geometry.gpu};"
                f" allowed placements {profile.lgipp}."
            )
    if reasons:
        return reasons
    for first_index, first in enumerate(pinned):
        for second in pinned[first_index + 1 :]:
            if first.mask & second.mask:
                reasons.append(
                    f"Placement: {first.label} (units {_units(first.mask)}) overlaps"
                    f" {second.label} (units {_units(second.mask)})."
                )
    return reasons


def _placement_reasons(geometry: MigGeometry, free: list[MigProfile], pinned: list[PlacedInstance], occupied: int) -> list[str]:
    reasons: list[str] = []
    counts = Counter(profile.name for profile in free)
    for name in sorted(counts, key=lambda name: _constraint_key(geometry.profiles[name])):
        profile = geometry.profiles[name]
        open_starts = [start for start in profile.starts if not occupied & _mask(start, profile.size)]
        room = _disjoint_count(open_starts, profile.size)
        if room >= counts[name]:
            continue
        blocked: dict[str, list[int]] = {}
        for start in profile.starts:
            blockers = [i.label for i in pinned if i.mask & _mask(start, profile.size)]
            if blockers:
                blocked.setdefault(", ".join(blockers), []).append(start)
        detail = "; ".join(
            f"start{'s' if len(starts) > 1 else ''} {_join(starts)} blocked by {who}" for who, starts in blocked.items()
        )
        reachable = 0
        for start in open_starts:
            reachable |= _mask(start, profile.size)
        stranded = _free_mask(geometry, occupied) & ~reachable
        if stranded:
            detail += f"; free unit(s) {_units(stranded)} cannot hold {name} (allowed placements {profile.lgipp})"
        reasons.append(
            f"Placement: {counts[name]} x {name} need {counts[name]} place(s) but only {room} remain"
            f" ({'starts ' + _join(open_starts) if open_starts else 'none free'}); {detail}."
        )
    if not reasons:
        wanted = ", ".join(f"{count} x {name}" for name, count in sorted(counts.items()))
        tables = ", ".join(f"{name} {geometry.profiles[name].lgipp}" for name in sorted(counts))
        pinned_text = ", ".join(instance.label for instance in pinned) or "nothing"
        reasons.append(
            f"Placement: {wanted} each fit alone but not together in the free units"
            f" {_units(_free_mask(geometry, occupied))} beside {pinned_text} (allowed placements: {tables})."
        )
    return reasons


def _notes(geometry: MigGeometry, requested: Counter[str]) -> list[str]:
    notes: list[str] = []
    for name in sorted(requested):
        profile = geometry.profiles[name]
        if profile.min_driver:
            notes.append(f"{name} needs driver {profile.min_driver} or later.")
        if profile.confidence != "confirmed":
            notes.append(f"{name} geometry on {geometry.gpu} is {profile.confidence}, not seen on hardware.")
    for rule in geometry.combination_min_driver:
        if all(requested[name] for name in rule.profiles):
            notes.append(f"{' with '.join(rule.profiles)} needs driver {rule.min_driver} or later.")
    return notes


def _mask(start: int, size: int) -> int:
    return ((1 << size) - 1) << start


def _free_mask(geometry: MigGeometry, occupied: int) -> int:
    return ((1 << geometry.placement_units) - 1) & ~occupied


def _disjoint_count(starts: list[int], size: int) -> int:
    count, end = 0, -1
    for start in starts:
        if start >= end:
            count, end = count + 1, start + size
    return count


def _join(numbers: Sequence[int]) -> str:
    return ", ".join(str(number) for number in numbers)


def _units(mask: int) -> str:
    """``0b1111`` -> ``0-3``; runs joined by commas."""
    units = [unit for unit in range(mask.bit_length()) if mask >> unit & 1]
    runs: list[str] = []
    for unit in units:
        if runs and unit - 1 in units:
            first = runs[-1].split("-")[0]
            runs[-1] = f"{first}-{unit}"
        else:
            runs.append(str(unit))
    return ", ".join(runs)


def _as_device_layout(entry: DeviceLayout | tuple[Devices | Sequence[int], Mapping[str, int] | None]) -> DeviceLayout:
    if isinstance(entry, DeviceLayout):
        return entry
    devices, layout = entry
    return DeviceLayout(
        devices="all" if devices == "all" else tuple(devices),
        layout=None if layout is None else dict(layout),
    )


def check_device_plan(
    catalog: Catalog,
    gpu: str,
    entries: Sequence[DeviceLayout | tuple[Devices | Sequence[int], Mapping[str, int] | None]],
    *,
    device_count: int | None = None,
) -> DevicePlanCheck:
    """Judge a per-node plan: a layout (or ``None`` for MIG off) per set of GPU indexes.

    mig-parted applies matching entries in order, so an index named twice would be
    reconfigured twice; that is reported as an error rather than left to the last entry.
    """
    geometry = resolve_gpu(catalog, gpu)
    plan = [_as_device_layout(entry) for entry in entries]
    reasons: list[str] = []
    checks: list[LayoutCheck | None] = []
    if not plan:
        reasons.append("The plan has no entries.")
    owner: dict[int | str, int] = {}
    for position, entry in enumerate(plan):
        where = f"Entry {position} (devices {devices_text(entry.devices)})"
        indexes: list[int | str] = ["all"] if entry.devices == "all" else list(entry.devices)
        if entry.devices != "all" and not entry.devices:
            reasons.append(f"{where}: names no devices.")
        for index in indexes:
            if isinstance(index, int) and device_count is not None and index >= device_count:
                reasons.append(f"{where}: device index {index} does not exist (the node has {device_count} GPUs).")
            clash = [other for key, other in owner.items() if key == index or "all" in (key, index)]
            if clash:
                what = "'all' includes devices" if index == "all" else f"device {index} is"
                reasons.append(f"{where}: {what} already configured by entry {clash[0]}.")
            owner.setdefault(index, position)
        if entry.layout is None:
            checks.append(None)
            continue
        check = check_geometry_layout(geometry, entry.layout, catalog=catalog)
        checks.append(check)
        reasons.extend(f"{where}: {reason}" for reason in check.reasons)
    return DevicePlanCheck(gpu=geometry.gpu, feasible=not reasons, reasons=tuple(reasons), entries=tuple(checks))


def devices_text(devices: Devices) -> str:
    """``all`` or ``[0, 1]``: how mig-parted configs and every message write a device set."""
    return "all" if devices == "all" else "[" + ", ".join(str(index) for index in devices) + "]"
