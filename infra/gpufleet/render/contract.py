"""The typed seam between render backends: what the cloud side hands the Kubernetes side.

A cloud backend (``render.aws``) creates the cluster and returns a ``ClusterHandle``; the
Kubernetes backend renders every in-cluster object through the handle's provider, parented
under its component, as pulumi-eks passes its ``CoreData``. For ``provider: kubernetes``
stacks the handle comes from stack config instead, with no cloud resources behind it.

The handle names no cloud: what a Kubernetes component needs of the cloud (an identity for
its service account, a managed driver, hints on node groups) the cloud backend renders from
the plan when the component asks ``CloudServices.serve``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import pulumi
import pulumi_kubernetes as k8s


class CloudServices(Protocol):
    def serve(self, component: str, parent: pulumi.Resource) -> Sequence[pulumi.Resource]:
        """Render under ``parent`` what the plan's cloud part gives the Kubernetes ``component``;
        returns what the component's releases must wait for."""
        ...


class NoCloud:
    """An existing cluster's: nothing cloud-side to render."""

    def serve(self, component: str, parent: pulumi.Resource) -> Sequence[pulumi.Resource]:
        return ()


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
    file_systems: Mapping[str, FileSystemHandle] = field(default_factory=dict)
    node_groups: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    """Pool name -> node group name."""
    buckets: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    """S3 tier name -> bucket name."""
    autoscaling_groups: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    """Pool name -> the scaling group behind its node group, as the Cluster Autoscaler names it (cloud clusters only)."""
    pool_nodes: Mapping[str, pulumi.Resource] = field(default_factory=dict)
    """Pool name -> its node group (cloud clusters only), for objects that need running nodes."""
    cloud: CloudServices = field(default_factory=NoCloud)

    @property
    def nodes_ready(self) -> Sequence[pulumi.Resource]:
        """What objects that need nodes of every pool wait for: all node groups."""
        return list(self.pool_nodes.values())
