"""The floor for the preview benchmark: what registering the resources costs by itself.

Given the resources a preview run recorded, `floor_program` builds a program
that registers the same resources (types, names, inputs, parents, providers,
options, dependencies, the provider version and aliases) in a bare loop of generic `CustomResource` /
`ComponentResource` / `ProviderResource` calls: no typed args, no applies, no
invokes, no spec handling. Running it through the same `run_preview` (same SDK,
same mocks) gives the lowest time and memory any program producing that
resource set could need, so `program / floor` shows what the program adds.

    python bench/floor.py gpufleet.program:run --stack dev --config aws:region=us-west-2
    python bench/floor.py tests/preview/preview_programs.py:gpu_cluster_program \\
        --config gpufleet:spec=fleet.yaml --config aws:region=us-west-2
"""

from __future__ import annotations

import argparse
import gc
import heapq
import importlib
import importlib.util
import resource as rusage
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pulumi

from gpufleet.preview import PreviewResult, RecordedResource, run_preview
from gpufleet.preview.result import STACK_TYPE

_PROVIDER_PREFIX = "pulumi:providers:"


@dataclass(frozen=True)
class Measurement:
    """Wall time over `runs` repeats and the tracemalloc peak of one more run."""

    label: str
    resources: int
    best_seconds: float
    median_seconds: float
    peak_bytes: int
    runs: int

    @property
    def ms_per_resource(self) -> float:
        return 1000 * self.best_seconds / self.resources

    @property
    def kib_per_resource(self) -> float:
        return self.peak_bytes / 1024 / self.resources

    def line(self) -> str:
        return (
            f"{self.label:<8} {self.resources:>5} resources  best {self.best_seconds:7.3f} s  "
            f"median {self.median_seconds:7.3f} s  {self.ms_per_resource:6.2f} ms/resource  "
            f"peak {self.peak_bytes / 2**20:7.2f} MiB  {self.kib_per_resource:6.1f} KiB/resource"
        )


def floor_program(resources: Sequence[RecordedResource]) -> Callable[[], None]:
    """A program re-registering `resources` in dependency order with generic resource classes."""
    ordered = dependency_order(resources)

    def register_all() -> None:
        created: dict[str, pulumi.Resource] = {}
        for recorded in ordered:
            created[recorded.urn] = _register(recorded, created)

    return register_all


def _register(recorded: RecordedResource, created: Mapping[str, pulumi.Resource]) -> pulumi.Resource:
    opts = pulumi.ResourceOptions(
        parent=created.get(recorded.parent) if recorded.parent else None,
        provider=created[_provider_urn(recorded.provider)] if recorded.provider else None,
        protect=recorded.protect or None,
        retain_on_delete=recorded.retain_on_delete or None,
        depends_on=[created[urn] for urn in recorded.depends_on if urn in created] or None,
        id=recorded.id if recorded.external else None,
        version=recorded.version or None,
        plugin_download_url=recorded.plugin_download_url or None,
        aliases=[alias if alias.startswith("urn:") else pulumi.Alias(type_=alias) for alias in recorded.aliases] or None,
        additional_secret_outputs=list(recorded.additional_secret_outputs) or None,
        replace_on_changes=list(recorded.replace_on_changes) or None,
    )
    props = dict(recorded.inputs)
    if not recorded.custom:
        return pulumi.ComponentResource(recorded.type, recorded.name, props, opts)
    if recorded.type.startswith(_PROVIDER_PREFIX):
        package = recorded.type.removeprefix(_PROVIDER_PREFIX)
        return pulumi.ProviderResource(package, recorded.name, props, opts)
    return pulumi.CustomResource(recorded.type, recorded.name, props, opts)


def _provider_urn(reference: str) -> str:
    """A provider reference is `<urn>::<id>`; URNs contain `::` too, so split at the last one."""
    return reference.rsplit("::", 1)[0]


def dependency_order(resources: Sequence[RecordedResource]) -> list[RecordedResource]:
    """Parents, providers and dependencies first; URN order among the ready ones (stable)."""
    by_urn = {r.urn: r for r in resources if r.type != STACK_TYPE}
    prerequisites = {
        urn: {dep for dep in (r.parent, _provider_urn(r.provider) if r.provider else None, *r.depends_on) if dep in by_urn}
        for urn, r in by_urn.items()
    }
    dependents: dict[str, list[str]] = {urn: [] for urn in by_urn}
    for urn, needs in prerequisites.items():
        for need in needs:
            dependents[need].append(urn)
    ready = [urn for urn, needs in prerequisites.items() if not needs]
    heapq.heapify(ready)
    ordered = []
    while ready:
        urn = heapq.heappop(ready)
        ordered.append(by_urn[urn])
        for dependent in dependents[urn]:
            prerequisites[dependent].discard(urn)
            if not prerequisites[dependent]:
                heapq.heappush(ready, dependent)
    if len(ordered) != len(by_urn):
        raise ValueError("recorded resources have a dependency cycle")
    return ordered


def measure(
    label: str,
    program: Callable[[], None],
    *,
    project: str,
    stack: str,
    config: Mapping[str, str] = {},
    runs: int = 5,
) -> tuple[Measurement, PreviewResult]:
    """Time `runs` previews of `program` after one warm-up, then trace memory of one more.

    Garbage from earlier runs is collected first so no run pays for another's.
    """
    result = run_preview(program, project=project, stack=stack, config=config)
    durations = []
    for _ in range(runs):
        gc.collect()
        started = time.perf_counter()
        run_preview(program, project=project, stack=stack, config=config)
        durations.append(time.perf_counter() - started)
    gc.collect()
    tracemalloc.start()
    try:
        run_preview(program, project=project, stack=stack, config=config)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    registered = sum(1 for r in result.resources if r.type != STACK_TYPE)
    measurement = Measurement(label, registered, min(durations), statistics.median(durations), peak, runs)
    return measurement, result


def measure_floor(result: PreviewResult, *, config: Mapping[str, str] = {}, runs: int = 5) -> Measurement:
    """Measure the bare registration loop for the resources of `result`."""
    floor, _ = measure(
        "floor",
        floor_program(result.resources),
        project=result.project,
        stack=result.stack,
        config=config,
        runs=runs,
    )
    return floor


def _load_program(target: str) -> Callable[[], None]:
    """`package.module:function` or `path/to/file.py:function`."""
    module_name, _, function = target.partition(":")
    if module_name.endswith(".py"):
        path = Path(module_name).resolve()
        sys.path.insert(0, str(path.parent))
        spec = importlib.util.spec_from_file_location(path.stem, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        spec.loader.exec_module(module)
    else:
        module = importlib.import_module(module_name)
    return getattr(module, function or "run")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("program", help="module:function or file.py:function")
    parser.add_argument("--project", default="gpufleet")
    parser.add_argument("--stack", default="dev")
    parser.add_argument("--config", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)
    config = dict(item.split("=", 1) for item in args.config)

    program, result = measure(
        "program", _load_program(args.program), project=args.project, stack=args.stack, config=config, runs=args.runs
    )
    floor = measure_floor(result, config=config, runs=args.runs)
    print(program.line())
    print(floor.line())
    print(
        f"program/floor: time x{program.best_seconds / floor.best_seconds:.2f}, "
        f"peak memory x{program.peak_bytes / floor.peak_bytes:.2f}; "
        f"process max RSS {rusage.getrusage(rusage.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB"
    )


if __name__ == "__main__":
    main()
