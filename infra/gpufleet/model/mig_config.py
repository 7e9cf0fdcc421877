"""The one mig-parted config a stack needs: every MIG setup of the plan, ready to mount."""

from __future__ import annotations

from gpufleet.catalog import Catalog
from gpufleet.mig import MigPartedConfig, render_mig_parted_config
from gpufleet.model.plan import FleetPlan


def mig_parted_config(plan: FleetPlan, catalog: Catalog) -> MigPartedConfig:
    return render_mig_parted_config(
        catalog, {setup.name: (setup.accelerator.name, setup.device_layouts) for setup in plan.mig_plans}
    )
