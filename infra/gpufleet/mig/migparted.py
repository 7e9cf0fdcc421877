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
from gpufleet.mig.feasibility import (
    DeviceLayout,
    FrozenModel,
    LayoutCheck,
    check_device_plan,
    check_geometry_layout,
    devices_text,
)
from gpufleet.mig.geometry import pci_ids, resolve_gpu, resolve_profile
from gpufleet.mig.parted_config import LABEL_VALUE, RESET_CONFIG, MigPartedConfig, MigPartedEntry, read_mig_parted_config

# A plan as the renderer takes it: the GPU (catalog name, alias or PCI id) and what each
# group of its indexes gets.
GpuPlan = tuple[str, Sequence[DeviceLayout]]


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
    return MigPartedConfig(version="v1", mig_configs=configs)


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


Status = Literal["ok", "infeasible", "not-judged"]


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
        return self.status == "infeasible"


def judge_mig_parted_config(catalog: Catalog, text_or_path: str | Path) -> list[EntryVerdict]:
    """Judge every entry of every config for each catalog GPU it can reach.

    The file is read into the typed config first (``read_mig_parted_config``): one that
    mig-parted would refuse raises ``MigConfigInvalid`` with every problem at its line. An
    entry with a ``device-filter`` reaches the GPUs it names; one without reaches every
    MIG-capable catalog GPU on which all its profiles exist (every one, if it has none).
    """
    config = read_mig_parted_config(text_or_path)
    return [
        verdict
        for name, entries in config.mig_configs.items()
        for index, entry in enumerate(entries)
        for verdict in _judge_entry(catalog, name, index, entry)
    ]


def _judge_entry(catalog: Catalog, config: str, index: int, entry: MigPartedEntry) -> list[EntryVerdict]:
    base: dict[str, Any] = {
        "config": config,
        "entry": index,
        "devices": devices_text(entry.devices),
        "device_filter": entry.device_filter,
    }
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
        target = catalog.mig.get(gpu)
        if not entry.mig_enabled:
            verdicts.append(EntryVerdict(**base, gpu=gpu, pci_ids=ids, status="ok"))
        elif target is None:
            verdicts.append(
                EntryVerdict(**base, gpu=gpu, pci_ids=ids, status="infeasible", reasons=(f"{gpu} does not support MIG.",))
            )
        else:
            check = check_geometry_layout(target, counts, catalog=catalog)
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
