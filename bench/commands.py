"""Wall time of the light commands a user runs most: ``validate`` and ``mig profiles``.

Each command runs as a fresh process (imports included, as a user sees it), best of N after
a warm-up. ``--tree DIR`` measures another checkout's ``infra/`` with this venv, so a change
can be compared with the commit before it. Not a test: timings depend on the machine.
Run: ``.venv/bin/python bench/commands.py [--runs 5] [--tree DIR]``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
COMMANDS = {
    "validate stacks/prod.yaml": ["validate", "stacks/prod.yaml"],
    "mig profiles H100-80GB": ["mig", "profiles", "H100-80GB"],
}


def wall_time(tree: Path, args: list[str], runs: int) -> float:
    env = {**os.environ, "PYTHONPATH": str(tree / "infra")}
    command = [sys.executable, "-c", "from gpufleet.cli import main; main()", *args]
    subprocess.run(command, cwd=tree, env=env, capture_output=True, check=True)  # warm the OS cache
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(command, cwd=tree, env=env, capture_output=True, check=True)
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--tree", type=Path, default=REPO)
    args = parser.parse_args()
    for label, command in COMMANDS.items():
        print(f"{label:32} {wall_time(args.tree.resolve(), command, args.runs):6.2f} s")


if __name__ == "__main__":
    main()
