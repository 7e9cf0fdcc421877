"""mig-parted's ``version: v1`` config as one typed model: what gpufleet writes and what it reads.

The fields and rules are mig-parted's own (``api/spec/v1/spec.go``, the ``Spec`` and
``MigConfigSpec`` unmarshalling, and ``pkg/types/mig_config.go``'s ``AssertValidFormat``, read at
NVIDIA/mig-parted bd7160f43f16462eeb21e1eda5e67b5b6b03fd7d): ``version`` is required and must be
``v1``; ``mig-configs`` maps each config name to a non-empty list of entries and must not be
empty; an entry requires ``devices`` (``all`` or GPU indexes) and ``mig-enabled``, may have a
``device-filter`` (one PCI id or a list of them), and has ``mig-devices`` (profile -> count)
when MIG is on, none when it is off, counts at least 0 and not all 0; no other field anywhere.
Config names are also node label values (``nvidia.com/mig.config`` selects them).

The renderer builds this object and ``to_yaml`` writes it, the same bytes every time, to the
preview's ``mig-parted-config.yaml`` and the MIG manager's ConfigMap. ``read_mig_parted_config``
reads a file (or the GPU Operator ConfigMap holding one) into the same object, in the file's
spelling only (``mig-enabled``, never ``mig_enabled``), with every problem at its line.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainValidator,
    TypeAdapter,
    ValidationError,
    model_validator,
)

from gpufleet.catalog.mig import parse_profile_name
from gpufleet.documents import excerpt, findings_from_validation
from gpufleet.findings import Finding, Location, declare
from gpufleet.inputs import InputInvalid, read_input
from gpufleet.mig.feasibility import Devices
from gpufleet.mig.geometry import normalise_pci_id
from gpufleet.values import MAX_ACCELERATORS_PER_NODE
from gpufleet.yamldump import Flow, Quoted, dump_document
from gpufleet.yamltree import Locator, MapNode, parse_yaml

RESET_CONFIG = "all-disabled"
LABEL_VALUE = re.compile(r"[A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?\Z")

NOT_A_CONFIG = declare(
    "GF-MIGCFG-001",
    "error",
    "A file that is not a mig-parted config, nor a GPU Operator ConfigMap holding exactly one.",
    "Give the mig-parted file itself (version: v1, mig-configs: ...) or the ConfigMap with it under data.",
)


class MigConfigInvalid(InputInvalid):
    """A mig-parted config mig-parted itself would refuse: a usage error of the MIG commands, exit 2."""

    exit_code = 2


def _config_name(name: str) -> str:
    if not LABEL_VALUE.match(name):
        raise ValueError(
            f"config name {excerpt(name)} cannot be the nvidia.com/mig.config label value that selects it "
            "(letters, digits, '.', '_', '-'; at most 63, starting and ending with a letter or digit)"
        )
    return name


def _profile_name(name: str) -> str:
    if parse_profile_name(name) is None:
        raise ValueError(f"{excerpt(name)} is not a MIG profile name like 1g.10gb, 1g.10gb+me or 2c.3g.40gb")
    return name


def _pci_id(text: str) -> str:
    """The device id before any ``:subsystem`` part, as ``0x20B010DE``: the catalog knows GPUs by it."""
    normalised = normalise_pci_id(text.split(":")[0])
    if normalised is None:
        raise ValueError(f"{excerpt(text)} is not a PCI device id like 0x20B010DE")
    return normalised


def _devices(value: Any) -> Devices:
    """``all`` or GPU indexes, said in one message (a union would report each of its branches)."""
    if value == "all":
        return "all"
    if (
        isinstance(value, list | tuple)
        and len(value) <= MAX_ACCELERATORS_PER_NODE
        and all(type(index) is int and 0 <= index < MAX_ACCELERATORS_PER_NODE for index in value)
    ):
        return tuple(value)
    raise ValueError(f"must be 'all' or a list of GPU indexes from 0 to {MAX_ACCELERATORS_PER_NODE - 1}, got {excerpt(value)}")


def _one_or_list(value: Any) -> Any:
    return [value] if isinstance(value, str) else value


def _distinct(ids: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(ids))


def _has_entries(entries: tuple[MigPartedEntry, ...]) -> tuple[MigPartedEntry, ...]:
    if not entries:
        raise ValueError("a config needs at least one entry")
    return entries


def _has_configs(configs: dict[str, tuple[MigPartedEntry, ...]]) -> dict[str, tuple[MigPartedEntry, ...]]:
    if not configs:
        raise ValueError("at least one config is required")
    return configs


ConfigName = Annotated[str, AfterValidator(_config_name)]
EntryDevices = Annotated[Devices, PlainValidator(_devices)]
ProfileKey = Annotated[str, Field(max_length=64), AfterValidator(_profile_name)]
ProfileCount = Annotated[int, Field(strict=True, ge=0)]
PciId = Annotated[str, Field(max_length=64), AfterValidator(_pci_id)]
DeviceFilter = Annotated[tuple[PciId, ...], BeforeValidator(_one_or_list), Field(max_length=64), AfterValidator(_distinct)]


class PartedModel(BaseModel):
    """Field names as mig-parted spells them (``mig-enabled``); Python code may use its own names."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_by_name=True, validate_by_alias=True)


class MigPartedEntry(PartedModel):
    """One entry of a config: what to do to the GPUs it selects, in the order given."""

    device_filter: DeviceFilter = Field(default=(), alias="device-filter")
    devices: EntryDevices
    mig_enabled: Annotated[bool, Field(strict=True)] = Field(alias="mig-enabled")
    mig_devices: dict[ProfileKey, ProfileCount] | None = Field(default=None, alias="mig-devices")

    @model_validator(mode="after")
    def _devices_match_the_mode(self) -> MigPartedEntry:
        if self.mig_devices and not any(self.mig_devices.values()):
            raise ValueError("every count in 'mig-devices' is 0; write 'mig-devices: {}' for MIG on without instances")
        if self.mig_enabled and self.mig_devices is None:
            raise ValueError("'mig-devices' is required when 'mig-enabled' is true")
        if not self.mig_enabled and self.mig_devices:
            raise ValueError("'mig-devices' lists instances while 'mig-enabled' is false")
        return self

    def document(self) -> dict[str, Any]:
        """The entry as mig-parted's own examples write it: PCI ids and profile names quoted."""
        document: dict[str, Any] = {}
        if self.device_filter:
            document["device-filter"] = Flow(Quoted(pci) for pci in self.device_filter)
        document["devices"] = "all" if self.devices == "all" else Flow(self.devices)
        document["mig-enabled"] = self.mig_enabled
        if self.mig_devices is not None:
            document["mig-devices"] = {Quoted(profile): count for profile, count in self.mig_devices.items()}
        return document


Entries = Annotated[tuple[MigPartedEntry, ...], AfterValidator(_has_entries)]


class MigPartedConfig(PartedModel):
    """Named configs, each a non-empty list of entries; a node's label picks one by name."""

    version: Literal["v1"]
    mig_configs: Annotated[dict[ConfigName, Entries], AfterValidator(_has_configs)] = Field(alias="mig-configs")

    def to_yaml(self) -> str:
        """The config as mig-parted reads it: configs by name, entries and profiles in their order."""
        configs = {name: [entry.document() for entry in self.mig_configs[name]] for name in sorted(self.mig_configs)}
        return dump_document({"version": self.version, "mig-configs": configs})


@cache
def _adapter() -> TypeAdapter[MigPartedConfig]:
    return TypeAdapter(MigPartedConfig)


def read_mig_parted_config(text_or_path: str | Path) -> MigPartedConfig:
    """A mig-parted config from a file (a ``Path``, or a string naming a ``.yaml`` file) or from its text.

    The file may be the GPU Operator's ConfigMap holding the config under ``data``; its problems
    are then located at their lines in the ConfigMap file. Problems raise ``MigConfigInvalid``.
    """
    raw = str(text_or_path)
    one_line = "\n" not in raw and len(raw) < 1024
    if isinstance(text_or_path, Path) or (one_line and (raw.endswith((".yaml", ".yml")) or Path(raw).is_file())):
        source = read_input(Path(text_or_path), "mig-parted config")
        text, shown = source.text, source.shown
    else:
        text, shown = raw, "<config>"
    root = parse_yaml(text, shown, MigConfigInvalid)
    if isinstance(root, MapNode) and root.get("kind") == "ConfigMap":
        return _from_config_map(root, text, shown)
    return _validated(root, shown)


def _validated(root: Any, shown: str) -> MigPartedConfig:
    if not isinstance(root, MapNode):
        message = "not a mig-parted config: expected a mapping with 'version' and 'mig-configs'"
        raise MigConfigInvalid([NOT_A_CONFIG.finding((), message).located(Location(shown, 1, 1))])
    try:
        return _adapter().validate_python(root, by_alias=True, by_name=False)
    except ValidationError as exc:
        locator = Locator(shown, root)
        raise MigConfigInvalid(locator.locate(findings_from_validation(exc, root, MigPartedConfig, locator))) from None


def _from_config_map(root: MapNode, text: str, shown: str) -> MigPartedConfig:
    data = root.get("data")
    held = (
        [key for key, value in data.items() if isinstance(value, str) and "mig-configs" in value]
        if isinstance(data, MapNode)
        else []
    )
    if not isinstance(data, MapNode) or len(held) != 1:
        message = "the ConfigMap does not hold exactly one mig-parted config under data"
        raise MigConfigInvalid(Locator(shown, root).locate([NOT_A_CONFIG.finding(("data",), message)]))
    key = held[0]
    embedded = data[key]
    block = _literal_block(text, data.value_at[key][0] + 1, embedded)
    if block is None:  # a quoted string: positions count from the start of the embedded text
        return _validated(parse_yaml(embedded, f"{shown} data.{key}", MigConfigInvalid), f"{shown} data.{key}")
    try:
        return _validated(parse_yaml(embedded, shown, MigConfigInvalid), shown)
    except MigConfigInvalid as invalid:
        lines, columns = block
        raise MigConfigInvalid([_shifted(finding, lines, columns) for finding in invalid.findings]) from None


def _literal_block(text: str, first_line: int, embedded: str) -> tuple[int, int] | None:
    """Lines and columns to add to a position in ``embedded`` to find it in the ConfigMap file.

    A literal block (``config.yaml: |``) holds the text verbatim and indented, from the line after
    its key (``first_line``, counted from 0); None when the file holds it otherwise.
    """
    lines = text.splitlines()[first_line:]
    wanted = embedded.splitlines()
    indent: int | None = None
    if len(lines) < len(wanted):
        return None
    for got, want in zip(lines, wanted, strict=False):
        if not want.strip():
            if got.strip():
                return None
            continue
        if indent is None:
            indent = len(got) - len(want)
        if indent < 0 or got != " " * indent + want:
            return None
    return None if indent is None else (first_line, indent)


def _shifted(finding: Finding, lines: int, columns: int) -> Finding:
    where = finding.location
    if where is None:
        return finding
    return finding.located(Location(where.file, where.line + lines, where.column + columns))
