"""The Pulumi stack config beside a project (``Pulumi.<stack>.yaml``): what ``check`` hands the
policy pack and where ``verify`` finds the Kubernetes context.

Pulumi writes it, but it is a file in the user's checkout like the stack: it goes through the
one reader (a FIFO is refused, never waited on; at most 1 MiB; UTF-8) and parser (aliases
cannot expand past its bounds), and only its ``config`` mapping is read, every value as the
file gives it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from gpufleet.documents import read_document
from gpufleet.findings import declare
from gpufleet.inputs import InputInvalid
from gpufleet.yamltree import MapNode, plain

NOT_A_STACK_CONFIG = declare(
    "GF-CFG-002",
    "error",
    "The Pulumi stack config beside a stack (Pulumi.<stack>.yaml) is not a mapping with a `config` mapping.",
    "Write it as `pulumi config set` does: config: {aws:region: us-east-1}.",
)


class _StackConfigFile(BaseModel):
    """Only ``config`` matters to gpufleet; Pulumi's other keys (secrets provider, salt) pass."""

    model_config = ConfigDict(extra="allow", frozen=True)
    config: dict[Annotated[str, Field(min_length=1, max_length=256)], Any] | None = None


def stack_config_path(stack: str, project_dir: Path) -> Path:
    return project_dir / f"Pulumi.{stack}.yaml"


def read_stack_config(stack: str, project_dir: Path) -> dict[str, Any]:
    """The ``config`` of ``Pulumi.<stack>.yaml`` in ``project_dir`` as plain values, empty when
    there is no such file; ``InputFileError`` or a located ``InputInvalid`` when it is not one."""
    path = stack_config_path(stack, project_dir)
    if not os.path.lexists(path):
        return {}
    document = read_document(
        path,
        "Pulumi stack config",
        {MapNode: _StackConfigFile},
        invalid=InputInvalid,
        root_rule=NOT_A_STACK_CONFIG,
        root_message="a Pulumi stack config must be a YAML mapping",
    )
    return {str(key): plain(value) for key, value in (document.value.config or {}).items()}
