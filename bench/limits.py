"""Benchmark: what the hostile inputs of issues 9 and 27 cost now, and what the largest allowed stack costs.

Each case runs `gpufleet validate` (or `mig plan`, `new`, `check`) in a fresh process, as a
user would (its modules' bytecode cached, as an installed package's is: see bench/commands.py),
and reports wall time, CPU time, peak memory (the largest max RSS of the command and the
processes it waited for: a policy pack, a template's render child) and the exit code. The cases
are issue 9's (a 1 MB comment line, 50,000 pools, 20,000 admins, a billion-laughs file, deep
nesting), then the largest stack the limits allow (its validate must stay under 2 s) and a
demand at the planner's replica limit, then issue 27's surfaces around the stack file: a
billion-laughs `--from` header and `--set` value, a template that loops forever, a
billion-laughs `Pulumi.<stack>.yaml` and a 100,000-deep policy config beside `check`.
`--preview` also previews the largest stack; `--check` runs `gpufleet check` on it and on a
plain 512-pool stack.

    .venv/bin/python bench/limits.py [--preview] [--check]
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "infra"))

sys.path.insert(0, str(REPO / "bench"))

from commands import environment  # noqa: E402

from gpufleet.catalog import load_catalog  # noqa: E402
from gpufleet.values import MAX_ADMINS, MAX_DEMAND_REPLICAS, MAX_ENTRIES, MAX_NODES, MAX_POOLS  # noqa: E402

ENVIRONMENT: dict[str, str] = {}  # the children's, set up in main()
QUEUE_CAP = load_catalog().kubernetes.kueue.limits.flavors_per_group

HEAD = """cluster:
  name: big
  provider: aws
  region: us-east-1
  kubernetes_version: "1.33"
  endpoint: {deploy_from: in-vpc}
ADMINS
network:
  vpc_cidr: 10.0.0.0/16
  availability_zones: [us-east-1a, us-east-1b, us-east-1c]
"""
RUN = "import sys; from gpufleet.cli import main; sys.argv = ['gpufleet', *sys.argv[1:]]; main()"
# Wall time, and CPU time (user + system), which a busy shared machine distorts far less.
MEASURE = (
    "import resource, subprocess, sys, time; start = time.perf_counter();"
    " code = subprocess.call(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL);"
    " usage = resource.getrusage(resource.RUSAGE_CHILDREN);"
    " print(code, time.perf_counter() - start, usage.ru_utime + usage.ru_stime, usage.ru_maxrss)"
)


def admins(count: int) -> str:
    """``count`` admins, the first of them running ``pulumi up`` (a deployer must be an admin)."""
    listed = "\n".join(f"    - arn:aws:iam::123456789012:role/admin-{i}" for i in range(count))
    return f"  deployer: arn:aws:iam::123456789012:role/admin-0\n  admins:\n{listed}"


def pools(count: int, nodes: int, labels: int = 0, models: int = 0) -> str:
    """``count`` pools: the system pool every valid stack needs (CoreDNS runs there), then inference
    pools up to the 64 flavors Kueue takes in the inference queue (GF-K8S-010), then CPU system pools."""
    lines = ["node_pools:", "  system:", "    workload: system", "    instance_type: m7i.xlarge", "    nodes: {min: 1, max: 2}"]
    for i in range(count - 1):
        gpu = i < QUEUE_CAP
        lines += [
            f"  pool-{i}:",
            "    workload: inference" if gpu else "    workload: system",
            "    instance_type: g6.xlarge" if gpu else "    instance_type: m7i.xlarge",
            f"    nodes: {{min: 0, max: {nodes}}}",
        ]
        if labels:
            lines.append("    labels: {" + ", ".join(f"team-{j}: t{j}" for j in range(labels)) + "}")
        if models and gpu:
            lines.append("    models:")
            lines += [f"      - {{name: model-{j}, parameters_b: 8}}" for j in range(models)]
    return "\n".join(lines) + "\n"


def largest_allowed() -> str:
    """Every list at its limit: pools, admins, labels and models per pool, nodes in total."""
    head = HEAD.replace("ADMINS", admins(MAX_ADMINS))
    fabrics = "fabrics:\n" + "".join(f"  net-{i}: {{kind: ethernet}}\n" for i in range(MAX_ENTRIES))
    storage = "storage:\n" + "".join(f"  bucket-{i}: {{kind: s3}}\n" for i in range(MAX_ENTRIES))
    return head + fabrics + storage + pools(MAX_POOLS, (MAX_NODES - 2) // (MAX_POOLS - 1), labels=8, models=4)


def billion_laughs() -> str:
    text = "laughs:\n  a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
    for previous, name in zip("abcdefgh", "bcdefghi", strict=True):
        text += f"  {name}: &{name} [" + ", ".join([f"*{previous}"] * 9) + "]\n"
    return text + HEAD.replace("ADMINS", "  admins: []") + pools(2, 1).replace("workload: inference", "workload: *i")


CASES = {
    "small valid stack (process start-up)": lambda: HEAD.replace("ADMINS", "  admins: []") + pools(2, 1),
    "1 MB comment line": lambda: HEAD.replace("ADMINS", "  admins: []") + "#" + "c" * 1_000_000 + "\n" + pools(2, 1),
    "50,000 pools": lambda: HEAD.replace("ADMINS", "  admins: []") + pools(50_000, 1),
    f"{MAX_POOLS + 1} pools (one past the limit)": lambda: HEAD.replace("ADMINS", "  admins: []") + pools(MAX_POOLS + 1, 1),
    "20,000 admins": lambda: HEAD.replace("ADMINS", admins(20_000)) + pools(2, 1),
    "billion laughs (2 KB)": billion_laughs,
    "100,000 '[' one per line": lambda: "cluster:\n" + "  [\n" * 100_000,
    "1,000 nested mappings": lambda: "cluster:\n" + "".join(" " * (i + 1) + "k:\n" for i in range(1000)),
    "largest allowed stack": largest_allowed,
}


def measure(arguments: list[str], cwd: Path = REPO) -> tuple[int, float, float, float]:
    output = subprocess.run(
        [sys.executable, "-c", MEASURE, sys.executable, "-c", RUN, *arguments],
        capture_output=True,
        text=True,
        env=ENVIRONMENT,
        cwd=cwd,
        check=True,
    ).stdout.split()
    return int(output[0]), float(output[1]), float(output[2]), int(output[3]) / 1024


def laughs(prefix: str, levels: int = 9) -> str:
    """A billion-laughs block, each line starting with ``prefix``."""
    lines = [f"{prefix}a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for previous, name in zip("abcdefghi"[: levels - 1], "bcdefghij"[: levels - 1], strict=True):
        lines.append(f"{prefix}{name}: &{name} [" + ", ".join([f"*{previous}"] * 9) + "]")
    return "\n".join(lines) + "\n"


def surfaces(folder: Path) -> dict[str, tuple[list[str], str]]:
    """Issue 27's inputs around the stack file: (command, what the issue measured before)."""
    header = folder / "laughs-header.yaml"
    header.write_text("# template: llm-training\n# parameters:\n" + laughs("#   "), encoding="utf-8")
    set_value = "admins=[" + ", ".join(line.split(": ", 1)[1] for line in laughs("", 7).splitlines()) + "]"
    template = folder / "templates" / "loop"
    template.mkdir(parents=True, exist_ok=True)
    (template / "template.yaml").write_text("description: loops\nparameters: {}\n", encoding="utf-8")
    (template / "stack.yaml.j2").write_text(
        "{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}\n", encoding="utf-8"
    )
    project = folder / "project"
    project.mkdir(exist_ok=True)
    for name in ("prod.yaml", "prod.subnets.lock"):
        (project / name).write_text((REPO / "stacks" / name).read_text(encoding="utf-8"), encoding="utf-8")
    (project / "Pulumi.prod.yaml").write_text("config:\n" + laughs("  "), encoding="utf-8")
    (project / "deep.json").write_text("[" * 100_000 + "]" * 100_000 + "\n", encoding="utf-8")
    templates = str(REPO / "infra" / "gpufleet" / "templates")
    new = ["new", "llm-training", "--stack", "bench", "--templates", templates]
    return {
        "new --from, billion-laughs header": ([*new, "--from", str(header)], "traceback"),
        "new --set, billion laughs in 300 characters": ([*new, "--set", set_value], "hung above 1 GiB"),
        "new, a template that loops forever": (
            ["new", "loop", "--stack", "bench", "--templates", str(folder / "templates")],
            "hung",
        ),
        "check, billion-laughs Pulumi.prod.yaml": (["check", "prod.yaml"], "5 GB"),
        "check --policy-config, 100,000 deep": (["check", "prod.yaml", "--policy-config", "deep.json"], "traceback"),
    }


def in_process(path: Path) -> float:
    """Best of three load + resolve of one file (CPU seconds), without start-up and table printing."""
    from gpufleet.catalog import load_catalog
    from gpufleet.model import resolve
    from gpufleet.stack import load_stack

    catalog = load_catalog()
    best = float("inf")
    for _ in range(3):
        started = time.process_time()
        resolve(load_stack(path), catalog)
        best = min(best, time.process_time() - started)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preview", action="store_true", help="also preview the largest allowed stack")
    parser.add_argument("--check", action="store_true", help="also check the largest allowed stack and a plain 512-pool stack")
    options = parser.parse_args()
    print(f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    print(f"{'case':<44} {'size':>9} {'exit':>4} {'wall s':>7} {'cpu s':>6} {'peak MiB':>8}")
    with tempfile.TemporaryDirectory() as folder:
        ENVIRONMENT.update(environment(REPO, Path(folder)))
        measure(["validate", "stacks/prod.yaml"])  # fills the bytecode and catalog caches
        for name, make in CASES.items():
            path = Path(folder) / "stack.yaml"
            text = make()
            path.write_text(text, encoding="utf-8")
            code, seconds, cpu, peak = measure(["validate", str(path)])
            print(f"{name:<44} {len(text.encode()) / 1024:>7.0f}KB {code:>4} {seconds:>7.2f} {cpu:>6.2f} {peak:>8.0f}")
        path = Path(folder) / "largest.yaml"
        path.write_text(largest_allowed(), encoding="utf-8")
        code, seconds, cpu, peak = measure(["validate", "--json", str(path)])
        print(f"{'largest allowed stack, validate --json':<44} {'':>9} {code:>4} {seconds:>7.2f} {cpu:>6.2f} {peak:>8.0f}")
        print(f"{'largest allowed: load + resolve, in-process':<44} {'':>9} {'':>4} {'':>7} {in_process(path):>6.2f}")
        demand = Path(folder) / "demand.yaml"
        demand.write_text(f"services:\n  - {{name: chat, memory_gib: 9, replicas: {MAX_DEMAND_REPLICAS}}}\n", encoding="utf-8")
        code, seconds, cpu, peak = measure(["mig", "plan", "--gpu", "H100-80GB", "--demand", str(demand)])
        print(f"{f'mig plan, {MAX_DEMAND_REPLICAS} replicas':<44} {'':>9} {code:>4} {seconds:>7.2f} {cpu:>6.2f} {peak:>8.0f}")
        for name, (arguments, before) in surfaces(Path(folder)).items():
            cwd = Path(folder) / "project" if arguments[0] == "check" else Path(folder)
            code, seconds, cpu, peak = measure(arguments, cwd)
            print(f"{name:<44} {'':>9} {code:>4} {seconds:>7.2f} {cpu:>6.2f} {peak:>8.0f}  (before: {before})")
        if options.preview:
            code, seconds, cpu, peak = measure(["preview", str(path), "--out", str(Path(folder) / "out")])
            print(f"{'preview, largest allowed stack':<44} {'':>9} {code:>4} {seconds:>7.2f} {cpu:>6.2f} {peak:>8.0f}")
        if options.check:
            plain = Path(folder) / "plain.yaml"
            plain.write_text(HEAD.replace("ADMINS", "  admins: []") + pools(MAX_POOLS, 1), encoding="utf-8")
            for name, stack in (("check, largest allowed stack", path), (f"check, plain {MAX_POOLS}-pool stack", plain)):
                code, seconds, cpu, peak = measure(["check", str(stack)], Path(folder))
                print(f"{name:<44} {'':>9} {code:>4} {seconds:>7.2f} {cpu:>6.2f} {peak:>8.0f}")


if __name__ == "__main__":
    main()
