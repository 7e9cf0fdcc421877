"""Benchmark: offline preview of generated fleets against the bare-registration floor.

For each fleet size the stack is resolved once (as ``gpufleet preview`` does); then the real
program (``program.run_plan``) and ``floor.py``'s bare loop registering the very same resources
run alternately in this one process, through the same ``run_preview`` and so the same runner
settings, after a warm-up of each. Alternating keeps a noisy, shared machine's load swings
from landing on one side only. Prints the best and worst wall and CPU seconds (process CPU
time, the SDK's executor threads included: on a loaded machine it moves far less than wall
time), each pair's ratio, CPU ms per pool (flat = linear), full garbage collections per run,
and the tracemalloc peak of one more run each.

``--without drain gc`` turns the runner's settings off (for program and floor alike) to
measure what each one buys. ``--sdk-uri-cache`` adds a third side, alternated with the other
two: the program with ``upstream.py``'s per-file URI cache in the SDK's stack traces, to
measure what that upstream fix would buy (one more line per size, its ratio against the same
floor runs).

Fleets past ``values.MAX_POOLS`` (512, which ``validate`` holds every stack to) are loaded
through a ``StackSpec`` whose pool-count bound alone is lifted (``load_fleet``): a bypass only
this bench uses, to see whether the preview's cost per pool stays flat up to 1,024 pools.
Every fleet has one system pool (CoreDNS needs one), and at most ``TRAINING_POOLS`` training
pools, each with its own subnet: a /16, the largest VPC AWS allows, holds 112 such subnets,
and the subnet record (``stacks/<env>.subnets.lock``) holds 64 today. So 1,024 pools hold 64
training pools, not 128; the rest of those rows are inference pools of the same instance type.

    .venv/bin/python bench/preview.py [--pools 128 256 512 1024] [--runs 3] [--without drain gc] [--sdk-uri-cache]
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import os
import platform
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from floor import floor_program
from pydantic import Field
from upstream import cached_source_positions

from gpufleet import program
from gpufleet.catalog import load_catalog
from gpufleet.documents import read_document
from gpufleet.model import resolve
from gpufleet.preview import PreviewResult, run_preview, runner
from gpufleet.stack import LoadedStack, StackInvalid, StackSpec, load_stack
from gpufleet.stack.loader import NOT_A_MAPPING
from gpufleet.stack.models import NodePoolSpec
from gpufleet.values import MAX_POOLS, Name
from gpufleet.yamltree import MapNode

REGION = "us-east-1"
# Pool mix of a production fleet: one training pool in eight, the rest inference and lab.
POOL_KINDS = (
    ("training", "p5.48xlarge", "rdma", "{min: 2, max: 2}", "on-demand"),
    ("inference", "g6e.12xlarge", "tcp", "{min: 1, max: 8}", "on-demand"),
    ("inference", "p5.48xlarge", "tcp", "{min: 1, max: 4}", "on-demand"),
    ("lab", "g6.12xlarge", None, "{min: 0, max: 4}", "spot"),
    ("inference", "g6.xlarge", "tcp", "{min: 0, max: 8}", "spot"),  # 1,024 pools stay within Kubernetes' 5,000 nodes
    ("inference", "p5en.48xlarge", "rdma", "{min: 1, max: 2}", "on-demand"),
    ("lab", "g6e.xlarge", None, "{min: 0, max: 2}", "spot"),
    ("inference", "p4d.24xlarge", "tcp", "{min: 1, max: 2}", "on-demand"),
)


TRAINING_POOLS = 64
# Kueue takes at most this many flavors in one ClusterQueue (GF-K8S-010), and gpufleet gives
# inference one queue, lab one, and training one per GPU type: past a queue's cap a generated
# pool is a system (CPU) pool, which no queue holds, so every fleet size stays a valid stack.
QUEUE_CAP = load_catalog().kubernetes.kueue.limits.flavors_per_group
CPU_POOL = ("system", "m7i.2xlarge", None, "{min: 0, max: 4}", "on-demand")


def fleet_spec(pools: int) -> str:
    lines = [
        'cluster: {name: bench, provider: aws, region: us-east-1, kubernetes_version: "1.33", endpoint: {deploy_from: in-vpc}}',
        "network: {vpc_cidr: 10.40.0.0/16, availability_zones: [us-east-1a, us-east-1b, us-east-1c]}",
        "fabrics: {rdma: {kind: efa}, tcp: {kind: ethernet}}",
        "storage:",
        "  datasets: {kind: s3}",
        "  scratch: {kind: fsx-lustre, deployment: PERSISTENT_2, capacity_tib: 24, throughput_per_tib: 500, import_from: datasets}",
        "  nvme: {kind: local-nvme}",
        "node_pools:",
        "  system: {workload: system, instance_type: m7i.xlarge, nodes: {min: 1, max: 2}}",
    ]
    queued: dict[tuple[str, str], int] = {}
    for index in range(pools - 1):
        workload, instance, fabric, nodes, capacity = POOL_KINDS[index % len(POOL_KINDS)]
        if workload == "training" and queued.get(("training", "any"), 0) == TRAINING_POOLS:
            workload, instance, fabric, nodes, capacity = POOL_KINDS[2]
        queue = (workload, instance if workload == "training" else "any")
        if queued.get(queue, 0) == QUEUE_CAP:
            workload, instance, fabric, nodes, capacity = CPU_POOL
        else:
            queued[queue] = queued.get(queue, 0) + 1
            if workload == "training":
                queued[("training", "any")] = queued.get(("training", "any"), 0) + 1
        fields = [f"workload: {workload}", f"instance_type: {instance}", f"nodes: {nodes}", f"capacity: {{type: {capacity}}}"]
        if fabric:
            fields.append(f"fabric: {fabric}")
        if workload == "training":
            fields.append("storage: [scratch, nvme]")
        lines.append(f"  pool-{index:04d}: {{{', '.join(fields)}}}")
    return "\n".join(lines) + "\n"


class _PastThePoolLimit(StackSpec):
    """The stack schema with only the pool count's bound raised: the bench's bypass, nothing else's."""

    node_pools: dict[Name, NodePoolSpec] = Field(min_length=1, max_length=2 * MAX_POOLS)


def load_fleet(path: Path, pools: int) -> LoadedStack:
    """The fleet as ``gpufleet preview`` loads it; past ``MAX_POOLS`` through ``_PastThePoolLimit``."""
    if pools <= MAX_POOLS:
        return load_stack(path)
    document = read_document(
        path,
        "stack file",
        {MapNode: _PastThePoolLimit},
        invalid=StackInvalid,
        root_rule=NOT_A_MAPPING,
        root_message="not a mapping",
    )
    return LoadedStack(path=document.path, spec=document.value, locator=document.locator)


class Side:
    """One side of the comparison (program or floor): its wall times and what one run costs.

    ``patched`` is entered around each of its runs (an upstream fix under measurement).
    """

    def __init__(
        self,
        label: str,
        body: Callable[[], None],
        stack: str,
        config: dict[str, str],
        patched: Callable[[], contextlib.AbstractContextManager[None]] = contextlib.nullcontext,
    ) -> None:
        self.label, self.body, self.stack, self.config, self.patched = label, body, stack, config, patched
        self.seconds: list[float] = []
        self.cpu_seconds: list[float] = []
        self.full_collections: list[int] = []

    def run(self) -> PreviewResult:
        gc.collect()  # no run pays for the garbage of the one before
        collections = gc.get_stats()[2]["collections"]
        started, cpu = time.perf_counter(), time.process_time()
        with self.patched():
            result = run_preview(self.body, project="gpufleet", stack=self.stack, config=self.config)
        self.seconds.append(time.perf_counter() - started)
        self.cpu_seconds.append(time.process_time() - cpu)
        self.full_collections.append(gc.get_stats()[2]["collections"] - collections)
        return result

    def peak_mib(self) -> float:
        gc.collect()
        tracemalloc.start()
        try:
            with self.patched():
                run_preview(self.body, project="gpufleet", stack=self.stack, config=self.config)
            return tracemalloc.get_traced_memory()[1] / 2**20
        finally:
            tracemalloc.stop()


def without(settings: list[str]) -> None:
    """Switch the runner's settings off for this process, to measure what each one buys."""
    if "gc" in settings:
        runner.PREVIEW_GC_THRESHOLD = 0
    if "drain" in settings:
        runner._drained = _undrained


async def _undrained(body: Callable[[], None]) -> None:
    body()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pools", type=int, nargs="+", default=[128, 256, 512, 1024])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--without", nargs="*", choices=["drain", "gc"], default=[])
    parser.add_argument("--sdk-uri-cache", action="store_true", help="also run the program with upstream.py's URI cache")
    args = parser.parse_args()
    without(args.without)
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, load {os.getloadavg()[0]:.1f}"
    )
    print(f"runner settings off: {', '.join(args.without) or 'none'}; {args.runs} alternating runs each after a warm-up")
    print(
        f"{'pools':>5} {'resources':>9} {'program s':>13} {'floor s':>13} {'ratio':>11} {'prog CPU s':>12} {'floor CPU s':>12} "
        f"{'CPU ratio':>11} {'prog CPU ms/pool':>12} {'floor CPU ms/pool':>13} {'full GCs':>8} {'peak MiB prog/floor':>19}"
    )
    catalog = load_catalog()
    with tempfile.TemporaryDirectory() as folder:
        for pools in args.pools:
            spec = Path(folder) / f"bench{pools}.yaml"
            spec.write_text(fleet_spec(pools), encoding="utf-8")
            plan = resolve(load_fleet(spec, pools), catalog)
            config = {"gpufleet:spec": str(spec), "aws:region": REGION}
            measured = Side("program", lambda plan=plan: program.run_plan(plan), spec.stem, config)
            recorded = measured.run()
            floor = Side("floor", floor_program(recorded.resources), spec.stem, config)
            floor.run()
            sides = [measured, floor]
            if args.sdk_uri_cache:
                sides.append(Side("program, URI cache", measured.body, spec.stem, config, cached_source_positions))
                sides[-1].run()
            for side in sides:
                side.seconds.clear(), side.cpu_seconds.clear(), side.full_collections.clear()
            for _ in range(args.runs):
                for side in sides:
                    side.run()
            ratios = [p / f for p, f in zip(measured.seconds, floor.seconds, strict=True)]
            cpu_ratios = [p / f for p, f in zip(measured.cpu_seconds, floor.cpu_seconds, strict=True)]
            print(
                f"{pools:>5} {len(recorded.resources):>9} {_range(measured.seconds, '.2f'):>13} {_range(floor.seconds, '.2f'):>13} "
                f"{_range(ratios, '.2f'):>10}x {_range(measured.cpu_seconds, '.2f'):>12} {_range(floor.cpu_seconds, '.2f'):>12} "
                f"{_range(cpu_ratios, '.2f'):>10}x {1000 * min(measured.cpu_seconds) / pools:>12.1f} {1000 * min(floor.cpu_seconds) / pools:>13.1f} "
                f"{max(measured.full_collections):>3}/{max(floor.full_collections):<4} "
                f"{measured.peak_mib():>9.1f} / {floor.peak_mib():<7.1f}",
                flush=True,
            )
            for patched in sides[2:]:
                print(
                    f"{'':>5} {patched.label:>23}: CPU {_range(patched.cpu_seconds, '.2f')} s, "
                    f"{_range([p / f for p, f in zip(patched.cpu_seconds, floor.cpu_seconds, strict=True)], '.2f')}x the floor's CPU, "
                    f"{1000 * min(patched.cpu_seconds) / pools:.1f} ms/pool",
                    flush=True,
                )


def _range(values: list[float], spec: str) -> str:
    return f"{min(values):{spec}}-{max(values):{spec}}"


if __name__ == "__main__":
    main()
