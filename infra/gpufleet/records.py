"""Write a stack's subnet record beside it: what ``gpufleet preview`` and ``gpufleet new`` do
so that ``pulumi up`` finds a record that is current for the stack."""

from __future__ import annotations

from pathlib import Path

from gpufleet.inputs import display_path
from gpufleet.model.plan import FleetPlan
from gpufleet.outputs import write_file
from gpufleet.stack.loader import LoadedStack
from gpufleet.stack.record import SubnetRecord, record_path, record_text


def refresh_record(loaded: LoadedStack, plan: FleetPlan) -> dict[str, object] | None:
    """Write the record when the plan changes it (the same plan writes nothing); None off AWS."""
    if plan.network is None:
        return None
    recorded = loaded.record.record if loaded.record else None
    written = recorded != plan.network.record
    if written:
        write_record(loaded.path, plan.network.record)
    return {"file": display_path(record_path(loaded.path)), "written": written}


def write_record(stack_file: Path, record: SubnetRecord) -> Path:
    return write_file(record_path(stack_file), record_text(record, stack_file.name))
