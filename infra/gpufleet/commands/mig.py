"""``gpufleet mig``: profile tables, layout checks, mig-parted config checks, automatic plans.

Exit codes: 0 feasible / all entries fine, 1 infeasible, 2 usage error or unknown GPU.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from gpufleet.catalog import Catalog, load_catalog
from gpufleet.catalog.mig import MigGeometry
from gpufleet.commands.console import TABLE_ROWS, JsonFlag, err, new_table, out, print_json, shown_rows
from gpufleet.commands.handler import guarded
from gpufleet.commands.help import Command, Group
from gpufleet.mig.demand import load_demand
from gpufleet.mig.feasibility import LayoutCheck, check_geometry_layout
from gpufleet.mig.geometry import UnknownMigGpu, pci_ids, resolve_gpu
from gpufleet.mig.migparted import EntryVerdict, judge_mig_parted_config
from gpufleet.mig.planner import DemandError, GpuPacking, NodePacking, plan_demand, plan_node_pool
from gpufleet.values import MAX_ACCELERATORS_PER_NODE

if TYPE_CHECKING:
    from rich.table import Table

HELP = "MIG geometry, layout feasibility, mig-parted configs and automatic plans."
mig_app = typer.Typer(
    name="mig",
    cls=Group,
    help=f"{HELP}\n\nExample: gpufleet mig check H100-80GB 3g.40gb=1 1g.10gb=4",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
GpuArgument = Annotated[str, typer.Argument(help="Catalog name (H100-80GB), alias or PCI id (0x233010DE).")]
_SPEC = re.compile(r"(?P<profile>[^=@ \t\n]+)(?:=(?P<count>[0-9]+)|@(?P<starts>[0-9]+(?:,[0-9]+)*))\Z")


def _fail(message: str, code: int = 2) -> typer.Exit:
    err.print(f"gpufleet mig: {message}")
    return typer.Exit(code)


def _geometry(catalog: Catalog, gpu: str) -> MigGeometry:
    try:
        return resolve_gpu(catalog, gpu)
    except UnknownMigGpu as error:
        raise _fail(str(error)) from None


@mig_app.command(cls=Command)
@guarded
def profiles(gpu: GpuArgument, as_json: JsonFlag = False) -> None:
    """Table of a GPU's MIG profiles and their placements.

    Example: gpufleet mig profiles H100-80GB
    """
    catalog = load_catalog()
    geometry = _geometry(catalog, gpu)
    rows: list[dict[str, Any]] = [
        {
            "profile": profile.name,
            "profile_id": profile.profile_id,
            "compute_slices": profile.compute_slices,
            "memory_slices": profile.memory_slices,
            "max_count": profile.max_count,
            "placements": {"starts": list(profile.starts), "size": profile.size},
            "lgipp": profile.lgipp,
            "usable_gib": profile.usable_gib,
            "usable_gib_confidence": profile.usable_gib_confidence,
            "confidence": profile.confidence,
            "min_driver": profile.min_driver,
            "also_named": list(profile.also_named),
        }
        for profile in geometry.profiles.values()
    ]
    if as_json:
        print_json(
            {
                "gpu": geometry.gpu,
                "pci_device_ids": list(pci_ids(catalog, geometry)),
                "compute_slices": geometry.compute_slices,
                "memory_slices": geometry.memory_slices,
                "placement_units": geometry.placement_units,
                "max_instances": geometry.max_instances,
                "min_driver": geometry.min_driver,
                "profiles": rows,
            }
        )
        return
    out.print(
        f"{geometry.gpu}: {geometry.compute_slices} compute slices, {geometry.memory_slices} memory slices,"
        f" placement units 0-{geometry.placement_units - 1}, at most {geometry.max_instances} instances."
        f" PCI ids: {', '.join(pci_ids(catalog, geometry))}"
    )
    table = new_table("Profile", "ID", "Compute", "Memory", "Max", "Placements", "Usable GiB", "Confidence", "Notes")
    for row in rows:
        notes = []
        if row["min_driver"]:
            notes.append(f"driver {row['min_driver']}+")
        if row["also_named"]:
            notes.append("also seen as " + ", ".join(row["also_named"]))
        usable = f"{row['usable_gib']:g}" + (" (inferred)" if row["usable_gib_confidence"] == "inferred" else "")
        table.add_row(
            row["profile"],
            str(row["profile_id"]),
            str(row["compute_slices"]),
            str(row["memory_slices"]),
            str(row["max_count"]),
            row["lgipp"],
            usable,
            row["confidence"],
            "; ".join(notes),
        )
    out.print(table)


def _parse_specs(specs: list[str]) -> tuple[dict[str, int], dict[str, list[int]]]:
    layout: Counter[str] = Counter()
    pinned: dict[str, list[int]] = {}
    for spec in specs:
        match = _SPEC.match(spec.strip())
        if not match:
            raise _fail(f"{spec!r}: expected PROFILE=COUNT (3g.40gb=2) or PROFILE@START[,START] (3g.40gb@4).")
        profile = match["profile"]
        if match["count"] is not None:
            layout[profile] += int(match["count"])
        else:
            starts = [int(start) for start in match["starts"].split(",")]
            pinned.setdefault(profile, []).extend(starts)
            layout[profile] += len(starts)
    return dict(layout), pinned


def _parse_existing(values: list[str]) -> list[tuple[str, int]]:
    existing = []
    for value in values:
        profile, _, start = value.partition("@")
        if not profile or not start.isdigit():
            raise _fail(f"--existing {value!r}: expected PROFILE@START, e.g. 1g.10gb@0.")
        existing.append((profile, int(start)))
    return existing


def _check_json(check: LayoutCheck) -> dict[str, Any]:
    return {
        "gpu": check.gpu,
        "layout": check.layout,
        "feasible": check.feasible,
        "reasons": list(check.reasons),
        "placement": [{"profile": i.profile, "start": i.start, "size": i.size, "existing": i.existing} for i in check.placement],
        "creation_order": list(check.creation_order),
        "creation_profile_ids": list(check.creation_profile_ids),
        "notes": list(check.notes),
    }


@mig_app.command(cls=Command)
@guarded
def check(
    gpu: GpuArgument,
    specs: Annotated[list[str], typer.Argument(help="PROFILE=COUNT, or PROFILE@START[,START] to pin instances.")],
    existing: Annotated[
        list[str] | None, typer.Option("--existing", help="An instance already on the GPU, PROFILE@START; repeatable.")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Prove a layout fits a GPU: placement and creation order, or exactly why not.

    Example: gpufleet mig check H100-80GB 3g.40gb=1 1g.10gb=4
    """
    catalog = load_catalog()
    geometry = _geometry(catalog, gpu)
    layout, pinned = _parse_specs(specs)
    result = check_geometry_layout(geometry, layout, placements=pinned, existing=_parse_existing(existing or []), catalog=catalog)
    if as_json:
        print_json(_check_json(result))
        raise typer.Exit(0 if result.feasible else 1)
    summary = ", ".join(f"{count} x {name}" for name, count in result.layout.items()) or "nothing"
    if not result.feasible:
        out.print(f"INFEASIBLE on {result.gpu}: {summary}")
        for reason in result.reasons:
            out.print(f"  - {reason}")
        raise typer.Exit(1)
    out.print(f"FEASIBLE on {result.gpu}: {summary}")
    table = new_table("Profile", "Start", "Units", "Note")
    for instance in result.placement:
        units = f"{instance.start}-{instance.start + instance.size - 1}" if instance.size > 1 else str(instance.start)
        table.add_row(instance.profile, str(instance.start), units, "already on the GPU" if instance.existing else "")
    out.print(table)
    if result.creation_order:
        out.print("Creation order: " + ", ".join(result.creation_order))
        ids = ",".join(str(i) for i in result.creation_profile_ids)
        out.print(f"  nvidia-smi mig -cgi {ids} -C")
    for note in result.notes:
        out.print(f"Note: {note}")


def _verdict_json(verdict: EntryVerdict) -> dict[str, Any]:
    return {
        "config": verdict.config,
        "entry": verdict.entry,
        "devices": verdict.devices,
        "device_filter": list(verdict.device_filter),
        "gpu": verdict.gpu,
        "pci_ids": list(verdict.pci_ids),
        "status": verdict.status,
        "reasons": list(verdict.reasons),
        "placement": [f"{i.profile}@{i.start}" for i in verdict.check.placement] if verdict.check else [],
    }


@mig_app.command("check-config", cls=Command)
@guarded
def check_config(
    file: Annotated[Path, typer.Argument(help="A mig-parted config, or a GPU Operator ConfigMap holding one.")],
    as_json: JsonFlag = False,
) -> None:
    """Judge every entry of a mig-parted config on every catalog GPU it reaches.

    Example: gpufleet mig check-config out/prod/mig-parted-config.yaml
    """
    verdicts = judge_mig_parted_config(load_catalog(), file)
    failed = [verdict for verdict in verdicts if verdict.fails]
    if as_json:
        counts = Counter(verdict.status for verdict in verdicts)
        print_json({"file": str(file), "summary": dict(sorted(counts.items())), "entries": [_verdict_json(v) for v in verdicts]})
        raise typer.Exit(1 if failed else 0)
    table = new_table("Config", "Entry", "Devices", "GPU", "Status", "Why")
    for verdict in verdicts:
        gpu = verdict.gpu or ", ".join(verdict.pci_ids) or "-"
        table.add_row(verdict.config, str(verdict.entry), verdict.devices, gpu, verdict.status, " ".join(verdict.reasons))
    out.print(table)
    counts = Counter(verdict.status for verdict in verdicts)
    out.print(", ".join(f"{count} {status}" for status, count in sorted(counts.items())))
    raise typer.Exit(1 if failed else 0)


def _layout_text(layout: dict[str, int]) -> str:
    return " + ".join(f"{count} x {name}" for name, count in layout.items()) or "(MIG off)"


def _plan_json(plan: GpuPacking, pool: NodePacking | None) -> dict[str, Any]:
    data: dict[str, Any] = {
        "gpu": plan.gpu,
        "gpus_used": plan.gpus_used,
        "lower_bound": plan.lower_bound,
        "bounds": plan.bounds,
        "profile_choice": plan.profile_choice,
        "gpus": [
            {
                "index": gpu.index,
                "layout": gpu.layout,
                "instances": [
                    {"service": i.service, "replica": i.replica, "profile": i.profile, "start": i.start} for i in gpu.instances
                ],
            }
            for gpu in plan.gpus
        ],
    }
    if pool is not None:
        data["node_pool"] = {
            "nodes": pool.nodes,
            "gpus_per_node": pool.gpus_per_node,
            "devices": [
                {"devices": d.devices if d.devices == "all" else list(d.devices), "layout": d.layout} for d in pool.devices
            ],
        }
    return data


def _choices_table(choices: dict[str, str]) -> Table:
    """Each service's profile; past a screenful, how many services chose each profile."""
    if len(choices) <= TABLE_ROWS:
        table = new_table("Service", "Profile")
        for service, profile in choices.items():
            table.add_row(service, profile)
        return table
    by_profile: dict[str, list[str]] = {}
    for service, profile in choices.items():
        by_profile.setdefault(profile, []).append(service)
    table = new_table("Profile", "Services", "First services", caption="--json lists every service's profile")
    for profile, services in sorted(by_profile.items(), key=lambda item: (-len(item[1]), item[0])):
        table.add_row(profile, str(len(services)), ", ".join(services[:3]) + (", ..." if len(services) > 3 else ""))
    return table


@mig_app.command(cls=Command)
@guarded
def plan(
    gpu: Annotated[str, typer.Option("--gpu", help="Catalog name or PCI id of the GPU to plan for.")],
    demand: Annotated[
        Path, typer.Option("--demand", help="YAML/JSON list of services: name, memory_gib, compute_share, replicas.")
    ],
    gpus_per_node: Annotated[
        int | None,
        typer.Option(
            "--gpus-per-node", min=1, max=MAX_ACCELERATORS_PER_NODE, help="Also plan identical nodes with this many GPUs."
        ),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Choose a profile per replica and pack them onto the fewest GPUs.

    Example: gpufleet mig plan --gpu H100-80GB --demand services.yaml
    """
    geometry = _geometry(load_catalog(), gpu)
    services = load_demand(demand)
    try:
        result = plan_demand(geometry, services)
        pool = plan_node_pool(geometry, services, gpus_per_node) if gpus_per_node else None
    except DemandError as error:
        raise _fail(str(error), 1) from None
    if as_json:
        print_json(_plan_json(result, pool))
        return
    out.print(_choices_table(result.profile_choice))
    groups: list[tuple[int, int, dict[str, int]]] = []
    for gpu_layout in result.gpus:
        if groups and groups[-1][2] == gpu_layout.layout and groups[-1][1] == gpu_layout.index - 1:
            groups[-1] = (groups[-1][0], gpu_layout.index, gpu_layout.layout)
        else:
            groups.append((gpu_layout.index, gpu_layout.index, gpu_layout.layout))
    layouts = new_table("GPUs", "Count", "Layout")
    for first, last, layout in shown_rows(layouts, groups, "layout runs"):
        layouts.add_row(str(first) if first == last else f"{first}-{last}", str(last - first + 1), _layout_text(layout))
    out.print(layouts)
    bounds = ", ".join(f"{name.replace('_', ' ')} {value}" for name, value in result.bounds.items())
    out.print(f"GPUs used: {result.gpus_used} {result.gpu}; lower bound: {result.lower_bound} ({bounds})")
    if pool is not None:
        out.print(f"Node pool: {pool.nodes} identical node(s) of {pool.gpus_per_node} GPUs, each configured as:")
        for entry in pool.devices:
            devices = "all" if entry.devices == "all" else ", ".join(str(i) for i in entry.devices)
            out.print(f"  devices {devices}: {_layout_text(entry.layout) if entry.layout is not None else '(MIG off)'}")
