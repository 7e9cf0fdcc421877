"""The MIG engine: prove a MIG plan fits its GPUs before anything reaches a node.

Plain Python over the catalog facts its caller passes in (a GPU's geometry, or the whole
catalog where every GPU matters); nothing here loads the catalog, talks to a cloud or
Pulumi, or prints.
"""

from gpufleet.mig.demand import ServiceDemand
from gpufleet.mig.feasibility import (
    DeviceLayout,
    DevicePlanCheck,
    LayoutCheck,
    PlacedInstance,
    check_device_plan,
    check_geometry_layout,
    check_layout,
)
from gpufleet.mig.geometry import UnknownMigGpu, pci_ids, resolve_gpu
from gpufleet.mig.migparted import (
    EntryVerdict,
    GpuPlan,
    MigPlanError,
    judge_mig_parted_config,
    render_mig_parted_config,
)
from gpufleet.mig.parted_config import RESET_CONFIG, MigConfigInvalid, MigPartedConfig, MigPartedEntry, read_mig_parted_config
from gpufleet.mig.planner import (
    DemandError,
    GpuLayout,
    GpuPacking,
    NodePacking,
    ServiceInstance,
    plan_demand,
    plan_node_pool,
)

__all__ = [
    "RESET_CONFIG",
    "DemandError",
    "DeviceLayout",
    "DevicePlanCheck",
    "EntryVerdict",
    "GpuLayout",
    "GpuPacking",
    "GpuPlan",
    "LayoutCheck",
    "MigConfigInvalid",
    "MigPartedConfig",
    "MigPartedEntry",
    "MigPlanError",
    "NodePacking",
    "PlacedInstance",
    "ServiceDemand",
    "ServiceInstance",
    "UnknownMigGpu",
    "check_device_plan",
    "check_geometry_layout",
    "check_layout",
    "judge_mig_parted_config",
    "pci_ids",
    "plan_demand",
    "plan_node_pool",
    "read_mig_parted_config",
    "render_mig_parted_config",
    "resolve_gpu",
]
