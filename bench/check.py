"""Benchmark: `gpufleet check stacks/*.yaml`, the command a pre-commit hook runs.

Runs the installed console script on the example stacks as a user would (a fresh process each
time: imports, validation, offline preview, the pack's start-up and every Analyzer call), best
of N after a warm-up; then, in this process, splits one stack's check into its phases.

    .venv/bin/python bench/check.py [--runs 3] [--phases]
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SCRIPT = Path(sys.executable).with_name("gpufleet")


def wall(command: list[str]) -> tuple[float, float]:
    """Elapsed seconds and the CPU seconds the command and its children (the packs) used:
    on a shared box the second says more than the first."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(command, cwd=REPO, check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    elapsed = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return elapsed, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def phases(stack: Path) -> dict[str, float]:
    from gpufleet import program
    from gpufleet.catalog import load_catalog
    from gpufleet.model import resolve
    from gpufleet.policy.analyzer import PolicyPackSession, StackIdentity
    from gpufleet.policy.check import analyzed, default_pack
    from gpufleet.preview import run_preview
    from gpufleet.stack import load_stack

    times: dict[str, float] = {}
    started = time.perf_counter()
    plan = resolve(load_stack(stack), load_catalog())
    times["validate"] = time.perf_counter() - started
    config = {"gpufleet:spec": str(stack.resolve()), "aws:region": plan.cluster.region or "us-east-1"}
    started = time.perf_counter()
    with PolicyPackSession(default_pack(), StackIdentity("gpufleet", plan.stack, config)) as session:
        session._connect()
        times["pack start-up (alone)"] = time.perf_counter() - started
        started = time.perf_counter()
        result = run_preview(program.run, project="gpufleet", stack=plan.stack, config=config)
        times["preview"] = time.perf_counter() - started
        resources = [analyzed(r) for r in result.resources]
        started = time.perf_counter()
        session.analyze(resources, {})
        times[f"analyze ({len(resources)} resources)"] = time.perf_counter() - started
    return times


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--phases", action="store_true", help="also split each stack's check into its phases")
    args = parser.parse_args()
    stacks = sorted(str(p.relative_to(REPO)) for p in (REPO / "stacks").glob("*.yaml"))
    print(f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; load {os.getloadavg()[0]:.1f}")
    # validate for scale; one stack is what a pre-commit hook checks for a commit touching it.
    commands = [["validate", *stacks], ["check", *stacks], ["check", "stacks/prod.yaml"]]
    for command in commands:
        wall([str(SCRIPT), *command])
        elapsed, cpu = min(wall([str(SCRIPT), *command]) for _ in range(args.runs))
        print(f"gpufleet {' '.join(command)}: best of {args.runs} {elapsed:.2f} s ({cpu:.2f} CPU s)")
    if args.phases:
        for stack in stacks:
            for phase, seconds in phases(REPO / stack).items():
                print(f"  {stack} {phase}: {seconds:.2f} s")


if __name__ == "__main__":
    main()
