"""Benchmark: `gpufleet check stacks/*.yaml`, the command a pre-commit hook runs.

Runs the installed console script on the example stacks as a user would (a fresh process each
time: imports, validation, offline preview, the pack's start-up and every Analyzer call), best
of N after a warm-up; then, in this process, splits one stack's check into its phases.

    .venv/bin/python bench/check.py [--runs 3]
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SCRIPT = Path(sys.executable).with_name("gpufleet")


def wall(command: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, cwd=REPO, check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


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
    args = parser.parse_args()
    stacks = sorted(str(p.relative_to(REPO)) for p in (REPO / "stacks").glob("*.yaml"))
    print(f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; load {os.getloadavg()[0]:.1f}")
    commands = {"validate": [str(SCRIPT), "validate", *stacks], "check": [str(SCRIPT), "check", *stacks]}
    for name, command in commands.items():
        wall(command)
        best = min(wall(command) for _ in range(args.runs))
        print(f"gpufleet {name} {' '.join(stacks)}: best of {args.runs} {best:.2f} s")
    for stack in stacks:
        for phase, seconds in phases(REPO / stack).items():
            print(f"  {stack} {phase}: {seconds:.2f} s")


if __name__ == "__main__":
    main()
