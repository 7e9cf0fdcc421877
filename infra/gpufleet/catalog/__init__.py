"""The hardware catalog: every fact gpufleet knows about accelerators, instances and storage.

Facts live in the YAML files under ``data/``, each record citing public sources; this module
loads them once into frozen typed models.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cached_property, lru_cache
from importlib import resources
from typing import Any

from gpufleet.catalog.cache import cached_parse
from gpufleet.catalog.eks import EksFacts, ZoneOfferings
from gpufleet.catalog.fabric import FabricFacts
from gpufleet.catalog.impact import ImpactFacts
from gpufleet.catalog.kubernetes import KubernetesFacts
from gpufleet.catalog.mig import MigGeometry, parse_mig_geometries
from gpufleet.catalog.models import Accelerator, EfaHost, InstanceType, PlacementGroupLimits
from gpufleet.catalog.prices import PriceTable
from gpufleet.catalog.storage import StorageFacts
from gpufleet.yamltree import parse_plain

__all__ = ["Accelerator", "Catalog", "InstanceType", "load_catalog", "read_data_file"]


def read_data_file(name: str) -> dict[str, Any]:
    """A data file through the same libyaml-based parser as every input, without positions (no
    one asks for them); parsed once per change of the file (``gpufleet.catalog.cache``)."""
    text = resources.files("gpufleet.catalog").joinpath("data", name).read_text(encoding="utf-8")
    data: dict[str, Any] = cached_parse(name, text, lambda text: parse_plain(text, f"catalog/data/{name}"))
    return data


def _normalise(name: str) -> str:
    return name.strip().upper().replace("_", "-").replace(" ", "-")


class Catalog:
    def __init__(self) -> None:
        gpus = read_data_file("gpus.yaml")
        instances = read_data_file("aws_instances.yaml")
        self.sources: dict[str, str] = {**gpus["sources"], **instances["sources"]}
        self.accelerators: dict[str, Accelerator] = {
            name: Accelerator(name=name, **record) for name, record in gpus["accelerators"].items()
        }
        self.instance_types: dict[str, InstanceType] = {
            name: InstanceType(name=name, **record) for name, record in instances["instance_types"].items()
        }
        self.efa_host = EfaHost(**instances["efa_host"])
        self.placement_groups = PlacementGroupLimits(**instances["placement_groups"])
        self._accelerator_keys: dict[str, str] = {}
        for accelerator in self.accelerators.values():
            for key in (accelerator.name, *accelerator.aliases, *accelerator.pci_device_ids):
                self._accelerator_keys[_normalise(key)] = accelerator.name
        self._check_references()

    def _check_references(self) -> None:
        for instance in self.instance_types.values():
            if instance.accelerator is not None and instance.accelerator not in self.accelerators:
                raise ValueError(f"{instance.name}: unknown accelerator {instance.accelerator!r}")
            for source in instance.sources:
                if source not in self.sources:
                    raise ValueError(f"{instance.name}: unknown source {source!r}")
        cited = [(a.name, a.sources) for a in self.accelerators.values()]
        cited += [("efa_host", self.efa_host.sources), ("placement_groups", self.placement_groups.sources)]
        for owner, sources in cited:
            for source in sources:
                if source not in self.sources:
                    raise ValueError(f"{owner}: unknown source {source!r}")
        for gpu in self.mig:
            if gpu not in self.accelerators:
                raise ValueError(f"mig.yaml: {gpu!r} is not an accelerator name")

    @cached_property
    def mig(self) -> dict[str, MigGeometry]:
        return parse_mig_geometries(read_data_file("mig.yaml"))

    @cached_property
    def kubernetes(self) -> KubernetesFacts:
        facts = KubernetesFacts.model_validate(read_data_file("kubernetes.yaml"))
        for owner, sources in facts.cited():
            for source in sources:
                if source not in facts.sources:
                    raise ValueError(f"kubernetes.yaml {owner}: unknown source {source!r}")
        return facts

    @cached_property
    def storage(self) -> StorageFacts:
        return StorageFacts.model_validate(read_data_file("storage.yaml"))

    @cached_property
    def eks(self) -> EksFacts:
        return _cited(EksFacts.model_validate(read_data_file("eks.yaml")))

    @cached_property
    def prices(self) -> PriceTable:
        """EC2 and storage prices from one dated snapshot (``data/prices.yaml``)."""
        table = PriceTable.model_validate(read_data_file("prices.yaml"))
        _require_sources("prices.yaml", (*table.compute_sources, *table.storage.sources), table.sources)
        return table

    @cached_property
    def impact(self) -> ImpactFacts:
        """What a changed input of each rendered resource type does, with its sources."""
        facts = ImpactFacts.model_validate(read_data_file("impact.yaml"))
        _require_sources("impact.yaml", facts.source_keys(), facts.sources)
        return facts

    @cached_property
    def fabric(self) -> FabricFacts:
        facts = FabricFacts.model_validate(read_data_file("fabric.yaml"))
        for name in (*facts.nccl.published, *facts.topology.layers):
            if name not in self.instance_types:
                raise ValueError(f"fabric.yaml: {name!r} is not a catalog instance type")
        for name in facts.nccl.not_nccl:
            if name not in self.accelerators:
                raise ValueError(f"fabric.yaml: {name!r} is not a catalog accelerator")
        return facts

    @cached_property
    def zone_offerings(self) -> ZoneOfferings:
        offerings = ZoneOfferings.model_validate(read_data_file("aws_zones.yaml"))
        _require_sources("aws_zones.yaml", offerings.offering_sources, offerings.sources)
        return offerings

    def accelerator(self, name: str) -> Accelerator | None:
        """Look up by catalog name, alias or PCI device id (``0x233010DE``), case-insensitively."""
        key = self._accelerator_keys.get(_normalise(name))
        return self.accelerators[key] if key else None

    def instance_type(self, name: str) -> InstanceType | None:
        return self.instance_types.get(name)

    def accelerator_of(self, instance: InstanceType) -> Accelerator | None:
        return self.accelerators.get(instance.accelerator) if instance.accelerator else None


@lru_cache(maxsize=1)
def load_catalog() -> Catalog:
    return Catalog()


def _require_sources(owner: str, cited: Iterable[str], known: dict[str, str]) -> None:
    unknown = sorted(set(cited) - set(known))
    if unknown:
        raise ValueError(f"{owner}: unknown source(s) {', '.join(unknown)}")


def _cited(facts: EksFacts) -> EksFacts:
    """Every block of eks.yaml cites sources the file defines."""
    for version, pins in facts.kubernetes_versions.items():
        _require_sources(f"eks.yaml kubernetes {version}", pins.sources, facts.sources)
    _require_sources("eks.yaml control_plane", facts.control_plane.sources, facts.sources)
    _require_sources("eks.yaml vpc_cni", facts.vpc_cni.sources, facts.sources)
    _require_sources("eks.yaml node_addresses", facts.node_addresses.sources, facts.sources)
    return facts
