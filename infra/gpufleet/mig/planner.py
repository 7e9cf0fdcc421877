"""Turn inference services into MIG layouts on as few GPUs as possible.

Each replica gets the smallest plain profile that holds its memory and compute share.
Replicas of one profile are interchangeable, so packing is a cutting-stock problem over
the GPU's few feasible layouts: solve its linear relaxation, use whole multiples of the
layouts it picks, repeat on what is left, then try to empty the least-filled GPUs.
"""

from __future__ import annotations

import math
from collections import Counter, deque
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import NamedTuple

from gpufleet.catalog.mig import MigGeometry, MigProfile
from gpufleet.mig.demand import ServiceDemand, demand_overflow
from gpufleet.mig.feasibility import DeviceLayout, FrozenModel, check_geometry_layout, place
from gpufleet.values import MAX_ACCELERATORS_PER_NODE

_EPSILON = 1e-9


class DemandError(ValueError):
    """A service cannot be served by any profile of the GPU."""


class ServiceInstance(FrozenModel):
    service: str
    replica: int
    profile: str
    start: int


class GpuLayout(FrozenModel):
    index: int
    layout: dict[str, int]
    instances: tuple[ServiceInstance, ...]


class GpuPacking(FrozenModel):
    gpu: str
    profile_choice: dict[str, str]
    gpus: tuple[GpuLayout, ...]
    gpus_used: int
    lower_bound: int
    bounds: dict[str, int]

    @property
    def layouts(self) -> tuple[dict[str, int], ...]:
        """Profile -> count for each GPU used, in GPU order."""
        return tuple(gpu.layout for gpu in self.gpus)


class NodePacking(FrozenModel):
    """Identical nodes, each configured by ``devices``, that together hold the demand."""

    gpu: str
    nodes: int
    gpus_per_node: int
    devices: tuple[DeviceLayout, ...]
    per_node_layouts: tuple[dict[str, int], ...]


def choose_profile(geometry: MigGeometry, service: ServiceDemand) -> MigProfile:
    """The smallest plain profile with enough usable memory and compute slices."""
    compute_needed = 1
    if service.compute_share is not None:
        compute_needed = max(1, math.ceil(service.compute_share * geometry.compute_slices - _EPSILON))
    fitting = [
        profile
        for profile in geometry.plain_profiles
        if profile.usable_gib >= service.memory_gib and profile.compute_slices >= compute_needed
    ]
    if not fitting:
        largest = max(geometry.plain_profiles, key=lambda profile: (profile.usable_gib, profile.compute_slices))
        share = f" and {compute_needed} compute slices" if service.compute_share is not None else ""
        raise DemandError(
            f"Service {service.name!r} needs {service.memory_gib:g} GiB{share}, more than any {geometry.gpu}"
            f" profile offers (largest: {largest.name}, {largest.usable_gib:g} GiB usable,"
            f" {largest.compute_slices} compute slices)."
        )
    return min(fitting, key=lambda profile: (profile.memory_slices, profile.compute_slices, profile.usable_gib, profile.name))


def plan_demand(geometry: MigGeometry, services: Sequence[ServiceDemand]) -> GpuPacking:
    """Pick a profile per replica and pack the replicas onto the fewest GPUs."""
    overflow = demand_overflow(services)
    if overflow:
        raise DemandError(f"{overflow[0].upper()}{overflow[1:]}.")
    duplicates = sorted(name for name, count in Counter(s.name for s in services).items() if count > 1)
    if duplicates:
        raise DemandError(f"Service names must be unique; repeated: {', '.join(duplicates)}.")
    chosen: dict[tuple[float, float | None], MigProfile] = {}
    choice: dict[str, MigProfile] = {}
    for service in services:
        need = (service.memory_gib, service.compute_share)
        if need not in chosen:
            chosen[need] = choose_profile(geometry, service)
        choice[service.name] = chosen[need]
    types = sorted({profile.name for profile in choice.values()}, key=lambda name: _size_key(geometry.profiles[name]))
    replicas: Counter[str] = Counter()
    for service in services:
        replicas[choice[service.name].name] += service.replicas
    vectors = pack(geometry, tuple(types), tuple(replicas[name] for name in types)) if types else []
    queues: dict[str, deque[tuple[str, int]]] = {name: deque() for name in types}
    for service in sorted(services, key=lambda service: service.name):
        queues[choice[service.name].name].extend((service.name, replica) for replica in range(service.replicas))
    placements: dict[tuple[int, ...], tuple[tuple[str, int], ...]] = {}
    gpus: list[GpuLayout] = []
    for index, vector in enumerate(vectors):
        layout = {name: count for name, count in zip(types, vector, strict=True) if count}
        if vector not in placements:
            check = check_geometry_layout(geometry, layout)
            placements[vector] = tuple((placed.profile, placed.start) for placed in check.placement)
        instances = []
        for profile, start in placements[vector]:
            service_name, replica = queues[profile].popleft()
            instances.append(ServiceInstance(service=service_name, replica=replica, profile=profile, start=start))
        gpus.append(GpuLayout(index=index, layout=layout, instances=tuple(instances)))
    bounds = lower_bounds(geometry, [(choice[s.name], s.replicas) for s in services])
    return GpuPacking(
        gpu=geometry.gpu,
        profile_choice={name: profile.name for name, profile in sorted(choice.items())},
        gpus=tuple(gpus),
        gpus_used=len(gpus),
        lower_bound=max(bounds.values(), default=0),
        bounds=bounds,
    )


def lower_bounds(geometry: MigGeometry, items: Sequence[tuple[MigProfile, int]]) -> dict[str, int]:
    """GPUs no plan can beat: slice totals, and instances too big to share a GPU."""
    compute = sum(profile.compute_slices * count for profile, count in items)
    memory = sum(profile.memory_slices * count for profile, count in items)
    alone = max(
        sum(count for profile, count in items if 2 * profile.compute_slices > geometry.compute_slices),
        sum(count for profile, count in items if 2 * profile.memory_slices > geometry.memory_slices),
        0,
    )
    return {
        "compute_slices": math.ceil(compute / geometry.compute_slices),
        "memory_slices": math.ceil(memory / geometry.memory_slices),
        "exclusive_instances": alone,
    }


def _size_key(profile: MigProfile) -> tuple[int, int, str]:
    return (-profile.memory_slices, -profile.compute_slices, profile.name)


def pack(geometry: MigGeometry, types: tuple[str, ...], demand: tuple[int, ...]) -> list[tuple[int, ...]]:
    """Per-GPU count vectors (aligned with ``types``) covering ``demand`` exactly."""
    feasible = _feasible_vectors(geometry, types)
    patterns = _maximal(feasible)
    remaining = list(demand)
    chosen: list[tuple[int, ...]] = []
    while any(remaining):
        usable = [p for p in patterns if any(a and r for a, r in zip(p, remaining, strict=True))]
        x = _solve_cover_lp(usable, remaining)
        uses = [math.floor(value + _EPSILON) for value in x]
        if not any(uses):
            best = max(range(len(usable)), key=lambda index: (x[index], -index))
            uses[best] = 1
        for pattern, times in zip(usable, uses, strict=True):
            for _ in range(times):
                take = tuple(min(a, r) for a, r in zip(pattern, remaining, strict=True))
                if not any(take):
                    break
                chosen.append(take)
                remaining = [r - t for r, t in zip(remaining, take, strict=True)]
    chosen = _empty_least_filled(chosen, feasible)
    return sorted(chosen, reverse=True)


class _Budget(NamedTuple):
    """The GPU-wide limits a layout must stay within: with the profiles, the whole cache key."""

    gpu: str
    compute_slices: int
    memory_slices: int
    max_instances: int


def _feasible_vectors(geometry: MigGeometry, types: tuple[str, ...]) -> frozenset[tuple[int, ...]]:
    budget = _Budget(geometry.gpu, geometry.compute_slices, geometry.memory_slices, geometry.max_instances)
    return _feasible_vectors_of(budget, tuple(geometry.profiles[name] for name in types))


@lru_cache(maxsize=256)
def _feasible_vectors_of(budget: _Budget, profiles: tuple[MigProfile, ...]) -> frozenset[tuple[int, ...]]:
    """Every count vector over ``profiles`` that passes limits, slices and placement.

    Keyed on the facts it reads (frozen, hashable profiles and the GPU's budget), so two
    catalogs that differ in any of them never share an entry.
    """
    found: set[tuple[int, ...]] = set()

    def grow(position: int, counts: list[int], compute: int, memory: int, instances: int) -> None:
        if position == len(profiles):
            members = [profile for profile, count in zip(profiles, counts, strict=True) for _ in range(count)]
            if place(members) is not None:
                found.add(tuple(counts))
            return
        profile = profiles[position]
        for count in range(profile.max_count + 1):
            if (
                compute + count * profile.compute_slices > budget.compute_slices
                or memory + count * profile.memory_slices > budget.memory_slices
                or instances + count > budget.max_instances
            ):
                break
            grow(
                position + 1,
                [*counts, count],
                compute + count * profile.compute_slices,
                memory + count * profile.memory_slices,
                instances + count,
            )

    grow(0, [], 0, 0, 0)
    found.discard(tuple(0 for _ in profiles))
    return frozenset(found)


def _maximal(vectors: frozenset[tuple[int, ...]]) -> list[tuple[int, ...]]:
    return sorted((vector for vector in vectors if not _has_room(vector, vectors)), reverse=True)


def _solve_cover_lp(patterns: list[tuple[int, ...]], demand: Sequence[int]) -> list[float]:
    """min sum(x) with sum(x_p * pattern_p) >= demand, x >= 0, through its dual.

    The dual (max demand.y, pattern_p.y <= 1, y >= 0) starts feasible at y = 0, so a
    plain tableau simplex with Bland's rule solves it; the primal x is read from the
    objective row under the slack columns.
    """
    types, rows = len(demand), len(patterns)
    width = types + rows
    tableau = [
        [float(pattern[t]) for t in range(types)] + [1.0 if j == row else 0.0 for j in range(rows)] + [1.0]
        for row, pattern in enumerate(patterns)
    ]
    objective = [-float(d) for d in demand] + [0.0] * rows + [0.0]
    basis = [types + row for row in range(rows)]
    while True:
        entering = next((j for j in range(width) if objective[j] < -_EPSILON), None)
        if entering is None:
            break
        leaving, best = -1, math.inf
        for row in range(rows):
            coefficient = tableau[row][entering]
            if coefficient > _EPSILON:
                ratio = tableau[row][-1] / coefficient
                if ratio < best - _EPSILON or (abs(ratio - best) <= _EPSILON and basis[row] < basis[leaving]):
                    leaving, best = row, ratio
        pivot_row = tableau[leaving]
        pivot = pivot_row[entering]
        tableau[leaving] = pivot_row = [value / pivot for value in pivot_row]
        for row in range(rows):
            factor = tableau[row][entering]
            if row != leaving and abs(factor) > _EPSILON:
                tableau[row] = [a - factor * b for a, b in zip(tableau[row], pivot_row, strict=True)]
        factor = objective[entering]
        objective = [a - factor * b for a, b in zip(objective, pivot_row, strict=True)]
        basis[leaving] = entering
    return [max(0.0, objective[types + row]) for row in range(rows)]


def _empty_least_filled(chosen: list[tuple[int, ...]], feasible: frozenset[tuple[int, ...]]) -> list[tuple[int, ...]]:
    """Move every instance of a barely used GPU into spare room elsewhere, while possible."""
    gpus = [list(vector) for vector in chosen]
    improved = True
    while improved and len(gpus) > 1:
        improved = False
        roomy = [index for index, vector in enumerate(gpus) if _has_room(tuple(vector), feasible)]
        for donor in sorted(roomy, key=lambda index: (sum(gpus[index]), index)):
            trial = {index: list(gpus[index]) for index in roomy if index != donor}
            moved = True
            for kind, count in enumerate(gpus[donor]):
                for _ in range(count):
                    target = next(
                        (
                            index
                            for index, vector in trial.items()
                            if tuple(c + (k == kind) for k, c in enumerate(vector)) in feasible
                        ),
                        None,
                    )
                    if target is None:
                        moved = False
                        break
                    trial[target][kind] += 1
                if not moved:
                    break
            if moved:
                for index, vector in trial.items():
                    gpus[index] = vector
                del gpus[donor]
                improved = True
                break
    return [tuple(vector) for vector in gpus]


@lru_cache(maxsize=4096)
def _has_room(vector: tuple[int, ...], feasible: frozenset[tuple[int, ...]]) -> bool:
    """Whether one more instance of some profile still fits: thousands of GPUs share a few layouts."""
    return any(
        tuple(count + (index == position) for index, count in enumerate(vector)) in feasible for position in range(len(vector))
    )


def plan_node_pool(geometry: MigGeometry, services: Sequence[ServiceDemand], gpus_per_node: int) -> NodePacking:
    """The fewest identical nodes whose GPUs together hold every replica.

    A node pool gets one ``nvidia.com/mig.config`` label, so all its nodes must share a
    layout; each node therefore carries ``ceil(replicas / nodes)`` of every profile.
    """
    if not 1 <= gpus_per_node <= MAX_ACCELERATORS_PER_NODE:
        raise DemandError(f"gpus_per_node must be 1 to {MAX_ACCELERATORS_PER_NODE}, the most GPUs a node carries.")
    plan = plan_demand(geometry, services)
    types = sorted(
        {name for gpu_layout in plan.gpus for name in gpu_layout.layout},
        key=lambda name: _size_key(geometry.profiles[name]),
    )
    totals = [sum(gpu_layout.layout.get(name, 0) for gpu_layout in plan.gpus) for name in types]
    nodes = max(1, math.ceil(plan.gpus_used / gpus_per_node))
    while True:
        per_node = tuple(math.ceil(total / nodes) for total in totals)
        vectors = pack(geometry, tuple(types), per_node) if any(per_node) else []
        if len(vectors) <= gpus_per_node:
            break
        if max(per_node, default=0) <= 1:
            raise DemandError(
                f"One of each of {', '.join(types)} needs {len(vectors)} GPUs but a node has {gpus_per_node};"
                " identical nodes cannot carry this demand, split it over pools."
            )
        nodes += 1
    layouts = [{name: count for name, count in zip(types, vector, strict=True) if count} for vector in vectors]
    layouts += [{} for _ in range(gpus_per_node - len(layouts))]
    return NodePacking(
        gpu=geometry.gpu,
        nodes=nodes,
        gpus_per_node=gpus_per_node,
        devices=_group_devices(layouts),
        per_node_layouts=tuple(layouts),
    )


def _group_devices(layouts: Sequence[Mapping[str, int]]) -> tuple[DeviceLayout, ...]:
    """One mig-parted entry per distinct layout; unused GPUs keep MIG off."""
    groups: dict[tuple[tuple[str, int], ...], list[int]] = {}
    for index, layout in enumerate(layouts):
        groups.setdefault(tuple(sorted(layout.items())), []).append(index)
    if len(groups) == 1:
        (key,) = groups
        return (DeviceLayout(devices="all", layout=dict(key) if key else None),)
    return tuple(
        DeviceLayout(devices=tuple(indexes), layout=dict(key) if key else None)
        for key, indexes in sorted(groups.items(), key=lambda item: item[1][0])
    )
