"""Removing a Kueue queue: stop it in one `pulumi up`, delete it in the next (issue 23: #25).

Kueue v0.19.2, ClusterQueue CRD ``spec.stopPolicy``: "if set to a value different from None,
the ClusterQueue is considered Inactive, no new reservation being made", "Hold - Admitted
workloads will run to completion", "HoldAndDrain - Admitted workloads are evicted".
``troubleshooting_delete_clusterqueue.md``: "Kueue uses a finalizer called
`kueue.x-k8s.io/resource-in-use` to prevent deletion of the ClusterQueue while resources are
still in use", and stopping the queue is its step before the delete. ``clusterqueue_controller.go``:
"remove the finalizer only if there are no active reserving workloads"; ``resourceflavor_controller.go``
keeps a flavor's while ``ClusterQueuesUsingFlavor`` (queues whose resource groups list it) is not empty.
"""

from __future__ import annotations

import re

import pytest

from gpufleet.stack import StackInvalid
from tests.impact.conftest import PROD, Edit
from tests.kubernetes.references import custom_resource_errors

SERVE_POOL = re.compile(r"\n  serve-h100:\n(?:    .*\n)+")
WITHOUT_SERVING = SERVE_POOL.sub("\n", PROD).replace("  inference: [serving]\n", "")
STOP_INFERENCE = PROD.replace("  lab: [sandbox]\n", "  lab: [sandbox]\n  stop: {inference: hold}\n")
QUEUE = "kubernetes:kueue.x-k8s.io/v1beta2:ClusterQueue"


def cluster_queue(edit: Edit, name: str) -> dict:
    (found,) = [r for r in edit.after.resources_json if r["type"] == QUEUE and r["name"] == name]
    return {"apiVersion": "kueue.x-k8s.io/v1beta2", "kind": "ClusterQueue", **found["inputs"]}


def test_removing_the_last_inference_pool_says_the_delete_waits_on_kueue(edit) -> None:
    """The only inference pool goes (and its queue entry), so its flavor and the inference queue are deleted;
    the queue was never stopped, so both deletes wait for its admitted workloads: the report says
    so for each, names the queue to stop and the field that stops it."""
    assert SERVE_POOL.search(PROD)
    result = edit(WITHOUT_SERVING)
    assert result.change("ClusterQueue", "inference") == "deleted"
    assert result.change("ResourceFlavor", "serve-h100") == "deleted"
    removals = {(removal.kind, removal.name): removal.queue for removal in result.report.queues}
    assert removals == {("ClusterQueue", "inference"): "inference", ("ResourceFlavor", "serve-h100"): "inference"}
    text = "\n".join(result.report.text())
    assert "kueue.x-k8s.io/resource-in-use finalizer" in text and "queues.stop: {inference: hold}" in text
    assert result.report.as_json()["queue_removals"][0]["queue"] == "inference"


def test_a_queue_stopped_first_is_removed_without_the_warning(edit) -> None:
    """Step one renders ``stopPolicy: Hold`` (an update in place, valid against Kueue's CRD);
    step two, from the stopped stack, deletes the queue and its flavor with nothing to report."""
    stop = edit(STOP_INFERENCE)
    assert stop.impact("ClusterQueue", "inference") == "in_place"
    assert stop.report.queues == ()
    queue = cluster_queue(stop, "inference")
    assert queue["spec"]["stopPolicy"] == "Hold" and custom_resource_errors(queue) == []
    assert "stopPolicy" not in cluster_queue(stop, "lab")["spec"]
    remove = edit(WITHOUT_SERVING, old=STOP_INFERENCE)
    assert remove.change("ClusterQueue", "inference") == "deleted"
    assert remove.report.queues == ()


def test_a_pool_leaving_a_queue_that_stays_waits_on_nothing(edit) -> None:
    """A flavor dropped from a ClusterQueue that stays is freed by the queue's update (Kueue
    looks only at the queues listing it), so removing one of two lab pools reports nothing."""
    second_lab = PROD.replace(
        "\nqueues:\n",
        "\n  lab-l4b:\n    workload: lab\n    instance_type: g6.12xlarge\n    nodes: {min: 0, max: 2}\n\nqueues:\n",
    )
    result = edit(PROD, old=second_lab)
    assert result.change("ResourceFlavor", "lab-l4b") == "deleted"
    assert result.impact("ClusterQueue", "lab") == "in_place"
    assert result.report.queues == ()


def test_a_stop_entry_must_name_a_rendered_queue(tmp_path) -> None:
    """GF-K8S-013: a stop entry naming no ClusterQueue (a typo, or the queue already removed) is
    refused at its key."""
    from tests.impact.conftest import side

    with pytest.raises(StackInvalid) as caught:
        side(tmp_path, PROD.replace("  lab: [sandbox]\n", "  lab: [sandbox]\n  stop: {training: hold}\n"))
    (finding,) = caught.value.findings
    assert (finding.rule_id, finding.field) == ("GF-K8S-013", "queues.stop.training")
    assert "training-h200-141gb" in finding.message
