"""Find a GPU's MIG geometry and resolve profile names against it, with useful errors.

The catalog is always the caller's: the engine reasons over the facts it is handed.
"""

from __future__ import annotations

import re

from gpufleet.catalog import Catalog
from gpufleet.catalog.mig import MigGeometry, MigProfile, parse_profile_name
from gpufleet.findings import closest_name

_PCI_PACKED = re.compile(r"(?:0x)?([0-9a-f]{8})\Z")
_PCI_LSPCI = re.compile(r"([0-9a-f]{4}):([0-9a-f]{4})\Z")


class UnknownMigGpu(ValueError):
    """The GPU is not in the catalog, or is there but cannot be partitioned with MIG."""


def normalise_pci_id(text: str) -> str | None:
    """``0x233010de``, ``233010DE`` or lspci's ``10de:2330`` -> ``0x233010DE``; None if not an id."""
    value = text.strip().lower()
    packed = _PCI_PACKED.match(value)
    if packed:
        return "0x" + packed.group(1).upper()
    lspci = _PCI_LSPCI.match(value)
    if lspci:
        vendor, device = lspci.groups()
        return "0x" + (device + vendor).upper()
    return None


def resolve_gpu(catalog: Catalog, name_or_pci: str) -> MigGeometry:
    """The geometry for a catalog name, alias or PCI device id."""
    accelerator = catalog.accelerator(normalise_pci_id(name_or_pci) or name_or_pci)
    supported = ", ".join(sorted(catalog.mig))
    if accelerator is None:
        hint = closest_name(name_or_pci.strip().upper(), catalog.accelerators)
        did_you_mean = f" Did you mean {hint}?" if hint else ""
        raise UnknownMigGpu(
            f"Unknown GPU {name_or_pci!r}: not a catalog name, alias or PCI device id.{did_you_mean}"
            f" MIG-capable GPUs: {supported}."
        )
    geometry = catalog.mig.get(accelerator.name)
    if geometry is None:
        raise UnknownMigGpu(f"{accelerator.name} is in the catalog but does not support MIG. MIG-capable GPUs: {supported}.")
    return geometry


def pci_ids(catalog: Catalog, geometry: MigGeometry) -> tuple[str, ...]:
    """The PCI device ids that identify the geometry's GPU, as mig-parted's device-filter takes them."""
    return tuple(sorted(catalog.accelerators[geometry.gpu].pci_device_ids))


def resolve_profile(geometry: MigGeometry, name: str) -> MigProfile | None:
    """The GPU-instance profile a layout key creates; ``2c.3g.20gb`` resolves to ``3g.20gb``."""
    parsed = parse_profile_name(name)
    if parsed is None:
        return None
    return geometry.profile(parsed.gpu_instance_name)


def unknown_profile_reason(geometry: MigGeometry, name: str, catalog: Catalog | None = None) -> str:
    """Say why ``name`` is not a profile of this GPU and what would be; with the catalog, whose it is."""
    valid = ", ".join(geometry.profiles)
    parsed = parse_profile_name(name)
    if parsed is None:
        return (
            f"{name!r} is not a MIG profile name (expected e.g. 1g.10gb, 3g.40gb, 1g.10gb+me)."
            f" Profiles of {geometry.gpu}: {valid}."
        )
    wanted = parsed.gpu_instance_name
    for profile in geometry.profiles.values():
        if wanted in profile.also_named:
            return (
                f"{name} is not a profile of {geometry.gpu} under current names: it is what earlier"
                f" boards or drivers called {profile.name}. Profiles of {geometry.gpu}: {valid}."
            )
    others = catalog.mig if catalog is not None else {}
    elsewhere = sorted(gpu for gpu, other in others.items() if other.profile(wanted))
    foreign = f" It is a profile of {', '.join(elsewhere)}." if elsewhere else ""
    return f"{name} does not exist on {geometry.gpu}.{foreign} Profiles of {geometry.gpu}: {valid}."
