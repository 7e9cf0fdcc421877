"""Benchmark: `gpufleet check stacks/*.yaml`, the command a pre-commit hook runs, and check
against preview on a large generated stack.

Runs the installed console script on the example stacks as a user would (a fresh process each
time: imports, validation, offline preview, the pack's start-up and every Analyzer call), best
of N after a warm-up; then, in this process, splits one stack's check into its phases.

``--pools N`` (256 by default with ``--large``) times ``gpufleet preview`` and ``gpufleet check``
of bench/preview.py's generated N-pool fleet, alternating them run by run (a shared machine's
load swings land on both), and prints check's time over preview's: the target is 1.5 at most.
``--profile`` splits the pack's work on that fleet in this process: the SDK's own servicer
against gpufleet's (``policy/pack/shared.py``), for every ``Analyze`` call and for
``AnalyzeStack``, and how much of the SDK's time is turning the request into Python (protobuf
to dicts, the unknown-value proxy, resource options and links) rather than the policies.

    .venv/bin/python bench/check.py [--runs 3] [--phases] [--large [--pools 256]] [--profile]
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import subprocess
import sys
import tempfile
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


def large_fleet(folder: Path, pools: int) -> Path:
    """bench/preview.py's generated fleet of ``pools`` pools, with the subnet record preview writes."""
    sys.path.insert(0, str(REPO / "bench"))
    from preview import fleet_spec

    spec = folder / f"bench{pools}.yaml"
    spec.write_text(fleet_spec(pools), encoding="utf-8")
    subprocess.run([str(SCRIPT), "preview", str(spec), "--out", str(folder / "out")], check=True, stdout=subprocess.DEVNULL)
    return spec


def check_against_preview(spec: Path, runs: int) -> None:
    """Preview and check of one stack, alternated after a warm-up of each; best wall and CPU."""
    commands = {
        "preview": [str(SCRIPT), "preview", str(spec), "--out", str(spec.parent / "out")],
        "check": [str(SCRIPT), "check", str(spec)],
    }
    for command in commands.values():
        wall(command)
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in commands}
    for _ in range(runs):
        for name, command in commands.items():
            times[name].append(wall(command))
    best = {name: (min(t[0] for t in found), min(t[1] for t in found)) for name, found in times.items()}
    for name, (elapsed, cpu) in best.items():
        print(f"gpufleet {name} {spec.name}: best of {runs} {elapsed:.2f} s ({cpu:.2f} CPU s)")
    print(
        f"check / preview: {best['check'][0] / best['preview'][0]:.2f} wall, {best['check'][1] / best['preview'][1]:.2f} CPU "
        "(target: 1.5 at most)"
    )


def pack_profile(spec: Path) -> None:
    """The pack's Analyzer work on one stack, in this process: the SDK's servicer against
    gpufleet's, and the share of the SDK's time spent making Python of the request."""
    import cProfile
    import json as jsonlib
    import pstats

    from pulumi_policy import policy as sdk

    from gpufleet import program
    from gpufleet.catalog import load_catalog
    from gpufleet.model import resolve
    from gpufleet.policy.analyzer import analyze_request, analyze_stack_request
    from gpufleet.policy.check import analyzed
    from gpufleet.policy.pack import policy_definitions
    from gpufleet.policy.pack.build import sdk_policy
    from gpufleet.policy.pack.shared import SharedServicer
    from gpufleet.preview import run_preview
    from gpufleet.stack import load_stack

    plan = resolve(load_stack(spec), load_catalog())
    config = {"gpufleet:spec": str(spec.resolve()), "aws:region": plan.cluster.region or "us-east-1"}
    os.environ.update(
        PULUMI_STACK=plan.stack, PULUMI_PROJECT="gpufleet", PULUMI_DRY_RUN="true", PULUMI_CONFIG=jsonlib.dumps(config)
    )
    resources = [analyzed(r) for r in run_preview(program.run, project="gpufleet", stack=plan.stack, config=config).resources]
    requests = [analyze_request(r) for r in resources]
    stack = analyze_stack_request(resources)
    policies = [sdk_policy(definition) for definition in policy_definitions()]
    conversion = ("MessageToDict", "deserialize_properties", "unknown_checking_proxy", "_get_resource_options", "__init__")
    print(f"pack on {spec.name}: {len(resources)} resources, {len(policies)} policies")
    for label, servicer_class in (("the SDK's servicer", sdk._PolicyAnalyzerServicer), ("gpufleet's servicer", SharedServicer)):
        servicer = servicer_class("gpufleet", "0.0.1", policies, sdk.EnforcementLevel.MANDATORY)
        for call, run in (
            ("Analyze x each resource", lambda s=servicer: [s.Analyze(request, None) for request in requests]),
            ("AnalyzeStack", lambda s=servicer: s.AnalyzeStack(stack, None)),
        ):
            started = time.perf_counter()
            run()
            elapsed = time.perf_counter() - started
            profile = cProfile.Profile()
            profile.runcall(run)
            stats = pstats.Stats(profile)
            total = stats.total_tt  # type: ignore[attr-defined]
            spent = sum(
                entry[3]
                for (file, _, name), entry in stats.stats.items()  # type: ignore[attr-defined]
                if name in conversion and ("protobuf" in file or "pulumi_policy" in file)
            )
            own = sum(
                entry[3]
                for (file, _, name), entry in stats.stats.items()  # type: ignore[attr-defined]
                if name == "run" and file.endswith("pack/build.py")
            )
            print(
                f"  {label}, {call}: {elapsed:.2f} s; under the profiler {100 * spent / total:.0f}% making Python of the "
                f"request, {100 * own / total:.0f}% in the policies"
            )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--phases", action="store_true", help="also split each stack's check into its phases")
    parser.add_argument("--large", action="store_true", help="time check against preview on a generated fleet")
    parser.add_argument("--pools", type=int, default=256, help="the generated fleet's pools (with --large or --profile)")
    parser.add_argument("--profile", action="store_true", help="split the pack's work on the generated fleet")
    args = parser.parse_args()
    if args.large or args.profile:
        with tempfile.TemporaryDirectory() as folder:
            spec = large_fleet(Path(folder), args.pools)
            print(
                f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; load {os.getloadavg()[0]:.1f}"
            )
            if args.large:
                check_against_preview(spec, args.runs)
            if args.profile:
                pack_profile(spec)
        return
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
