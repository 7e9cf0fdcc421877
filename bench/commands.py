"""Cost of the light commands a user runs most: ``validate`` and ``mig profiles``.

Each command runs as a fresh process (imports included, as a user sees it), best of N after
a warm-up: wall time, CPU time (user + system, less disturbed by a busy machine) and how many
modules it imports (``python -X importtime``; deterministic). ``--tree DIR`` measures another
checkout's ``infra/`` with this venv, so a change can be compared with the commit before it.
Not a test: timings depend on the machine. Run: ``.venv/bin/python bench/commands.py
[--runs 5] [--tree DIR]``.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
COMMANDS = {
    "validate stacks/prod.yaml": ["validate", "stacks/prod.yaml"],
    "mig profiles H100-80GB": ["mig", "profiles", "H100-80GB"],
}


def measure(tree: Path, args: list[str], runs: int) -> tuple[float, float, int, bool]:
    env = {**os.environ, "PYTHONPATH": str(tree / "infra")}
    command = [sys.executable, "-c", "from gpufleet.cli import main; main()", *args]
    traced = subprocess.run([sys.executable, "-X", "importtime", *command[1:]], cwd=tree, env=env, capture_output=True, text=True, check=True)
    modules = [line.rsplit("|", 1)[-1].strip() for line in traced.stderr.splitlines() if line.startswith("import time:")][1:]
    best_wall = best_cpu = float("inf")
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        subprocess.run(command, cwd=tree, env=env, capture_output=True, check=True)
        wall = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        best_wall, best_cpu = min(best_wall, wall), min(best_cpu, cpu)
    pulumi = any(name.split(".")[0].startswith("pulumi") for name in modules)
    return best_wall, best_cpu, len(modules), pulumi


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--tree", type=Path, default=REPO)
    args = parser.parse_args()
    print(f"{'command':28} {'wall':>7} {'cpu':>7} {'modules':>8}  pulumi")
    for label, command in COMMANDS.items():
        wall, cpu, modules, pulumi = measure(args.tree.resolve(), command, args.runs)
        print(f"{label:28} {wall:6.2f}s {cpu:6.2f}s {modules:8d}  {'yes' if pulumi else 'no'}")


if __name__ == "__main__":
    main()
