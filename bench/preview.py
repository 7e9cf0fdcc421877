"""Benchmark: offline preview of generated fleets against the bare-registration floor.

For fleets of 8, 64 and 512 node pools, run the real program (`gpufleet.program.run`) under
the preview mocks and compare it with `floor.py`'s loop that registers the very same resources
through the same SDK and mocks. Prints time, peak memory, per-resource cost and the ratio
(target <= 1.3x), and checks that the per-resource cost stays flat as pools grow.

    .venv/bin/python bench/preview.py [--pools 8 64 512] [--runs 3]
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from floor import measure, measure_floor  # noqa: E402

from gpufleet import program  # noqa: E402

REGION = "us-east-1"
# Pool mix of a production fleet: one training pool in eight, the rest inference and lab.
POOL_KINDS = (
    ("training", "p5.48xlarge", "rdma", "{min: 2, max: 2}", "on-demand"),
    ("inference", "g6e.12xlarge", "tcp", "{min: 1, max: 8}", "on-demand"),
    ("inference", "p5.48xlarge", "tcp", "{min: 1, max: 4}", "on-demand"),
    ("lab", "g6.12xlarge", None, "{min: 0, max: 4}", "spot"),
    ("inference", "g6.xlarge", "tcp", "{min: 0, max: 16}", "spot"),
    ("inference", "p5en.48xlarge", "rdma", "{min: 1, max: 2}", "on-demand"),
    ("lab", "g6e.xlarge", None, "{min: 0, max: 2}", "spot"),
    ("inference", "p4d.24xlarge", "tcp", "{min: 1, max: 2}", "on-demand"),
)


def fleet_spec(pools: int) -> str:
    lines = [
        "cluster: {name: bench, provider: aws, region: us-east-1, kubernetes_version: \"1.33\"}",
        "network: {vpc_cidr: 10.40.0.0/16, availability_zones: [us-east-1a, us-east-1b, us-east-1c]}",
        "fabrics: {rdma: {kind: efa}, tcp: {kind: ethernet}}",
        "storage:",
        "  datasets: {kind: s3}",
        "  scratch: {kind: fsx-lustre, deployment: PERSISTENT_2, capacity_tib: 24, throughput_per_tib: 500, import_from: datasets}",
        "  nvme: {kind: local-nvme}",
        "node_pools:",
    ]
    training = 0
    for index in range(pools):
        workload, instance, fabric, nodes, capacity = POOL_KINDS[index % len(POOL_KINDS)]
        fields = [f"workload: {workload}", f"instance_type: {instance}", f"nodes: {nodes}", f"capacity: {{type: {capacity}}}"]
        if fabric:
            fields.append(f"fabric: {fabric}")
        if workload == "training":
            fields += [f"subnet_slot: {training}", "storage: [scratch, nvme]"]
            training += 1
        lines.append(f"  pool-{index:04d}: {{{', '.join(fields)}}}")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pools", type=int, nargs="+", default=[8, 64, 512])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    print(f"{'pools':>6} {'resources':>9} {'program s':>10} {'floor s':>8} {'ratio':>6} {'prog ms/res':>11} {'floor ms/res':>12} {'prog MiB':>9} {'floor MiB':>9}")
    per_resource = []
    with tempfile.TemporaryDirectory() as folder:
        for pools in args.pools:
            spec = Path(folder) / f"bench{pools}.yaml"
            spec.write_text(fleet_spec(pools), encoding="utf-8")
            config = {"gpufleet:spec": str(spec), "aws:region": REGION}
            measured, result = measure("program", program.run, project="gpufleet", stack=spec.stem, config=config, runs=args.runs)
            floor = measure_floor(result, config=config, runs=args.runs)
            ratio = measured.best_seconds / floor.best_seconds
            per_resource.append(measured.ms_per_resource)
            print(
                f"{pools:>6} {measured.resources:>9} {measured.best_seconds:>10.3f} {floor.best_seconds:>8.3f} {ratio:>5.2f}x "
                f"{measured.ms_per_resource:>11.2f} {floor.ms_per_resource:>12.2f} "
                f"{measured.peak_bytes / 2**20:>9.1f} {floor.peak_bytes / 2**20:>9.1f}"
            )
    growth = per_resource[-1] / per_resource[0]
    print(f"per-resource cost, largest vs smallest fleet: {growth:.2f}x (1.0 = linear)")


if __name__ == "__main__":
    main()
