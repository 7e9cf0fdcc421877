"""Kueue objects an edit deletes that Kueue holds on to: their delete waits for workloads.

Kueue puts its ``kueue.x-k8s.io/resource-in-use`` finalizer on every ClusterQueue and
ResourceFlavor. A deleted ClusterQueue keeps it while admitted workloads still reserve its quota
(``clusterqueue_controller.go``: "remove the finalizer only if there are no active reserving
workloads"); a deleted flavor keeps it while any ClusterQueue still lists it
(``resourceflavor_controller.go``, ``ClusterQueuesUsingFlavor``). Pulumi waits for a deleted
object to be gone, so ``pulumi up`` hangs there until the jobs end or its delete times out.

A queue the old stack already stopped (``queues.stop``: Kueue's ``stopPolicy``) admits nothing
new; with HoldAndDrain its workloads were evicted, with Hold they were left to finish: either way
the removal was announced, so only an unstopped queue is reported.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from gpufleet.impact.classify import Rendered

CLUSTER_QUEUE = "kubernetes:kueue.x-k8s.io/v1beta2:ClusterQueue"
RESOURCE_FLAVOR = "kubernetes:kueue.x-k8s.io/v1beta2:ResourceFlavor"
FINALIZER = "kueue.x-k8s.io/resource-in-use"
SOURCE = "kubernetes-sigs/kueue v0.19.2 pkg/controller/core/clusterqueue_controller.go, resourceflavor_controller.go"


@dataclass(frozen=True)
class QueueRemoval:
    """A ClusterQueue, or a flavor one of them lists, deleted while the queue was never stopped."""

    kind: str
    """``ClusterQueue`` or ``ResourceFlavor``."""
    name: str
    urn: str
    queue: str
    """The ClusterQueue whose admitted workloads the delete waits for."""

    @property
    def message(self) -> str:
        waits = (
            "its delete waits until the workloads it admitted finish"
            if self.kind == "ClusterQueue"
            else f"its delete waits until ClusterQueue {self.queue}, deleted with it, is gone"
        )
        return (
            f"{self.kind} {self.name} is deleted, but Kueue holds it with the {FINALIZER} finalizer: {waits}, and "
            f"pulumi up waits with it (failing at its delete timeout). ClusterQueue {self.queue} was not stopped: "
            f"stop it first (queues.stop: {{{self.queue}: hold}} lets admitted workloads finish, hold-and-drain "
            f"evicts them), pulumi up, then remove it in the next edit [{SOURCE}]."
        )

    def as_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "name": self.name, "urn": self.urn, "queue": self.queue, "message": self.message}


def queue_removals(old: Iterable[Rendered], new: Iterable[Rendered]) -> tuple[QueueRemoval, ...]:
    """The deleted ClusterQueues the old side did not stop, and the deleted flavors they list."""
    kept = {resource.urn for resource in new}
    before = [resource for resource in old if resource.urn not in kept]
    unstopped = {
        _name(queue): queue
        for queue in before
        if queue.type == CLUSTER_QUEUE and _spec(queue).get("stopPolicy", "None") == "None"
    }
    found = [QueueRemoval("ClusterQueue", name, queue.urn, name) for name, queue in sorted(unstopped.items())]
    for flavor in before:
        if flavor.type != RESOURCE_FLAVOR:
            continue
        holding = sorted(name for name, queue in unstopped.items() if _name(flavor) in _flavors(queue))
        found.extend(QueueRemoval("ResourceFlavor", _name(flavor), flavor.urn, name) for name in holding[:1])
    return tuple(found)


def _spec(resource: Rendered) -> Mapping[str, Any]:
    return resource.inputs.get("spec") or {}


def _name(resource: Rendered) -> str:
    return str((resource.inputs.get("metadata") or {}).get("name", resource.name))


def _flavors(queue: Rendered) -> set[str]:
    return {flavor["name"] for group in _spec(queue).get("resourceGroups", ()) for flavor in group.get("flavors", ())}
