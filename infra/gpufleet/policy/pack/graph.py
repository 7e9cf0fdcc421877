"""Reading the resources the gpufleet program registers: which pool or tier owns what.

The program parents every resource to the component of the thing the stack names (a pool, a
storage tier, a fabric, the cluster, the network), so a resource's owner is its parent
component, and the parent's URN carries its type and name.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from gpufleet.names import LAUNCH_TEMPLATE_TYPE, NODE_GROUP_TYPE, WORKLOAD_LABEL, urn_name, urn_type

OWNER_WORDS = {"NodePool": "pool", "StorageTier": "storage tier", "Fabric": "fabric", "Cluster": "cluster", "Network": "network"}

LAUNCH_TEMPLATE = LAUNCH_TEMPLATE_TYPE
NODE_GROUP = NODE_GROUP_TYPE
EKS_CLUSTER = "aws:eks/cluster:Cluster"
BUCKET_TYPES = ("aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2")
LUSTRE = "aws:fsx/lustreFileSystem:LustreFileSystem"
MIG_LABEL = "nvidia.com/mig.config"


def owner_kind(type_token: str) -> str | None:
    return OWNER_WORDS.get(type_token.rsplit(":", 1)[-1]) if type_token.startswith("gpufleet:") else None


def owner(parent_urn: str | None) -> str:
    """``pool train-h200``, ``storage tier scratch``... or ``the stack`` for unowned resources."""
    if parent_urn:
        kind = owner_kind(urn_type(parent_urn))
        if kind == "network":
            return "the network"
        if kind:
            return f"{kind} {urn_name(parent_urn)}"
    return "the stack"


def at_field(message: str, *path: str | int) -> str:
    """A violation message that says which stack field it is about: ``gpufleet check`` locates
    the finding at that field's line (and strips this), ``pulumi preview`` shows it as written."""
    return f"{message}\n(stack field: {'.'.join(str(part) for part in path)})"


def truthy(value: Any) -> bool:
    """Providers take booleans of some nested blocks as strings ("true")."""
    return value is True or (isinstance(value, str) and value.lower() == "true")


PRODUCTION_STACKS_SCHEMA = {
    "production_stacks": {
        "type": "array",
        "items": {"type": "string"},
        "default": ["prod", "production"],
        "description": "Stack names that are production when the stack file does not say (cluster.production).",
    }
}


def is_production(config: Mapping[str, Any], declared: bool | None = None) -> bool:
    """``declared``: what the stack file says (``cluster.production``), which wins over its name."""
    if declared is not None:
        return declared
    return os.environ.get("PULUMI_STACK", "") in config.get("production_stacks", ["prod", "production"])


def stack_config() -> dict[str, str]:
    """The stack's config as the engine passes it to a plugin (``PULUMI_CONFIG``)."""
    return json.loads(os.environ.get("PULUMI_CONFIG") or "{}")


def secret_config_keys() -> set[str]:
    return set(json.loads(os.environ.get("PULUMI_CONFIG_SECRET_KEYS") or "[]"))


@dataclass
class PoolResources:
    """One node pool as rendered: its component, node group and launch template."""

    name: str
    component: Any
    node_group: Any | None = None
    launch_template: Any | None = None

    @property
    def labels(self) -> Mapping[str, str]:
        return (self.node_group.props.get("labels") if self.node_group else None) or {}

    @property
    def workload(self) -> str | None:
        return self.labels.get(WORKLOAD_LABEL)

    @property
    def max_nodes(self) -> int:
        scaling = (self.node_group.props.get("scalingConfig") if self.node_group else None) or {}
        return int(scaling.get("maxSize") or 0)

    @property
    def min_nodes(self) -> int:
        scaling = (self.node_group.props.get("scalingConfig") if self.node_group else None) or {}
        return int(scaling.get("minSize") or 0)

    @property
    def instance_types(self) -> list[str]:
        types = list((self.node_group.props.get("instanceTypes") if self.node_group else None) or [])
        template_type = self.launch_template.props.get("instanceType") if self.launch_template else None
        return sorted(set(types + ([template_type] if template_type else [])))

    @property
    def efa_interfaces(self) -> int:
        interfaces = (self.launch_template.props.get("networkInterfaces") if self.launch_template else None) or []
        return sum(1 for nic in interfaces if nic.get("interfaceType") in ("efa", "efa-only"))

    @property
    def urn(self) -> str:
        return self.component.urn


def node_pools(resources: Iterable[Any]) -> list[PoolResources]:
    resources = list(resources)
    pools = {r.urn: PoolResources(r.name, r) for r in resources if owner_kind(r.resource_type) == "pool"}
    for resource in resources:
        parent = resource.opts.parent if resource.opts else None
        pool = pools.get(parent) if parent else None
        if pool is None:
            continue
        if resource.resource_type == NODE_GROUP:
            pool.node_group = resource
        elif resource.resource_type == LAUNCH_TEMPLATE:
            pool.launch_template = resource
    return sorted(pools.values(), key=lambda pool: pool.name)


def component_urn(resources: Iterable[Any], kind: str, name: str) -> str | None:
    return next((r.urn for r in resources if owner_kind(r.resource_type) == kind and r.name == name), None)
