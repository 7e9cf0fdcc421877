"""The loaded stack with the catalog lookups that rules and decisions share.

Rules read it to check, decisions read it to decide; neither repeats a lookup the other did
(an instance type, a pool's zones, a demand packed for a pool's nodes), because the view
caches each answer once.
"""

from __future__ import annotations

from functools import cached_property

from gpufleet import mig
from gpufleet.catalog import Catalog
from gpufleet.catalog.models import Accelerator, InstanceType
from gpufleet.findings import Location
from gpufleet.stack.loader import LoadedStack
from gpufleet.stack.models import FabricSpec, NodePoolSpec, StackSpec

MAX_ZONES = 8


class StackView:
    def __init__(self, loaded: LoadedStack, catalog: Catalog, regrow: frozenset[str] = frozenset()) -> None:
        self.loaded = loaded
        self.regrow = regrow
        """Pools whose outgrown recorded subnet this run may replace (``preview --replace-subnet``)."""
        self.spec: StackSpec = loaded.spec
        self.catalog = catalog
        self._packings: dict[tuple[str, str], mig.NodePacking | mig.DemandError] = {}
        self.memo: dict[object, object] = {}
        """Answers rules share (is a MIG plan usable?), computed once per resolution."""

    @property
    def on_aws(self) -> bool:
        return self.spec.cluster.provider == "aws"

    def location(self, *path: str | int) -> Location:
        """Where a named thing was written: the line of its key."""
        return self.loaded.locator.location(path, at_key=True)

    @cached_property
    def zones(self) -> tuple[str, ...]:
        network = self.spec.network
        return tuple(network.availability_zones[:MAX_ZONES]) if network else ()

    def pools(self) -> list[tuple[str, NodePoolSpec]]:
        return sorted(self.spec.node_pools.items())

    def instance(self, pool: NodePoolSpec) -> InstanceType | None:
        """The catalog's instance type of a launched pool; None for existing nodes or an unknown name."""
        return self.catalog.instance_type(pool.instance_type) if pool.instance_type is not None else None

    def accelerator(self, pool: NodePoolSpec) -> Accelerator | None:
        instance = self.instance(pool)
        return self.catalog.accelerator_of(instance) if instance else None

    def fabric(self, pool: NodePoolSpec) -> FabricSpec | None:
        return self.spec.fabrics.get(pool.fabric) if pool.fabric else None

    def mig_accelerator(self, plan_name: str) -> Accelerator | None:
        """The MIG-capable accelerator a MIG plan names, or None when it names none."""
        accelerator = self.catalog.accelerator(self.spec.mig_plans[plan_name].gpu)
        return accelerator if accelerator is not None and accelerator.name in self.catalog.mig else None

    def demand_of(self, plan_name: str) -> tuple[mig.ServiceDemand, ...]:
        return tuple(self.spec.mig_plans[plan_name].demand or ())

    def packing(self, plan_name: str, pool_name: str) -> mig.NodePacking | mig.DemandError:
        """A demand plan packed onto identical nodes of one pool (or why it cannot be)."""
        key = (plan_name, pool_name)
        if key not in self._packings:
            accelerator = self.mig_accelerator(plan_name)
            instance = self.instance(self.spec.node_pools[pool_name])
            assert accelerator is not None and instance is not None
            try:
                self._packings[key] = mig.plan_node_pool(
                    self.catalog.mig[accelerator.name], self.demand_of(plan_name), instance.accelerator_count
                )
            except mig.DemandError as error:
                self._packings[key] = error
        return self._packings[key]
