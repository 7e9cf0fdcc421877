"""Write and judge mig-parted ``version: v1`` configs.

mig-parted itself only checks a config's format; a profile that does not fit is found
out on the node, which then sits in ``mig.config.state=pending`` or comes up without
devices. Here every entry is checked against the geometry of each GPU it can reach.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

from gpufleet.catalog import Catalog
from gpufleet.catalog.mig import MigGeometry, parse_profile_name
from gpufleet.documents import excerpt
from gpufleet.inputs import InputFileError, InputInvalid, read_input
from gpufleet.mig.feasibility import (
    DeviceLayout,
    FrozenModel,
    LayoutCheck,
    check_device_plan,
    check_geometry_layout,
    devices_text,
)
from gpufleet.mig.geometry import normalise_pci_id, pci_ids, resolve_gpu, resolve_profile
from gpufleet.mig.parted_config import LABEL_VALUE, RESET_CONFIG, MigPartedConfig, MigPartedEntry
from gpufleet.yamltree import parse_yaml

_ENTRY_KEYS = frozenset({"device-filter", "devices", "mig-enabled", "mig-devices"})

# A plan as the renderer takes it: the GPU (catalog name, alias or PCI id) and what each
# group of its indexes gets.
GpuPlan = tuple[str, Sequence[DeviceLayout]]


class MigConfigError(ValueError):
    """The file is not a mig-parted config at all, so no entry can be judged."""


class MigPlanError(ValueError):
    """A plan handed to the renderer does not fit its GPU."""


def render_mig_parted_config(catalog: Catalog, plans: Mapping[str, GpuPlan]) -> MigPartedConfig:
    """One mig-parted config holding every plan under its name, plus ``all-disabled``.

    Every entry carries a ``device-filter`` with the GPU's PCI ids: profile names are only
    meaningful per GPU, so an entry must never reach a GPU it was not checked for.
    """
    problems: list[str] = []
    configs: dict[str, tuple[MigPartedEntry, ...]] = {RESET_CONFIG: (MigPartedEntry(devices="all", mig_enabled=False),)}
    for name in sorted(plans):
        gpu, devices = plans[name]
        if not LABEL_VALUE.fullmatch(name):
            problems.append(f"{name!r}: a plan name must be a valid label value (letters, digits, '.', '_', '-').")
            continue
        if name == RESET_CONFIG:
            problems.append(f"{name!r} is reserved for resetting a node.")
            continue
        geometry = resolve_gpu(catalog, gpu)
        check = check_device_plan(catalog, geometry.gpu, devices)
        if not check.feasible:
            problems.extend(f"{name} ({geometry.gpu}): {reason}" for reason in check.reasons)
            continue
        device_filter = pci_ids(catalog, geometry)
        configs[name] = tuple(_entry(geometry, device_filter, entry) for entry in devices)
    if problems:
        raise MigPlanError("\n".join(problems))
    return MigPartedConfig(mig_configs=configs)


def _entry(geometry: MigGeometry, device_filter: tuple[str, ...], entry: DeviceLayout) -> MigPartedEntry:
    if entry.layout is None:
        return MigPartedEntry(device_filter=device_filter, devices=entry.devices, mig_enabled=False)
    counts: dict[str, int] = {}
    for key, count in entry.layout.items():
        canonical = _canonical_name(geometry, key)
        counts[canonical] = counts.get(canonical, 0) + count
    ordered = {key: counts[key] for key in sorted(counts, key=lambda key: _profile_sort_key(geometry, key))}
    return MigPartedEntry(device_filter=device_filter, devices=entry.devices, mig_enabled=True, mig_devices=ordered)


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
        try:
            source = read_input(Path(text_or_path), "mig-parted config")
        except InputFileError as error:
            raise MigConfigError(f"Cannot read it: {error.reason}") from None
        text, shown = source.text, source.shown
    else:
        text, shown = str(text_or_path), "<config>"
    document = _load_yaml(text, shown)
    if isinstance(document, dict) and document.get("kind") == "ConfigMap":
        data = document.get("data") or {}
        embedded = [value for value in data.values() if isinstance(value, str) and "mig-configs" in value]
        if len(embedded) != 1:
            raise MigConfigError("The ConfigMap does not hold exactly one mig-parted config under data.")
        document = _load_yaml(embedded[0], f"{shown} (its data)")
    if not isinstance(document, dict):
        raise MigConfigError("Not a mig-parted config: expected a mapping with 'version' and 'mig-configs'.")
    if document.get("version") != "v1":
        raise MigConfigError(f"Unsupported mig-parted config version {excerpt(document.get('version'))}; expected 'v1'.")
    unexpected = sorted(str(key) for key in set(document) - {"version", "mig-configs"})
    if unexpected:
        raise MigConfigError(
            f"Unexpected top-level field(s) [{', '.join(excerpt(key) for key in unexpected[:5])}] in a mig-parted config."
        )
    configs = document.get("mig-configs")
    if not isinstance(configs, dict) or not configs:
        raise MigConfigError("'mig-configs' must be a non-empty mapping of config name to entries.")
    return document


def _load_yaml(text: str, shown: str) -> Any:
    """The same parser and limits as stack files: no alias bombs, no runaway nesting."""
    try:
        return parse_yaml(text, shown)
    except InputInvalid as invalid:
        raise MigConfigError(_not_valid(invalid)) from None


def _not_valid(invalid: InputInvalid) -> str:
    first = invalid.findings[0]
    return f"Not valid YAML at line {first.line}, column {first.column}: {first.message}"


def judge_mig_parted_config(catalog: Catalog, text_or_path: str | Path) -> list[EntryVerdict]:
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
                EntryVerdict(
                    config=config,
                    entry=0,
                    devices="?",
                    status="invalid",
                    reasons=("A config needs a non-empty list of entries.",),
                )
            )
            continue
        for index, entry in enumerate(entries):
            verdicts.extend(_judge_entry(catalog, config, index, entry))
    return verdicts


def _judge_entry(catalog: Catalog, config: str, index: int, raw: Any) -> list[EntryVerdict]:
    problems, devices, filters, entry = _parse_entry(raw)
    base: dict[str, Any] = {"config": config, "entry": index, "devices": devices, "device_filter": filters}
    if entry is None:
        return [EntryVerdict(**base, status="invalid", reasons=tuple(problems))]
    counts = entry.mig_devices or {}
    targets: dict[str, list[str]] = {}
    verdicts: list[EntryVerdict] = []
    if entry.device_filter:
        for pci in entry.device_filter:
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
            hint = _former_name_hint(catalog, counts)
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
        if not entry.mig_enabled:
            verdicts.append(EntryVerdict(**base, gpu=gpu, pci_ids=ids, status="ok"))
        elif geometry is None:
            verdicts.append(
                EntryVerdict(**base, gpu=gpu, pci_ids=ids, status="infeasible", reasons=(f"{gpu} does not support MIG.",))
            )
        else:
            check = check_geometry_layout(geometry, counts, catalog=catalog)
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


def _former_name_hint(catalog: Catalog, counts: Mapping[str, int]) -> str:
    hints = []
    for gpu, geometry in sorted(catalog.mig.items()):
        for profile in geometry.profiles.values():
            for key in counts:
                if _gpu_instance_name(key) in profile.also_named:
                    hints.append(f"{key} is an earlier name of {gpu} {profile.name}")
    return (" " + "; ".join(hints) + ".") if hints else ""


def _parse_entry(raw: Any) -> tuple[list[str], str, tuple[str, ...], MigPartedEntry | None]:
    """Check one entry the way mig-parted's v1 schema does, saying every problem.

    Returns the problems, the devices and filters as far as they could be read (for the
    verdict), and the typed entry when there is no problem.
    """
    problems: list[str] = []
    if not isinstance(raw, dict):
        return ["An entry must be a mapping."], "?", (), None
    unexpected = sorted(set(raw) - _ENTRY_KEYS)
    if unexpected:
        problems.append(f"Unexpected field(s) {unexpected}.")
    for required in ("devices", "mig-enabled"):
        if required not in raw:
            problems.append(f"Missing required field '{required}'.")
    devices_raw = raw.get("devices")
    devices: tuple[int, ...] | Literal["all"] | None = None
    if devices_raw == "all":
        devices = "all"
    elif isinstance(devices_raw, list) and all(isinstance(i, int) and not isinstance(i, bool) and i >= 0 for i in devices_raw):
        devices = tuple(devices_raw)
    elif "devices" in raw:
        problems.append(f"'devices' must be 'all' or a list of GPU indexes, got {devices_raw!r}.")
    filter_raw = raw.get("device-filter")
    raw_ids = [filter_raw] if isinstance(filter_raw, str) else filter_raw or []
    filters: list[str] = []
    if not isinstance(raw_ids, list):
        problems.append(f"'device-filter' must be a PCI id or a list of them, got {filter_raw!r}.")
        raw_ids = []
    for pci_raw in raw_ids:
        pci = normalise_pci_id(str(pci_raw).split(":")[0]) if isinstance(pci_raw, str) else None
        if pci is None:
            problems.append(f"'device-filter' value {pci_raw!r} is not a PCI device id like 0x20B010DE.")
        elif pci not in filters:
            filters.append(pci)
    enabled = raw.get("mig-enabled")
    if "mig-enabled" in raw and not isinstance(enabled, bool):
        problems.append(f"'mig-enabled' must be true or false, got {enabled!r}.")
    devices_map = raw.get("mig-devices")
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
    shown = "?" if devices is None else devices_text(devices)
    if problems or devices is None or not isinstance(enabled, bool):
        return problems, shown, tuple(filters), None
    entry = MigPartedEntry(
        device_filter=tuple(filters),
        devices=devices,
        mig_enabled=enabled,
        mig_devices=None if devices_map is None else counts,
    )
    return problems, shown, entry.device_filter, entry
