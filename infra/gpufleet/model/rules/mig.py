"""Rules about MIG plans: the GPU exists and supports MIG, layouts fit it, demands can be packed."""

from __future__ import annotations

from collections.abc import Callable

from gpufleet import mig
from gpufleet.findings import PathPart
from gpufleet.mig.feasibility import Devices, Layout
from gpufleet.model.rules.registry import Problem, Problems, duplicates, rule, sentence, unknown
from gpufleet.model.view import StackView
from gpufleet.stack.models import MigPlanSpec


def _plans(view: StackView) -> list[tuple[str, MigPlanSpec]]:
    return sorted(view.spec.mig_plans.items())


def _on_mig_gpus(view: StackView, check: Callable[[StackView, str], list[Problem]]) -> Problems:
    """``check`` of each plan that names a MIG-capable GPU (one that does not fails GF-MIG-001/002 alone)."""
    for name, _ in _plans(view):
        if view.mig_accelerator(name) is not None:
            yield from check(view, name)


def _fixed_entries(view: StackView, name: str) -> list[tuple[Devices, Layout | None, tuple[PathPart, ...]]]:
    plan = view.spec.mig_plans[name]
    if plan.layout is not None:
        return [("all", plan.layout, ("mig_plans", name, "layout"))]
    return [(entry.devices, entry.layout, ("mig_plans", name, "devices", i)) for i, entry in enumerate(plan.devices or ())]


def _duplicate_services(view: StackView, name: str) -> list[Problem]:
    plan = view.spec.mig_plans[name]
    return list(duplicates(("mig_plans", name, "demand"), [d.name for d in plan.demand or ()], "service"))


def _unplaceable_demand(view: StackView, name: str) -> list[Problem]:
    accelerator = view.mig_accelerator(name)
    if accelerator is None or view.spec.mig_plans[name].demand is None or _duplicate_services(view, name):
        return []
    try:
        mig.plan_demand(view.catalog.mig[accelerator.name], view.demand_of(name))
    except mig.DemandError as error:
        return [(("mig_plans", name, "demand"), f"cannot place the demand on {accelerator.name}: {sentence(str(error))}")]
    return []


def _claimed_twice(view: StackView, name: str) -> list[Problem]:
    claimed: dict[int, int] = {}
    found: list[Problem] = []
    for position, (devices, _, where) in enumerate(_fixed_entries(view, name)):
        for index in () if devices == "all" else devices:
            if index in claimed:
                found.append(((*where, "devices"), f"GPU {index} already has a layout from entry {claimed[index]}"))
            claimed.setdefault(index, position)
    return found


def _infeasible_layouts(view: StackView, name: str) -> list[Problem]:
    accelerator = view.mig_accelerator(name)
    found: list[Problem] = []
    if accelerator is None:
        return found
    for devices, layout, where in _fixed_entries(view, name):
        result = mig.check_layout(view.catalog, accelerator.name, layout or {})
        if not result.feasible:
            at = where if devices == "all" else (*where, "layout")
            found.append((at, f"infeasible on {accelerator.name}: " + " ".join(result.reasons)))
    return found


def plan_usable(view: StackView, name: str) -> bool:
    """A plan pools can be checked against: every plan rule passed for it."""
    if name not in view.spec.mig_plans:
        return False
    key = ("mig-plan-usable", name)
    if key not in view.memo:
        view.memo[key] = (
            view.mig_accelerator(name) is not None
            and not _duplicate_services(view, name)
            and not _unplaceable_demand(view, name)
            and not _claimed_twice(view, name)
            and not _infeasible_layouts(view, name)
        )
    return bool(view.memo[key])


@rule(
    "GF-MIG-001",
    "error",
    "A MIG plan names a GPU the catalog does not know.",
    "Use a catalog name or PCI id (`gpufleet catalog`).",
)
def mig_gpu_known(view: StackView) -> Problems:
    for name, plan in _plans(view):
        if view.catalog.accelerator(plan.gpu) is None:
            yield ("mig_plans", name, "gpu"), unknown("GPU", plan.gpu, view.catalog.accelerators)


@rule("GF-MIG-002", "error", "A MIG plan names a GPU that cannot be partitioned.", "Use a MIG-capable GPU.")
def mig_gpu_capable(view: StackView) -> Problems:
    for name, plan in _plans(view):
        accelerator = view.catalog.accelerator(plan.gpu)
        if accelerator is not None and accelerator.name not in view.catalog.mig:
            capable = ", ".join(sorted(view.catalog.mig))
            yield ("mig_plans", name, "gpu"), f"{accelerator.name} does not support MIG (MIG-capable: {capable})"


@rule("GF-MIG-003", "error", "A service is listed twice in one demand.", "Give each service its own name.")
def demand_services_unique(view: StackView) -> Problems:
    return _on_mig_gpus(view, _duplicate_services)


@rule(
    "GF-MIG-004",
    "error",
    "No profile of the GPU can serve a service of the demand.",
    "Lower the service's memory or compute share, or use a larger GPU.",
)
def demand_placeable(view: StackView) -> Problems:
    for name, _ in _plans(view):
        yield from _unplaceable_demand(view, name)


@rule("GF-MIG-005", "error", "Two device entries of a MIG plan configure the same GPU.", "Give each GPU index one entry.")
def devices_claimed_once(view: StackView) -> Problems:
    return _on_mig_gpus(view, _claimed_twice)


@rule(
    "GF-MIG-006", "error", "A MIG layout that does not fit its GPU.", "Check it with `gpufleet mig check GPU PROFILE=COUNT...`."
)
def layouts_feasible(view: StackView) -> Problems:
    for name, _ in _plans(view):
        yield from _infeasible_layouts(view, name)
