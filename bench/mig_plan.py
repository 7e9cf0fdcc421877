"""Benchmark the automatic MIG planner: GPUs used against the lower bound, and time.

Targets (issue 4): GPUs used <= lower bound + 1%, and under 2 s for 10,000 services on the
project's 2-core machine. Run: ``.venv/bin/python bench/mig_plan.py [GPU ...]``.
Exits 1 if a target is missed. Not a test: timings depend on the machine.
"""

from __future__ import annotations

import os
import random
import sys
import time

from gpufleet.catalog import load_catalog
from gpufleet.mig import ServiceDemand, plan_demand
from gpufleet.mig.planner import _feasible_vectors_of

CATALOG = load_catalog()
SIZES = (100, 1_000, 10_000)
# Per mix: (share of the GPU's largest profile a service needs in memory, weight) and
# (compute share, weight). "memory" is mostly memory-bound; "compute" is many small
# services that ask for SMs, so the compute-slice bound binds.
MIXES = {
    "memory": (
        ((0.04, 5), (0.08, 6), (0.11, 6), (0.15, 4), (0.22, 4), (0.28, 3), (0.4, 2), (0.47, 2), (0.7, 1)),
        ((None, 12), (0.14, 2), (0.3, 2), (0.5, 1)),
    ),
    "compute": (
        ((0.04, 8), (0.08, 4), (0.22, 1), (0.4, 1)),
        ((None, 4), (0.14, 4), (0.25, 3), (0.4, 1)),
    ),
}


def services(gpu: str, count: int, mix: str, seed: int = 4) -> list[ServiceDemand]:
    largest = max(profile.usable_gib for profile in CATALOG.mig[gpu].plain_profiles)
    rng = random.Random(seed)
    fractions, fraction_weights = zip(*MIXES[mix][0], strict=True)
    shares, share_weights = zip(*MIXES[mix][1], strict=True)
    return [
        ServiceDemand(
            name=f"svc-{index:05d}",
            memory_gib=round(largest * rng.choices(fractions, fraction_weights)[0], 2),
            compute_share=rng.choices(shares, share_weights)[0],
            replicas=rng.choice((1, 1, 1, 2, 3)),
        )
        for index in range(count)
    ]


def main(gpus: list[str]) -> int:
    print(f"machine: {os.cpu_count()} CPU cores, Python {sys.version.split()[0]}")
    print(
        f"{'gpu':<20}{'mix':<9}{'services':>9}{'replicas':>10}{'gpus used':>11}{'lower bound':>13}{'gap':>8}{'seconds':>9}  {'binding bound':<20}targets"
    )
    missed = False
    for gpu in gpus:
        for mix, count in ((mix, count) for mix in MIXES for count in SIZES):
            demand = services(gpu, count, mix)
            _feasible_vectors_of.cache_clear()  # time the cold path, layout enumeration included
            started = time.perf_counter()
            plan = plan_demand(CATALOG.mig[gpu], demand)
            seconds = time.perf_counter() - started
            gap = (plan.gpus_used - plan.lower_bound) / plan.lower_bound
            ok = plan.gpus_used <= plan.lower_bound * 1.01 and (count < 10_000 or seconds < 2.0)
            missed |= not ok
            replicas = sum(service.replicas for service in demand)
            print(
                f"{gpu:<20}{mix:<9}{count:>9,}{replicas:>10,}{plan.gpus_used:>11,}{plan.lower_bound:>13,}"
                f"{gap:>8.2%}{seconds:>9.3f}  {max(plan.bounds, key=plan.bounds.__getitem__):<20}{'met' if ok else 'MISSED'}"
            )
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:] or ["H100-80GB", "A100-40GB", "A30-24GB", "RTX-PRO-6000-96GB", "B200-180GB"]))
