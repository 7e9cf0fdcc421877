"""The one mig-parted config a stack needs: every resolved MIG plan, ready to mount."""

from __future__ import annotations

from gpufleet.mig import DeviceLayout, MigPlanInput, RenderedMigConfig, render_mig_parted_config
from gpufleet.model.plan import FleetPlan


def mig_parted_config(plan: FleetPlan) -> RenderedMigConfig:
    return render_mig_parted_config(
        {
            mig_plan.name: MigPlanInput(
                gpu=mig_plan.accelerator.name,
                devices=tuple(
                    DeviceLayout(devices=entry.devices, layout=dict(entry.layout) or None)
                    for entry in mig_plan.device_layouts
                ),
            )
            for mig_plan in plan.mig_plans
        }
    )
