"""The MIG engine: prove a MIG plan fits its GPUs before anything reaches a node.

Plain Python on top of the catalog's geometry; nothing here talks to a cloud or Pulumi.
"""

from gpufleet.mig.feasibility import (
    DeviceLayout,
    DevicePlanCheck,
    LayoutCheck,
    PlacedInstance,
    check_device_plan,
    check_layout,
)
from gpufleet.mig.geometry import UnknownMigGpu, resolve_gpu
from gpufleet.mig.migparted import (
    EntryVerdict,
    MigConfigError,
    MigPlanError,
    MigPlanInput,
    RenderedMigConfig,
    judge_mig_parted_config,
    render_mig_parted_config,
)
from gpufleet.mig.planner import (
    DemandError,
    GpuPacking,
    GpuLayout,
    NodePacking,
    ServiceDemand,
    ServiceInstance,
    plan_demand,
    plan_node_pool,
)

__all__ = [
    "DemandError",
    "DemandPlan",
    "DeviceLayout",
    "DevicePlanCheck",
    "EntryVerdict",
    "GpuLayout",
    "LayoutCheck",
    "MigConfigError",
    "MigPlanError",
    "MigPlanInput",
    "NodePoolPlan",
    "PlacedInstance",
    "RenderedMigConfig",
    "ServiceDemand",
    "ServiceInstance",
    "UnknownMigGpu",
    "check_device_plan",
    "check_layout",
    "judge_mig_parted_config",
    "plan_demand",
    "plan_node_pool",
    "render_mig_parted_config",
    "resolve_gpu",
]
