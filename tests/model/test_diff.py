"""``gpufleet diff``: resolved plans compared pool by pool and tier by tier."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gpufleet.cli import app
from gpufleet.model.diff import Difference, compare

REPO = Path(__file__).resolve().parents[2]

BASE = """
fabrics:
  efa: {kind: efa}
  tcp: {kind: ethernet}
storage:
  data: {kind: s3}
  hot: {kind: fsx-lustre, capacity_tib: 2.4, throughput_per_tib: 250, import_from: data}
mig_plans:
  slices:
    gpu: H100-80GB
    layout: {3g.40gb: 2}
node_pools:
  train:
    workload: training
    instance_type: p5.48xlarge
    nodes: {min: 2, max: 2}
    fabric: efa
    storage: [hot]
  serve:
    workload: inference
    instance_type: p5.48xlarge
    nodes: {min: 1, max: 2}
    fabric: tcp
    mig: slices
  system:
    workload: system
    instance_type: m7i.xlarge
    nodes: {min: 1, max: 2}
"""


def changes(stacks, before: str, after: str) -> list[Difference]:
    left = stacks.plan(stacks.aws(before, name="left.yaml"))
    right = stacks.plan(stacks.aws(after, name="right.yaml"))
    return compare(left, right)


def fields(differences: list[Difference]) -> dict[str, tuple[object, object]]:
    return {d.path: (d.left, d.right) for d in differences}


def test_a_stack_against_itself_has_no_differences(stacks) -> None:
    assert changes(stacks, BASE, BASE) == []
    prod = stacks.plan(REPO / "stacks" / "prod.yaml")
    assert compare(prod, prod) == []


def test_spelling_that_resolves_the_same_is_equal(stacks) -> None:
    """Order of keys and a default written out change the file, not the plan."""
    reordered = BASE.replace(
        "    nodes: {min: 1, max: 2}\n    fabric: tcp\n",
        "    fabric: tcp\n    nodes: {min: 1, max: 2}\n    capacity: {type: on-demand}\n",
    )
    assert reordered != BASE
    assert changes(stacks, BASE, reordered) == []


def test_gpu_type_and_count_and_fleet_totals(stacks) -> None:
    # p5en, not p5e: us-east-1 offers no p5e (catalog zone offerings, issue 8).
    after = BASE.replace(
        "    instance_type: p5.48xlarge\n    nodes: {min: 2, max: 2}",
        "    instance_type: p5en.48xlarge\n    nodes: {min: 4, max: 4}",
    )
    found = fields(changes(stacks, BASE, after))
    assert found["pool.train.instance_type"] == ("p5.48xlarge", "p5en.48xlarge")
    assert found["pool.train.accelerator"] == ("H100-80GB", "H200-141GB")
    assert found["pool.train.accelerators_max"] == (16, 32)
    assert found["fleet.accelerators_max.H100-80GB"] == (32, 16)
    assert found["fleet.accelerators_max.H200-141GB"] == (None, 32)
    assert found["fleet.nodes_max"] == (6, 8), "the system pool (GF-AWS-003) adds its 2"


def test_fabric_efa_count_and_placement(stacks) -> None:
    after = BASE.replace(
        "    nodes: {min: 2, max: 2}\n    fabric: efa\n",
        "    nodes: {min: 2, max: 2}\n    fabric: tcp\n    allow_non_rdma: true\n",
    )
    found = fields(changes(stacks, BASE, after))
    assert found["pool.train.fabric"] == ("efa", "ethernet")
    assert found["pool.train.efa_interfaces"] == (32, 0)
    assert found["pool.train.placement"] == ("cluster", "none")


def test_capacity_and_reservation(stacks) -> None:
    after = BASE.replace(
        "    fabric: efa\n",
        "    fabric: efa\n    capacity: {type: capacity-block, reservation_id: cr-0123456789abcdef0, availability_zone: us-east-1a}\n",
    )
    found = fields(changes(stacks, BASE, after))
    assert found["pool.train.capacity"] == ("on-demand", "capacity-block")
    assert found["pool.train.reservation"] == (None, "cr-0123456789abcdef0")
    assert found["pool.train.placement"] == ("cluster", "none")


def test_mig_layout(stacks) -> None:
    after = BASE.replace("layout: {3g.40gb: 2}", "layout: {3g.40gb: 1, 1g.10gb: 4}")
    found = fields(changes(stacks, BASE, after))
    assert {path: change for path, change in found.items() if path.startswith("mig.")} == {
        "mig.slices.layouts.all": ("3g.40gb=2", "1g.10gb=4, 3g.40gb=1")
    }
    # What the MIG manager makes of it: the inference queue's quota per profile, 2 nodes x 8 GPUs.
    assert found["queue.inference.quotas.serve.nvidia.com/mig-3g.40gb"] == (32, 16)
    assert found["queue.inference.quotas.serve.nvidia.com/mig-1g.10gb"] == (None, 64)


def test_storage_tier_size_and_throughput(stacks) -> None:
    after = BASE.replace("capacity_tib: 2.4, throughput_per_tib: 250", "capacity_tib: 4.8, throughput_per_tib: 500")
    found = fields(changes(stacks, BASE, after))
    assert found["storage.hot.capacity_gib"] == (2400, 4800)
    assert found["storage.hot.throughput_per_tib"] == (250, 500)
    assert found["storage.hot.throughput_mbs"] == (pytest.approx(2.4 * 640), pytest.approx(4.8 * 1300))


def test_labels_and_taints(stacks) -> None:
    after = BASE.replace("    workload: inference\n", "    workload: lab\n    labels: {team: nlp}\n")
    found = fields(changes(stacks, BASE, after))
    assert found["pool.serve.workload"] == ("inference", "lab")
    assert found["pool.serve.labels.team"] == (None, "nlp")
    assert found["pool.serve.labels.gpufleet.io/workload"] == ("inference", "lab")
    assert found["pool.serve.taints"] == (
        ("nvidia.com/gpu=true:NoSchedule",),
        ("nvidia.com/gpu=true:NoSchedule", "gpufleet.io/workload=lab:NoSchedule"),
    )


def test_pools_and_tiers_only_on_one_side(stacks) -> None:
    after = (
        BASE.replace("  data: {kind: s3}\n", "  data: {kind: s3}\n  cache: {kind: local-nvme}\n")
        + """\
  lab:
    workload: lab
    instance_type: g6.xlarge
    nodes: {min: 0, max: 3}
"""
    )
    differences = changes(stacks, BASE, after)
    added = [(d.scope, d.name) for d in differences if d.kind == "added"]
    assert added == [
        ("pool", "lab"),
        ("storage", "cache"),
        ("flavor", "lab"),
        ("queue", "lab"),
        ("autoscaling", "lab"),
    ]
    lab = next(d for d in differences if d.name == "lab")
    assert lab.right.summary == "lab, 0-3 x g6.xlarge, up to 3 L4-24GB, on-demand"
    # The added pool is placed where the right file writes it (the AWS head is 8 lines).
    right_lines = (stacks.directory / "right.yaml").read_text(encoding="utf-8").splitlines()
    assert lab.left_location is None
    assert (lab.right_location.line, lab.right_location.column) == (right_lines.index("  lab:") + 1, 3)
    removed = compare(stacks.plan(stacks.directory / "right.yaml"), stacks.plan(stacks.directory / "left.yaml"))
    assert [(d.kind, d.scope, d.name) for d in removed if d.kind != "changed" and d.scope in ("pool", "storage")] == [
        ("removed", "pool", "lab"),
        ("removed", "storage", "cache"),
    ]


# -- the command ---------------------------------------------------------------------------------


def invoke(*args: str):
    return CliRunner().invoke(app, list(args))


def test_diff_exit_codes_like_diff(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)
    same = invoke("diff", "stacks/prod.yaml", "stacks/prod.yaml")
    assert same.exit_code == 0
    assert same.stdout.splitlines() == ["--- stacks/prod.yaml", "+++ stacks/prod.yaml", "no differences"]
    differ = invoke("diff", "stacks/staging.yaml", "stacks/prod.yaml")
    assert differ.exit_code == 1
    lines = differ.stdout.splitlines()
    # Each pool's differences follow one heading that says where both files write the pool.
    heading = f"pool train-h200 (stacks/staging.yaml:{line_of('staging', '  train-h200:')}:3, stacks/prod.yaml:{line_of('prod', '  train-h200:')}:3)"
    group = lines[lines.index(heading) + 1 :]
    assert (
        "  ~ capacity: on-demand -> capacity-block"
        in group[: group.index(next(row for row in group if not row.startswith("  ")))]
    )
    assert "  ~ capacity_gib: 21600 -> 115200" in lines
    changed = [line for line in lines if line.startswith(("  ~ ", "+ ", "- "))]
    assert lines[-1] == f"{len(changed)} difference(s)"


def line_of(env: str, text: str) -> int:
    return (REPO / "stacks" / f"{env}.yaml").read_text(encoding="utf-8").splitlines().index(text) + 1


def test_diff_json_says_what_prod_has_that_dev_lacks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)
    result = invoke("diff", "--json", "stacks/dev.yaml", "stacks/prod.yaml")
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report["left"] == "stacks/dev.yaml" and report["equal"] is False
    train = next(d for d in report["differences"] if d["name"] == "train-h200")
    assert train["kind"] == "added" and train["left"] is None
    assert train["right"]["efa_interfaces"] == 32 and train["right"]["accelerators_max"] == 128
    assert train["left_location"] is None and train["right_location"] == f"stacks/prod.yaml:{line_of('prod', '  train-h200:')}:3"
    totals = [d for d in report["differences"] if d["scope"] == "fleet"]
    assert totals and all(d["left_location"] is None and d["right_location"] is None for d in totals)
    assert invoke("diff", "--json", "stacks/dev.yaml", "stacks/prod.yaml").stdout == result.stdout


def test_diff_of_an_invalid_stack_is_trouble_not_a_difference(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    Path("bad.yaml").write_text((REPO / "stacks" / "dev.yaml").read_text().replace("g6.xlarge", "g6.xl"), encoding="utf-8")
    result = invoke("diff", str(REPO / "stacks" / "dev.yaml"), "bad.yaml")
    assert result.exit_code == 2
    assert "gpufleet: cannot compare an invalid stack:" in result.stderr
    assert "bad.yaml:" in result.stderr and "unknown instance type 'g6.xl'" in result.stderr
