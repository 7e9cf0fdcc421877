"""The typed seam between render backends: what the cloud side hands the Kubernetes side.

A cloud backend (``render.aws``) creates the cluster and returns a ``ClusterHandle``; the
Kubernetes backend renders every in-cluster object through the handle's provider, parented
under its component, as pulumi-eks passes its ``CoreData``. For ``provider: kubernetes``
stacks the handle comes from stack config instead, with no cloud resources behind it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_kubernetes as k8s


@dataclass(frozen=True)
class FileSystemHandle:
    """An FSx for Lustre file system the cloud side created, as a static PV needs it."""

    file_system_id: pulumi.Input[str]
    dns_name: pulumi.Input[str]
    mount_name: pulumi.Input[str]


@dataclass(frozen=True)
class ClusterHandle:
    name: pulumi.Input[str]
    kubernetes: k8s.Provider
    parent: pulumi.Resource
    endpoint: pulumi.Input[str] | None = None
    kubeconfig: pulumi.Input[str] | None = None
    subnet_ids: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    security_group_ids: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    file_systems: Mapping[str, FileSystemHandle] = field(default_factory=dict)
    node_groups: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    """Pool name -> node group name."""
    buckets: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    """S3 tier name -> bucket name."""
    autoscaling_groups: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    """Pool name -> the Auto Scaling group behind its managed node group (cloud clusters only)."""
    pool_nodes: Mapping[str, pulumi.Resource] = field(default_factory=dict)
    """Pool name -> its node group (cloud clusters only), for objects that need running nodes."""

    @property
    def nodes_ready(self) -> Sequence[pulumi.Resource]:
        """What objects that need nodes of every pool wait for: all node groups."""
        return list(self.pool_nodes.values())
