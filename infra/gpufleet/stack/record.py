"""The subnet record committed beside a stack: where each pool's subnet was put, and the zones
the cluster's control plane was created in.

Pool subnets are sized to their pools, so no fixed slot or hash can keep one pool's block
from moving when another pool is added, grows or goes: the allocation has to remember what it
handed out. ``gpufleet preview`` writes the record (``stacks/prod.subnets.lock`` beside
``stacks/prod.yaml``), ``pulumi up`` only reads it. It is YAML read through the same reader
and parser as the stack, so a broken record is refused file:line:column like a stack is. It
is not named ``*.yaml`` so that ``stacks/*.yaml`` still lists exactly the stacks.
"""

from __future__ import annotations

from dataclasses import dataclass
from ipaddress import IPv4Network
from pathlib import Path
from typing import Annotated

from pydantic import BeforeValidator, Field

from gpufleet.documents import read_document
from gpufleet.findings import declare
from gpufleet.inputs import InputInvalid
from gpufleet.stack.models import Identifier, StackModel
from gpufleet.values import MAX_ENTRIES, MAX_POOLS, Name
from gpufleet.yamldump import dump_record
from gpufleet.yamltree import Locator, MapNode

RECORD_SUFFIX = ".subnets.lock"
NOT_A_RECORD = declare(
    "GF-SUBNET-001",
    "error",
    "The subnet record is not a YAML mapping.",
    "Delete the file and run `gpufleet preview` on the stack to write it again.",
)
HEADER = (
    "# The subnet record of {stack}, written by `gpufleet new` and `gpufleet preview`: commit it beside the stack.\n"
    "# Each pool keeps its subnet while it fits; pulumi up refuses a record that is stale for the stack.\n"
)


def _written_as_text(block: object) -> object:
    # ipaddress takes an int as an address; a subnet is only ever written out.
    if not isinstance(block, str):
        raise ValueError(f"a subnet is a CIDR block written as text, e.g. 10.0.128.0/22, got {type(block).__name__}")
    try:
        IPv4Network(block)
    except ValueError as error:  # ipaddress says why: host bits set, a prefix past 32, not an address
        raise ValueError(f"not a CIDR block: {str(error)[:100]}") from None
    return block


Cidr = Annotated[IPv4Network, BeforeValidator(_written_as_text)]


class RecordInvalid(InputInvalid):
    """The record has errors; ``findings`` holds all of them, located."""


class SubnetRecord(StackModel):
    control_plane_zones: tuple[Identifier, ...] = Field(default=(), max_length=MAX_ENTRIES)
    """The zones whose subnets the cluster was created with: EKS never takes another zone later."""
    pool_subnets: dict[Name, Cidr] = Field(default={}, max_length=MAX_POOLS)
    """Blocks apart from each other and inside the VPC's pool space: the subnet rules hold a
    record to that (``GF-SUBNET-002``, ``-003``), each problem at its own line."""


@dataclass(frozen=True)
class LoadedRecord:
    path: Path
    record: SubnetRecord
    locator: Locator


def record_path(stack_file: str | Path) -> Path:
    stack_file = Path(stack_file)
    return stack_file.with_name(stack_file.stem + RECORD_SUFFIX)


def load_record(stack_file: str | Path) -> LoadedRecord | None:
    """The record beside a stack, or None when the stack has none yet (a new stack)."""
    path = record_path(stack_file)
    if not path.exists() and not path.is_symlink():
        return None
    document = read_document(
        path,
        "subnet record",
        {MapNode: SubnetRecord},
        invalid=RecordInvalid,
        root_rule=NOT_A_RECORD,
        root_message="a subnet record must be a YAML mapping",
    )
    return LoadedRecord(path=document.path, record=document.value, locator=document.locator)


def record_text(record: SubnetRecord, stack_shown: str) -> str:
    """The same record always gives the same bytes: pools in name order, one line each."""
    document = {
        "control_plane_zones": list(record.control_plane_zones),
        "pool_subnets": {name: str(block) for name, block in sorted(record.pool_subnets.items())},
    }
    return HEADER.format(stack=stack_shown) + dump_record(document)
