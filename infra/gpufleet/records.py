"""The stack's subnet record beside it: what ``gpufleet preview`` and ``gpufleet new`` write so
that ``pulumi up`` finds a record that is current for the stack."""

from __future__ import annotations

from pathlib import Path

from gpufleet.inputs import display_path
from gpufleet.model.plan import FleetPlan
from gpufleet.outputs import write_file
from gpufleet.stack.loader import LoadedStack
from gpufleet.stack.record import record_path, record_text


def record_update(loaded: LoadedStack, plan: FleetPlan) -> tuple[dict[str, object] | None, dict[Path, str]]:
    """What the preview reports about the record (None off AWS), and the record file to write
    with its outputs: none when the plan leaves the record as it is."""
    if plan.network is None:
        return None, {}
    recorded = loaded.record.record if loaded.record else None
    changed = recorded != plan.network.record
    files = {record_path(loaded.path): record_text(plan.network.record, loaded.path.name)} if changed else {}
    return {"file": display_path(record_path(loaded.path)), "written": changed}, files


def refresh_record(loaded: LoadedStack, plan: FleetPlan) -> dict[str, object] | None:
    """Write the record alone when the plan changes it (the same plan writes nothing)."""
    report, files = record_update(loaded, plan)
    for path, text in files.items():
        write_file(path, text)
    return report
