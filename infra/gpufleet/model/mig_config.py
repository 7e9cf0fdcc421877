"""The one mig-parted config a stack needs: every resolved MIG plan, ready to mount."""

from __future__ import annotations

from gpufleet.catalog import Catalog
from gpufleet.mig import DeviceLayout, MigPartedConfig, render_mig_parted_config
from gpufleet.model.plan import FleetPlan


def mig_parted_config(plan: FleetPlan, catalog: Catalog) -> MigPartedConfig:
    return render_mig_parted_config(
        catalog,
        {
            mig_plan.name: (
                mig_plan.accelerator.name,
                tuple(
                    DeviceLayout(devices=entry.devices, layout=dict(entry.layout) or None)
                    for entry in mig_plan.device_layouts
                ),
            )
            for mig_plan in plan.mig_plans
        },
    )
