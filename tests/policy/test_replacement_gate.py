"""The replacement gate (GF-IMP-006): ``gpufleet check --base`` fails an edit of a production
stack that replaces a training pool's node group or subnet, or a retained storage tier, unless
the stack's ``may_replace`` (or ``--allow-replace``) names it.

What "replaces" means is the provider's: a node group's ``subnet_ids`` is ForceNew in
terraform-provider-aws ("names.AttrSubnetIDs: { Type: schema.TypeSet, Required: true, ForceNew:
true"), a subnet's ``availability_zone`` too, and an FSx file system's ``security_group_ids`` and
``subnet_ids``; a protected resource's replacement "fails with an error instead" (Pulumi).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gpufleet.cli import app
from tests.policy.conftest import PROD, REPO, key_line

runner = CliRunner()
GATE = "GF-IMP-006"

ML_PROD = """\
cluster:
  name: ml
  provider: aws
  region: us-east-1
  kubernetes_version: "1.33"
  production: true
  endpoint: {deploy_from: in-vpc}
network:
  vpc_cidr: 10.40.0.0/16
  availability_zones: [us-east-1a, us-east-1b]
fabrics:
  rdma: {kind: efa}
storage:
  datasets: {kind: s3}
  scratch: {kind: fsx-lustre, deployment: PERSISTENT_2, capacity_tib: 24, throughput_per_tib: 1000, import_from: datasets}
node_pools:
  system: {workload: system, instance_type: m7i.xlarge, nodes: {min: 1, max: 2}}
  train: {workload: training, instance_type: p5.48xlarge, nodes: {min: 2, max: 2}, fabric: rdma, availability_zone: us-east-1a, storage: [scratch]}
"""
MOVED = ML_PROD.replace("availability_zone: us-east-1a", "availability_zone: us-east-1b")


def write(folder: Path, text: str, name: str = "ml-prod") -> Path:
    """A stack and the subnet record `gpufleet preview` writes beside it, as a user commits them."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.yaml"
    path.write_text(text, encoding="utf-8")
    assert runner.invoke(app, ["preview", str(path), "--out", str(folder / "out")]).exit_code == 0
    return path


def gate_findings(*args: str) -> tuple[int, list[dict]]:
    result = runner.invoke(app, ["check", "--format", "json", *args])
    assert result.exit_code in (0, 1), result.output
    (stack,) = json.loads(result.stdout)["stacks"]
    return result.exit_code, [v for v in stack["violations"] if v["rule"] == GATE]


@pytest.fixture(scope="module")
def moved(tmp_path_factory) -> tuple[Path, Path]:
    """ml-prod before and after its training pool moves zone (the subnet record kept, as committed)."""
    root = tmp_path_factory.mktemp("gate")
    base = write(root / "base", ML_PROD)
    (root / "head").mkdir()
    shutil.copy(base.with_name("ml-prod.subnets.lock"), root / "head" / "ml-prod.subnets.lock")
    head = root / "head" / "ml-prod.yaml"
    head.write_text(MOVED, encoding="utf-8")
    return base, head


def test_moving_a_training_pool_in_production_fails_at_the_pool_and_the_tier(moved) -> None:
    base, head = moved
    code, found = gate_findings(str(head), "--base", str(base))
    assert code == 1
    pool_line = key_line(head, "node_pools", "train")
    by_line = {(f["line"], f["message"].split(":")[0]) for f in found}
    assert by_line == {(pool_line, "pool train"), (key_line(head, "storage", "scratch"), "storage tier scratch")}
    messages = " ".join(f["message"] for f in found)
    assert "replaces its node group" in messages and "replaces the subnet its nodes sit in" in messages
    # The mocks keep a replaced subnet's id: the node group's change is inferred from the subnet's.
    assert (
        "subnetIds: takes an output of network-pool-train, which is replaced (so a new id): forces replacement "
        "[tf eks/func.resourceNodeGroup:295-298]"
    ) in messages
    assert "it is protected, so pulumi up fails there" in messages
    assert "add `may_replace: [train]` to the stack" in messages


def test_may_replace_in_the_stack_or_allow_replace_acknowledges_it(moved, tmp_path) -> None:
    base, head = moved
    assert gate_findings(str(head), "--base", str(base), "--allow-replace", "train", "--allow-replace", "scratch") == (0, [])
    shutil.copy(head.with_name("ml-prod.subnets.lock"), tmp_path / "ml-prod.subnets.lock")
    acknowledged = tmp_path / "ml-prod.yaml"
    acknowledged.write_text(MOVED.replace("node_pools:", "may_replace: [train]\nnode_pools:"), encoding="utf-8")
    code, found = gate_findings(str(acknowledged), "--base", str(base))
    assert code == 1 and [f["message"].split(":")[0] for f in found] == ["storage tier scratch"]


def test_a_stack_that_says_it_is_not_production_is_not_gated(moved, tmp_path) -> None:
    base, _ = moved
    shutil.copy(base.with_name("ml-prod.subnets.lock"), tmp_path / "ml-prod.subnets.lock")
    head = tmp_path / "ml-prod.yaml"
    head.write_text(MOVED.replace("  production: true\n", "  production: false\n"), encoding="utf-8")
    _, found = gate_findings(str(head), "--base", str(base))
    assert found == []


def test_without_a_base_the_gate_has_nothing_to_judge(moved) -> None:
    _, head = moved
    assert gate_findings(str(head)) == (0, [])


def test_prods_fsx_deployment_edit_is_caught_against_a_git_commit(tmp_path) -> None:
    """prod is production by name (no cluster.production): a base given as a git commit is the
    stack file and its subnet record at that commit."""
    repo = tmp_path / "repo"
    (repo / "stacks").mkdir(parents=True)
    for name in ("prod.yaml", "prod.subnets.lock"):
        shutil.copy(REPO / "stacks" / name, repo / "stacks" / name)
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-qm", "base"], check=True)
    stack = repo / "stacks" / "prod.yaml"
    stack.write_text(
        PROD.read_text(encoding="utf-8")
        .replace("deployment: PERSISTENT_2", "deployment: PERSISTENT_1")
        .replace("throughput_per_tib: 1000", "throughput_per_tib: 200"),
        encoding="utf-8",
    )
    code, found = gate_findings(str(stack), "--base", "HEAD")
    assert code == 1
    (finding,) = found
    assert finding["line"] == key_line(stack, "storage", "scratch")
    assert "deploymentType: forces replacement [tf fsx/func.resourceLustreFileSystem:118-121]" in finding["message"]
    bad = runner.invoke(app, ["check", str(stack), "--base", "no-such-ref"])
    assert bad.exit_code == 2 and "--base no-such-ref: not a folder, a stack file or a git commit" in bad.output
