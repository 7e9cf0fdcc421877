"""Benchmark: the property test's stack mutations at a larger count, with their outcomes.

Every mutated copy of each example stack must load and resolve, or fail with gpufleet's own
error; any other exception stops the run and prints the mutated file. Reports the outcome
counts and the cost per case.

    .venv/bin/python bench/mutations.py [--count 10000] [--seed 1]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "infra"), str(REPO)]

from gpufleet.catalog import load_catalog  # noqa: E402
from gpufleet.inputs import InputFileError, InputInvalid  # noqa: E402
from gpufleet.model import resolve  # noqa: E402
from gpufleet.stack import load_stack  # noqa: E402
from tests.hostile.mutate import mutations  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=10_000, help="mutations per example stack")
    parser.add_argument("--seed", type=int, default=1)
    options = parser.parse_args()
    catalog = load_catalog()
    with tempfile.TemporaryDirectory() as folder:
        for stack in sorted((REPO / "stacks").glob("*.yaml")):
            target = Path(folder) / stack.name
            outcomes: Counter[str] = Counter()
            started = time.perf_counter()
            for index, text in enumerate(mutations(stack.read_text(encoding="utf-8"), options.count, options.seed)):
                target.write_text(text, encoding="utf-8", newline="")
                try:
                    resolve(load_stack(target), catalog)
                    outcomes["valid"] += 1
                except InputInvalid:
                    outcomes["invalid"] += 1
                except InputFileError:
                    outcomes["unreadable"] += 1
                except Exception:
                    print(f"mutation {index} of {stack.name} escaped:\n{text}", file=sys.stderr)
                    raise
            seconds = time.perf_counter() - started
            print(f"{stack.name}: {dict(sorted(outcomes.items()))}, {seconds / options.count * 1000:.2f} ms per case")


if __name__ == "__main__":
    main()
