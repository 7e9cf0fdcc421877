"""What inference services ask of MIG: the one ``ServiceDemand``, for stacks and demand files alike.

A demand file (``gpufleet mig plan --demand``) is read through the same reader, parser and
located errors as a stack file, with the same strict numbers: ``"18"``, ``true`` or ``.inf``
are not memory sizes. The planner refuses more replicas than it can place quickly
(``MAX_DEMAND_REPLICAS``) before it starts.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from pydantic.dataclasses import dataclass as pydantic_dataclass

from gpufleet.documents import read_document
from gpufleet.findings import declare
from gpufleet.inputs import InputInvalid
from gpufleet.values import MAX_DEMAND_REPLICAS, MAX_GPU_MEMORY_GIB, Float, Int, Name
from gpufleet.yamltree import MapNode, SeqNode

NOT_A_DEMAND = declare(
    "GF-DEMAND-001",
    "error",
    "A demand file that is not a list of services.",
    "Write `services:` and a list of name, memory_gib, compute_share, replicas.",
)


class DemandInvalid(InputInvalid):
    """A demand file gpufleet cannot use: the MIG commands' usage error, exit 2."""

    exit_code = 2


@pydantic_dataclass(frozen=True, config=ConfigDict(extra="forbid"))
class ServiceDemand:
    """An inference service: memory per replica, optional share of the GPU's SMs, replicas.

    A dataclass so callers can build it positionally, ``ServiceDemand("chat", 18)``.
    """

    name: Name
    memory_gib: Annotated[Float, Field(gt=0, le=MAX_GPU_MEMORY_GIB)]
    compute_share: Annotated[Float | None, Field(gt=0, le=1)] = None
    replicas: Annotated[Int, Field(ge=1, le=MAX_DEMAND_REPLICAS)] = 1


def demand_overflow(services: Sequence[ServiceDemand]) -> str | None:
    """Why the planner will not take this demand on, or None."""
    total = sum(service.replicas for service in services)
    if total > MAX_DEMAND_REPLICAS:
        return f"the services ask for {total} replicas together; the planner places at most {MAX_DEMAND_REPLICAS}"
    return None


def check_demand(services: tuple[ServiceDemand, ...]) -> tuple[ServiceDemand, ...]:
    problem = demand_overflow(services) if services else "list at least one service"
    if problem:
        raise ValueError(problem)
    return services


# Emptiness is checked after the items, so a list whose only item is wrong is not also "empty".
# Every service has at least one replica, so the replica limit bounds the list too: the
# planner's own target is 10,000 services (bench/mig_plan.py).
Services = Annotated[tuple[ServiceDemand, ...], Field(max_length=MAX_DEMAND_REPLICAS), AfterValidator(check_demand)]


class DemandFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    services: Services


def load_demand(path: str | Path) -> tuple[ServiceDemand, ...]:
    """A demand file's services: ``services: [...]`` or a bare list; ``DemandInvalid`` otherwise."""
    document = read_document(
        path,
        "demand file",
        {MapNode: DemandFile, SeqNode: Services},
        invalid=DemandInvalid,
        root_rule=NOT_A_DEMAND,
        root_message="a demand file is a list of services, or a mapping with `services:`",
        positions=False,  # 10,000 services parse in half the time without; a problem is still located
    )
    value = document.value
    return value.services if isinstance(value, DemandFile) else value
