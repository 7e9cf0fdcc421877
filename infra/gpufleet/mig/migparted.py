"""Write and judge mig-parted ``version: v1`` configs.

mig-parted itself only checks a config's format; a profile that does not fit is found
out on the node, which then sits in ``mig.config.state=pending`` or comes up without
devices. Here every entry is checked against the geometry of each GPU it can reach.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import Field
from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from gpufleet.catalog import load_catalog
from gpufleet.catalog.mig import MigGeometry, parse_profile_name
from gpufleet.mig.feasibility import (
    DeviceLayout,
    LayoutCheck,
    FrozenModel,
    check_device_plan,
    check_geometry_layout,
)
from gpufleet.mig.geometry import normalise_pci_id, pci_ids, resolve_gpu, resolve_profile

RESET_CONFIG = "all-disabled"
_LABEL_VALUE = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?$")
_ENTRY_KEYS = frozenset({"device-filter", "devices", "mig-enabled", "mig-devices"})


class MigConfigError(ValueError):
    """The file is not a mig-parted config at all, so no entry can be judged."""


class MigPlanError(ValueError):
    """A plan handed to the renderer does not fit its GPU."""


class MigPlanInput(FrozenModel):
    """One pool's MIG plan: the GPU model and what each group of its indexes gets."""

    gpu: str
    devices: tuple[DeviceLayout, ...] = Field(min_length=1)

    @classmethod
    def uniform(cls, gpu: str, layout: Mapping[str, int] | None) -> MigPlanInput:
        return cls(gpu=gpu, devices=(DeviceLayout(devices="all", layout=None if layout is None else dict(layout)),))


class RenderedMigConfig(FrozenModel):
    yaml_text: str
    label_values: dict[str, str]


def render_mig_parted_config(plans: Mapping[str, MigPlanInput]) -> RenderedMigConfig:
    """One mig-parted config holding every plan, plus the node label value of each.

    Every entry carries a ``device-filter`` with the GPU's PCI ids: profile names are only
    meaningful per GPU, so an entry must never reach a GPU it was not checked for.
    """
    problems: list[str] = []
    blocks: dict[str, list[str]] = {RESET_CONFIG: ["    - devices: all", "      mig-enabled: false"]}
    for name in sorted(plans):
        plan = plans[name]
        if not _LABEL_VALUE.match(name):
            problems.append(f"{name!r}: a plan name must be a valid label value (letters, digits, '.', '_', '-').")
            continue
        if name == RESET_CONFIG:
            problems.append(f"{name!r} is reserved for resetting a node.")
            continue
        geometry = resolve_gpu(plan.gpu)
        check = check_device_plan(geometry.gpu, plan.devices)
        if not check.feasible:
            problems.extend(f"{name} ({geometry.gpu}): {reason}" for reason in check.reasons)
            continue
        blocks[name] = [
            line for entry in plan.devices for line in _render_entry(geometry, entry)
        ]
    if problems:
        raise MigPlanError("\n".join(problems))
    lines = ["version: v1", "mig-configs:"]
    for config in sorted(blocks):
        lines.append(f"  {config}:")
        lines.extend(blocks[config])
    return RenderedMigConfig(
        yaml_text="\n".join(lines) + "\n",
        label_values={name: name for name in sorted(plans)},
    )


def _render_entry(geometry: MigGeometry, entry: DeviceLayout) -> list[str]:
    ids = ", ".join(f'"{pci}"' for pci in pci_ids(geometry))
    devices = "all" if entry.devices == "all" else "[" + ", ".join(str(i) for i in entry.devices) + "]"
    lines = [f"    - device-filter: [{ids}]", f"      devices: {devices}"]
    if entry.layout is None:
        return [*lines, "      mig-enabled: false"]
    lines.append("      mig-enabled: true")
    counts: dict[str, int] = {}
    for key, count in entry.layout.items():
        if count:
            canonical = _canonical_name(geometry, key)
            counts[canonical] = counts.get(canonical, 0) + count
    if not counts:
        return [*lines, "      mig-devices: {}"]
    lines.append("      mig-devices:")
    for key in sorted(counts, key=lambda key: _profile_sort_key(geometry, key)):
        lines.append(f'        "{key}": {counts[key]}')
    return lines


def _canonical_name(geometry: MigGeometry, key: str) -> str:
    """The spelling nvidia-smi prints (checked plans only reach here, so the key resolves)."""
    parsed = parse_profile_name(key)
    profile = resolve_profile(geometry, key)
    if parsed is None or profile is None:
        return key
    if parsed.compute_instance_slices is None:
        return profile.name
    return f"{parsed.compute_instance_slices}c.{profile.name}"


def _profile_sort_key(geometry: MigGeometry, key: str) -> tuple[int, int, str]:
    profile = resolve_profile(geometry, key)
    if profile is None:
        return (0, 0, key)
    return (-profile.compute_slices, -profile.memory_slices, key)


Status = Literal["ok", "infeasible", "invalid", "not-judged"]


class EntryVerdict(FrozenModel):
    """The judgement of one config entry on one GPU it can reach."""

    config: str
    entry: int
    devices: str
    device_filter: tuple[str, ...] = ()
    gpu: str | None = None
    pci_ids: tuple[str, ...] = ()
    status: Status
    reasons: tuple[str, ...] = ()
    check: LayoutCheck | None = None

    @property
    def fails(self) -> bool:
        return self.status in ("infeasible", "invalid")


def load_mig_parted_document(text_or_path: str | Path) -> dict[str, Any]:
    """Parse a mig-parted config, or the GPU Operator ConfigMap that wraps one."""
    raw = str(text_or_path)
    one_line = "\n" not in raw and len(raw) < 1024
    if isinstance(text_or_path, Path) or (one_line and (raw.endswith((".yaml", ".yml")) or Path(raw).is_file())):
        path = Path(text_or_path)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as error:
            raise MigConfigError(f"Cannot read {path}: {error.strerror or error}") from None
    else:
        text = str(text_or_path)
    document = _load_yaml(text)
    if isinstance(document, dict) and document.get("kind") == "ConfigMap":
        data = document.get("data") or {}
        embedded = [value for value in data.values() if isinstance(value, str) and "mig-configs" in value]
        if len(embedded) != 1:
            raise MigConfigError("The ConfigMap does not hold exactly one mig-parted config under data.")
        document = _load_yaml(embedded[0])
    if not isinstance(document, dict):
        raise MigConfigError("Not a mig-parted config: expected a mapping with 'version' and 'mig-configs'.")
    if document.get("version") != "v1":
        raise MigConfigError(f"Unsupported mig-parted config version {document.get('version')!r}; expected 'v1'.")
    unexpected = sorted(set(document) - {"version", "mig-configs"})
    if unexpected:
        raise MigConfigError(f"Unexpected top-level field(s) {unexpected} in a mig-parted config.")
    configs = document.get("mig-configs")
    if not isinstance(configs, dict) or not configs:
        raise MigConfigError("'mig-configs' must be a non-empty mapping of config name to entries.")
    return document


def _load_yaml(text: str) -> Any:
    try:
        return YAML(typ="safe", pure=True).load(text)
    except YAMLError as error:
        raise MigConfigError(f"Not valid YAML: {str(error).splitlines()[0]}") from None


def judge_mig_parted_config(text_or_path: str | Path) -> list[EntryVerdict]:
    """Judge every entry of every config for each catalog GPU it can reach.

    An entry with a ``device-filter`` reaches the GPUs it names; one without reaches every
    MIG-capable catalog GPU on which all its profiles exist (every one, if it has none).
    """
    document = load_mig_parted_document(text_or_path)
    verdicts: list[EntryVerdict] = []
    for config, entries in document["mig-configs"].items():
        config = str(config)
        if not isinstance(entries, list) or not entries:
            verdicts.append(
                EntryVerdict(config=config, entry=0, devices="?", status="invalid", reasons=("A config needs a non-empty list of entries.",))
            )
            continue
        for index, entry in enumerate(entries):
            verdicts.extend(_judge_entry(config, index, entry))
    return verdicts


def _judge_entry(config: str, index: int, entry: Any) -> list[EntryVerdict]:
    base: dict[str, Any] = {"config": config, "entry": index, "devices": "?"}
    problems, devices, filters, enabled, counts = _parse_entry(entry)
    base["devices"] = devices
    base["device_filter"] = filters
    if problems:
        return [EntryVerdict(**base, status="invalid", reasons=tuple(problems))]
    catalog = load_catalog()
    targets: dict[str, list[str]] = {}
    verdicts: list[EntryVerdict] = []
    if filters:
        for pci in filters:
            accelerator = catalog.accelerator(pci)
            if accelerator is None:
                verdicts.append(
                    EntryVerdict(**base, pci_ids=(pci,), status="not-judged", reasons=(f"{pci} is not a GPU in the catalog.",))
                )
            else:
                targets.setdefault(accelerator.name, []).append(pci)
    else:
        for gpu, geometry in sorted(catalog.mig.items()):
            if all(geometry.profile(_gpu_instance_name(key)) for key in counts):
                targets[gpu] = []
        if not targets:
            missing = ", ".join(sorted(counts))
            hint = _former_name_hint(counts)
            verdicts.append(
                EntryVerdict(
                    **base,
                    status="not-judged",
                    reasons=(f"No catalog GPU has all of {missing} under current profile names.{hint}",),
                )
            )
    for gpu in sorted(targets):
        ids = tuple(targets[gpu])
        geometry = catalog.mig.get(gpu)
        if not enabled:
            verdicts.append(EntryVerdict(**base, gpu=gpu, pci_ids=ids, status="ok"))
        elif geometry is None:
            verdicts.append(
                EntryVerdict(**base, gpu=gpu, pci_ids=ids, status="infeasible", reasons=(f"{gpu} does not support MIG.",))
            )
        else:
            check = check_geometry_layout(geometry, counts)
            verdicts.append(
                EntryVerdict(
                    **base,
                    gpu=gpu,
                    pci_ids=ids,
                    status="ok" if check.feasible else "infeasible",
                    reasons=check.reasons,
                    check=check,
                )
            )
    return verdicts


def _gpu_instance_name(key: str) -> str:
    parsed = parse_profile_name(key)
    return parsed.gpu_instance_name if parsed else key


def _former_name_hint(counts: Mapping[str, int]) -> str:
    hints = []
    for gpu, geometry in sorted(load_catalog().mig.items()):
        for profile in geometry.profiles.values():
            for key in counts:
                if _gpu_instance_name(key) in profile.also_named:
                    hints.append(f"{key} is an earlier name of {gpu} {profile.name}")
    return (" " + "; ".join(hints) + ".") if hints else ""


def _parse_entry(entry: Any) -> tuple[list[str], str, tuple[str, ...], bool, dict[str, int]]:
    """Check one entry the way mig-parted's v1 schema does and normalise its fields."""
    problems: list[str] = []
    if not isinstance(entry, dict):
        return ["An entry must be a mapping."], "?", (), False, {}
    unexpected = sorted(set(entry) - _ENTRY_KEYS)
    if unexpected:
        problems.append(f"Unexpected field(s) {unexpected}.")
    for required in ("devices", "mig-enabled"):
        if required not in entry:
            problems.append(f"Missing required field '{required}'.")
    devices_raw = entry.get("devices")
    if devices_raw == "all":
        devices = "all"
    elif isinstance(devices_raw, list) and all(isinstance(i, int) and not isinstance(i, bool) for i in devices_raw):
        devices = "[" + ", ".join(str(i) for i in devices_raw) + "]"
    else:
        devices = "?"
        if "devices" in entry:
            problems.append(f"'devices' must be 'all' or a list of GPU indexes, got {devices_raw!r}.")
    filter_raw = entry.get("device-filter")
    raw_ids = [filter_raw] if isinstance(filter_raw, str) else filter_raw or []
    filters: list[str] = []
    if not isinstance(raw_ids, list):
        problems.append(f"'device-filter' must be a PCI id or a list of them, got {filter_raw!r}.")
        raw_ids = []
    for raw in raw_ids:
        pci = normalise_pci_id(str(raw).split(":")[0]) if isinstance(raw, str) else None
        if pci is None:
            problems.append(f"'device-filter' value {raw!r} is not a PCI device id like 0x20B010DE.")
        elif pci not in filters:
            filters.append(pci)
    enabled = entry.get("mig-enabled")
    if "mig-enabled" in entry and not isinstance(enabled, bool):
        problems.append(f"'mig-enabled' must be true or false, got {enabled!r}.")
    devices_map = entry.get("mig-devices")
    counts: dict[str, int] = {}
    if enabled is True and devices_map is None:
        problems.append("'mig-devices' is required when 'mig-enabled' is true.")
    if devices_map is not None and not isinstance(devices_map, dict):
        problems.append("'mig-devices' must map profile names to counts.")
    elif devices_map:
        if enabled is False:
            problems.append("'mig-devices' lists instances while 'mig-enabled' is false.")
        for key, count in devices_map.items():
            if parse_profile_name(str(key)) is None:
                problems.append(f"{key!r} is not a MIG profile name.")
            elif isinstance(count, bool) or not isinstance(count, int) or count < 0:
                problems.append(f"Count for {key} must be a whole number >= 0, got {count!r}.")
            else:
                counts[str(key)] = count
    return problems, devices, tuple(filters), bool(enabled), counts

