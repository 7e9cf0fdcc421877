"""The placement search against a brute-force enumerator, on every MIG GPU of the catalog."""

from __future__ import annotations

import itertools
from collections import Counter

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gpufleet.catalog import load_catalog
from gpufleet.catalog.mig import MigGeometry
from gpufleet.mig.feasibility import check_geometry_layout

CATALOG = load_catalog()
GPUS = sorted(CATALOG.mig)


def mask(start: int, size: int) -> int:
    return ((1 << size) - 1) << start


def brute_force(
    geometry: MigGeometry, layout: dict[str, int], pinned: dict[str, list[int]], existing: list[tuple[str, int]]
) -> bool:
    """Try every way to give each instance an allowed start; True if one has no overlap."""
    totals = Counter(layout) + Counter(name for name, _ in existing)
    profiles = geometry.profiles
    if any(totals[name] > profiles[name].max_count for name in totals):
        return False
    if sum(totals.values()) > geometry.max_instances:
        return False
    if sum(profiles[n].compute_slices * c for n, c in totals.items()) > geometry.compute_slices:
        return False
    if sum(profiles[n].memory_slices * c for n, c in totals.items()) > geometry.memory_slices:
        return False
    fixed = [(name, start) for name, start in existing] + [(n, s) for n, starts in pinned.items() for s in starts]
    occupied = 0
    for name, start in fixed:
        if start not in profiles[name].starts or occupied & mask(start, profiles[name].size):
            return False
        occupied |= mask(start, profiles[name].size)
    free = {name: layout.get(name, 0) - len(pinned.get(name, [])) for name in layout}
    choices = [
        [(name, combo) for combo in itertools.combinations(profiles[name].starts, count)] for name, count in free.items() if count
    ]
    for assignment in itertools.product(*choices):
        used, clash = occupied, False
        for name, starts in assignment:
            for start in starts:
                m = mask(start, profiles[name].size)
                if used & m:
                    clash = True
                    break
                used |= m
            if clash:
                break
        if not clash:
            return True
    return False


@st.composite
def scenarios(draw, geometry: MigGeometry):
    names = list(geometry.profiles)
    chosen = draw(st.lists(st.sampled_from(names), min_size=1, max_size=4, unique=True))
    layout = {}
    for name in chosen:
        most = geometry.profiles[name].max_count
        # Mostly within the profile's maximum; one value in (cap + 2) goes one past it.
        layout[name] = draw(st.integers(0, min(most, 3) + 1).map(lambda n, most=most: n if n <= min(most, 3) else most + 1))
    pinned: dict[str, list[int]] = {}
    for name, count in layout.items():
        if count and draw(st.booleans()):
            profile = geometry.profiles[name]
            starts = draw(st.lists(st.sampled_from(profile.starts), max_size=min(count, len(profile.starts)), unique=True))
            if starts:
                pinned[name] = sorted(starts)
    plain = [profile.name for profile in geometry.plain_profiles if 2 * profile.memory_slices <= geometry.memory_slices // 2]
    existing = draw(
        st.lists(
            st.sampled_from(plain).flatmap(
                lambda name: st.tuples(st.just(name), st.sampled_from(geometry.profiles[name].starts))
            ),
            max_size=2,
        )
    )
    return layout, pinned, existing


@pytest.mark.parametrize("gpu", GPUS)
@settings(max_examples=120, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_search_agrees_with_brute_force(gpu, data):
    geometry = CATALOG.mig[gpu]
    layout, pinned, existing = data.draw(scenarios(geometry))
    check = check_geometry_layout(geometry, layout, placements=pinned, existing=existing)
    assert check.feasible == brute_force(geometry, layout, pinned, existing), (layout, pinned, existing, check.reasons)
    if not check.feasible:
        assert check.reasons
        return
    assert not check.reasons
    new = [i for i in check.placement if not i.existing]
    assert Counter(i.profile for i in new) == Counter({n: c for n, c in layout.items() if c})
    assert sorted((i.profile, i.start) for i in check.placement if i.existing) == sorted(existing)
    for name, starts in pinned.items():
        assert set(starts) <= {i.start for i in new if i.profile == name}
    used = 0
    for instance in check.placement:
        assert instance.start in geometry.profiles[instance.profile].starts
        assert not used & mask(instance.start, instance.size)
        used |= mask(instance.start, instance.size)
    assert sorted(check.creation_order) == sorted(i.profile for i in new)


@pytest.mark.parametrize("gpu", GPUS)
def test_unpinned_sets_fit_exactly_when_the_counts_fit(gpu):
    """Every multiset of plain profiles: the search and the brute force agree, and for sets
    with nothing pinned that is the same as passing maxima and both slice budgets."""
    geometry = CATALOG.mig[gpu]
    plain = list(geometry.plain_profiles)
    for counts in itertools.product(*(range(p.max_count + 1) for p in plain)):
        layout = {p.name: c for p, c in zip(plain, counts, strict=True) if c}
        counts_pass = (
            sum(counts) <= geometry.max_instances
            and sum(p.compute_slices * c for p, c in zip(plain, counts, strict=True)) <= geometry.compute_slices
            and sum(p.memory_slices * c for p, c in zip(plain, counts, strict=True)) <= geometry.memory_slices
        )
        feasible = check_geometry_layout(geometry, layout).feasible
        assert feasible == brute_force(geometry, layout, {}, []) == counts_pass, layout
