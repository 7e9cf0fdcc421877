"""mig-parted's ``version: v1`` config as a typed object, dumped the same way every time.

The fields and their rules follow mig-parted's own ``api/spec/v1`` types
(https://github.com/NVIDIA/mig-parted/blob/main/api/spec/v1/spec.go): ``devices`` and
``mig-enabled`` are required, ``device-filter`` is one PCI id or a list of them,
``mig-devices`` is required when MIG is on and must be empty when it is off, and no other
field is allowed. Built once, the same object's text goes to the preview's
``mig-parted-config.yaml`` and to the MIG manager's ConfigMap.
"""

from __future__ import annotations

import json
import re
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from gpufleet.mig.feasibility import Devices, devices_text

RESET_CONFIG = "all-disabled"
LABEL_VALUE_PATTERN = r"^[A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?$"  # pydantic's engine: $ is the end of the text
LABEL_VALUE = re.compile(LABEL_VALUE_PATTERN.removesuffix("$") + r"\Z")

# Every config name is what a node's ``nvidia.com/mig.config`` label says to select it.
ConfigName = Annotated[str, StringConstraints(pattern=LABEL_VALUE_PATTERN)]
ProfileCount = Annotated[int, Field(strict=True, ge=0)]


class PartedModel(BaseModel):
    """Field names as mig-parted spells them (``mig-enabled``); Python names work too."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class MigPartedEntry(PartedModel):
    """One entry of a config: what to do to the GPUs it selects, in the order given."""

    device_filter: tuple[str, ...] = Field(default=(), alias="device-filter")
    devices: Devices
    mig_enabled: bool = Field(alias="mig-enabled")
    mig_devices: dict[str, ProfileCount] | None = Field(default=None, alias="mig-devices")

    @model_validator(mode="after")
    def _devices_match_the_mode(self) -> MigPartedEntry:
        if self.mig_enabled and self.mig_devices is None:
            raise ValueError("'mig-devices' is required when 'mig-enabled' is true")
        if not self.mig_enabled and self.mig_devices:
            raise ValueError("'mig-devices' lists instances while 'mig-enabled' is false")
        return self

    def yaml_lines(self) -> list[str]:
        fields = []
        if self.device_filter:
            fields.append("device-filter: [" + ", ".join(json.dumps(pci) for pci in self.device_filter) + "]")
        fields.append(f"devices: {devices_text(self.devices)}")
        fields.append(f"mig-enabled: {'true' if self.mig_enabled else 'false'}")
        if self.mig_enabled and not self.mig_devices:
            fields.append("mig-devices: {}")
        elif self.mig_enabled and self.mig_devices:
            fields.append("mig-devices:")
            fields.extend(f"  {json.dumps(profile)}: {count}" for profile, count in self.mig_devices.items())
        return ["- " + fields[0], *("  " + field for field in fields[1:])]


class MigPartedConfig(PartedModel):
    """Named configs, each a non-empty list of entries; a node's label picks one by name."""

    version: Literal["v1"] = "v1"
    mig_configs: dict[ConfigName, tuple[MigPartedEntry, ...]] = Field(alias="mig-configs", min_length=1)

    @model_validator(mode="after")
    def _every_config_has_entries(self) -> MigPartedConfig:
        empty = sorted(name for name, entries in self.mig_configs.items() if not entries)
        if empty:
            raise ValueError(f"config(s) {', '.join(empty)} need at least one entry")
        return self

    @property
    def label_values(self) -> dict[str, str]:
        """The ``nvidia.com/mig.config`` value of each config a plan made (the reset one aside)."""
        return {name: name for name in sorted(self.mig_configs) if name != RESET_CONFIG}

    def to_yaml(self) -> str:
        """The config as mig-parted reads it: configs by name, entries and profiles in their order."""
        lines = [f"version: {self.version}", "mig-configs:"]
        for name in sorted(self.mig_configs):
            lines.append(f"  {name}:")
            lines.extend("    " + line for entry in self.mig_configs[name] for line in entry.yaml_lines())
        return "\n".join(lines) + "\n"
