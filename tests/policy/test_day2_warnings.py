"""`gpufleet check --base` warns of day-2 edits that stop or hang on a running job (issue 23:
#23, #25), at the stack line to act on, without failing the check (advisory).

EKS UG ``ml/capacity-blocks-mng.adoc``: "When upgrading managed node groups with Capacity Blocks,
make sure that the desired size of the node group is set to 0." (GF-IMP-007). Kueue's
``troubleshooting_delete_clusterqueue.md``: its ``kueue.x-k8s.io/resource-in-use`` finalizer
prevents "deletion of the ClusterQueue while resources are still in use" (GF-IMP-008).
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

from typer.testing import CliRunner

from gpufleet.cli import app
from tests.policy.conftest import PROD, REPO, key_line

runner = CliRunner()
PROD_TEXT = PROD.read_text(encoding="utf-8")


def check(tmp_path: Path, new_text: str, old_text: str = PROD_TEXT) -> tuple[int, Path, list[dict]]:
    """prod before (``base/``) and after (``head/``) an edit, each beside the committed subnet record."""
    for side, text in (("base", old_text), ("head", new_text)):
        (tmp_path / side).mkdir(parents=True)
        (tmp_path / side / "prod.yaml").write_text(text, encoding="utf-8")
        shutil.copy(REPO / "stacks" / "prod.subnets.lock", tmp_path / side / "prod.subnets.lock")
    head = tmp_path / "head" / "prod.yaml"
    result = runner.invoke(app, ["check", "--format", "json", str(head), "--base", str(tmp_path / "base")])
    assert result.exit_code in (0, 1), result.output
    (stack,) = json.loads(result.stdout)["stacks"]
    return result.exit_code, head, [v for v in stack["violations"] if v["rule"] in ("GF-IMP-007", "GF-IMP-008")]


def test_an_ami_bump_warns_at_the_capacity_block_pool(tmp_path) -> None:
    """The AMI is in every launch template, so train-h200 (on a capacity block) rolls: one
    warning at its key naming EKS's rule and both ways through (scale to 0 first, or after the
    block ends); the other pools roll too but are not blocks. The check still passes."""
    code, head, found = check(tmp_path, PROD_TEXT.replace("ami_release: v20250620", "ami_release: v20250715"))
    assert code == 0
    (warning,) = found
    assert (warning["rule"], warning["severity"], warning["line"]) == (
        "GF-IMP-007",
        "warning",
        key_line(head, "node_pools", "train-h200"),
    )
    message = warning["message"]
    assert "capacity block cr-0a1b2c3d4e5f60718" in message and "a new launch-template version: imageId" in message
    assert "desired size of the node group is set to 0" in message
    assert "desiredSize=0" in message and "after the block ends" in message


def test_an_edit_that_does_not_roll_the_block_pool_says_nothing(tmp_path) -> None:
    """Raising the lab pool's maximum updates its scaling config in place: no warning."""
    _, _, found = check(
        tmp_path,
        PROD_TEXT.replace(
            "instance_type: g6.12xlarge\n    nodes: {min: 0, max: 4}", "instance_type: g6.12xlarge\n    nodes: {min: 0, max: 8}"
        ),
    )
    assert found == []


def test_removing_an_unstopped_queue_warns_and_a_stopped_one_does_not(tmp_path) -> None:
    """The last inference pool removed: the inference ClusterQueue and its flavor wait on Kueue's
    finalizer, two warnings at ``queues`` naming the stop field. From a stack that stopped the
    queue first (``queues.stop``), the same removal is quiet."""
    removed = re.sub(r"\n  serve-h100:\n(?:    .*\n)+", "\n", PROD_TEXT).replace("  inference: [serving]\n", "")
    code, head, found = check(tmp_path / "unstopped", removed)
    assert code == 0
    assert [(w["rule"], w["line"], w["message"].split(" is deleted")[0]) for w in found] == [
        ("GF-IMP-008", key_line(head, "queues"), "ClusterQueue inference"),
        ("GF-IMP-008", key_line(head, "queues"), "ResourceFlavor serve-h100"),
    ]
    assert all("queues.stop: {inference: hold}" in w["message"] for w in found)
    stopped = PROD_TEXT.replace("  lab: [sandbox]\n", "  lab: [sandbox]\n  stop: {inference: hold-and-drain}\n")
    _, _, found = check(tmp_path / "stopped", removed, old_text=stopped)
    assert found == []
