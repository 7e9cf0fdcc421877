"""What every Kubernetes component shares: where it hangs, and how a planned Helm release is made."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pulumi

from gpufleet.model.kubernetes import HelmReleasePlan
from gpufleet.render.contract import ClusterHandle
from gpufleet.render.resources import Registered


def under_cluster(handle: ClusterHandle) -> pulumi.ResourceOptions:
    """Parented to the cluster's component; every child object goes through its provider."""
    return pulumi.ResourceOptions(parent=handle.parent, providers={"kubernetes": handle.kubernetes})


def helm_release(
    plan: HelmReleasePlan,
    parent: pulumi.Resource,
    *,
    values: dict[str, Any] | None = None,
    depends_on: Sequence[pulumi.Resource] = (),
) -> Registered:
    """``values``: the plan's values completed with what only the deployment knows."""
    chart = plan.chart
    oci = chart.repository.startswith("oci://")
    return Registered(
        "kubernetes:helm.sh/v3:Release",
        plan.name,
        {
            "compat": "true",  # what the typed Release always sends: the provider's current Release behaviour
            "name": plan.name,
            "chart": f"{chart.repository}/{chart.chart}" if oci else chart.chart,
            "version": chart.version,
            "repositoryOpts": None if oci else {"repo": chart.repository},
            "namespace": plan.namespace,
            "createNamespace": True,
            "atomic": True,
            "disableOpenapiValidation": True if plan.disable_openapi_validation else None,
            "values": plan.values if values is None else values,
        },
        pulumi.ResourceOptions(parent=parent, depends_on=list(depends_on)),
        outputs=("status",),
    )


def metadata(name: str, namespace: str | None = None, **labels: str) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "labels": {"app.kubernetes.io/managed-by": "gpufleet", **labels}}
    if namespace is not None:
        meta["namespace"] = namespace
    return meta
