"""Cost of the commands a user runs most, each as a fresh process (imports included).

``validate`` and ``preview`` of ``stacks/prod.yaml``, ``mig profiles``, and ``mig plan`` of a
generated demand of 10,000 services (bench/mig_plan.py's mix). Best of N after a warm-up,
with the worst wall time too (a shared machine's load swings): wall time, CPU time (user + system, less disturbed by a busy machine) and how many
modules it imports (``python -X importtime``; deterministic). ``--tree DIR`` measures another
checkout's ``infra/`` with this venv, so a change can be compared with the commit before it.

gpufleet's own modules run from cached bytecode, as an installed package's do (pip compiles
a wheel's modules when it installs them); the cache is a temporary folder, filled by the
first run. ``--compile-each-run`` measures instead what a machine that sets
``PYTHONDONTWRITEBYTECODE`` (this project's does) pays: every module compiled again on every
run. Not a test: timings depend on the machine. Run: ``.venv/bin/python bench/commands.py
[--runs 5] [--tree DIR] [--compile-each-run] [--only validate mig]``.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))


def commands(folder: Path) -> dict[str, list[str]]:
    demand = folder / "demand.yaml"
    demand.write_text(_demand_yaml(10_000), encoding="utf-8")
    return {
        "validate stacks/prod.yaml": ["validate", "stacks/prod.yaml"],
        "preview stacks/prod.yaml": ["preview", "stacks/prod.yaml", "--out", str(folder / "out")],
        "mig profiles H100-80GB": ["mig", "profiles", "H100-80GB"],
        "mig plan (10,000 services)": ["mig", "plan", "--gpu", "H100-80GB", "--demand", str(demand)],
    }


def _demand_yaml(count: int) -> str:
    """The YAML file a user would hand ``mig plan``, one flow mapping per service."""
    from mig_plan import services

    lines = ["services:"]
    for service in services("H100-80GB", count, "memory"):
        share = f", compute_share: {service.compute_share}" if service.compute_share is not None else ""
        lines.append(f"  - {{name: {service.name}, memory_gib: {service.memory_gib}{share}, replicas: {service.replicas}}}")
    return "\n".join(lines) + "\n"


def environment(tree: Path, folder: Path, bytecode: bool = True) -> dict[str, str]:
    """The child's environment: ``tree``'s code, its bytecode (unless not ``bytecode``) and
    gpufleet's own cache (the parsed catalog) kept in ``folder``, so no earlier run counts."""
    env = {**os.environ, "PYTHONPATH": str(tree / "infra"), "XDG_CACHE_HOME": str(folder / "cache")}
    if bytecode:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(folder / "bytecode")
    else:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def measure(tree: Path, args: list[str], runs: int, env: dict[str, str]) -> tuple[float, float, float, int, bool]:
    command = [sys.executable, "-c", "from gpufleet.cli import main; main()", *args]
    traced = subprocess.run(
        [sys.executable, "-X", "importtime", *command[1:]], cwd=tree, env=env, capture_output=True, text=True, check=True
    )
    modules = [line.rsplit("|", 1)[-1].strip() for line in traced.stderr.splitlines() if line.startswith("import time:")][1:]
    best_wall = best_cpu = float("inf")
    worst_wall = 0.0
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        subprocess.run(command, cwd=tree, env=env, capture_output=True, check=True)
        wall = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        best_wall, best_cpu, worst_wall = min(best_wall, wall), min(best_cpu, cpu), max(worst_wall, wall)
    pulumi = any(name.split(".")[0].startswith("pulumi") for name in modules)
    return best_wall, worst_wall, best_cpu, len(modules), pulumi


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--tree", type=Path, default=REPO)
    parser.add_argument(
        "--compile-each-run", action="store_true", help="no bytecode cache: compile gpufleet's modules on every run"
    )
    parser.add_argument(
        "--only", nargs="+", default=[], help="measure only the commands whose label starts with one of these words"
    )
    args = parser.parse_args()
    bytecode = "compiled on every run" if args.compile_each_run else "bytecode cached"
    print(f"{os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}; {args.runs} runs each; {bytecode}")
    print(f"{'command':28} {'wall best-worst':>16} {'cpu':>7} {'modules':>8}  pulumi")
    with tempfile.TemporaryDirectory() as folder:
        env = environment(args.tree.resolve(), Path(folder), bytecode=not args.compile_each_run)
        for label, command in commands(Path(folder)).items():
            if args.only and not any(label.startswith(word) for word in args.only):
                continue
            wall, worst, cpu, modules, pulumi = measure(args.tree.resolve(), command, args.runs, env)
            print(f"{label:28} {wall:7.2f}-{worst:<7.2f}s {cpu:6.2f}s {modules:8d}  {'yes' if pulumi else 'no'}", flush=True)


if __name__ == "__main__":
    main()
