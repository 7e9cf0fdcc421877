"""Pool subnets sized to their pools and kept by the subnet record: `gpufleet preview` writes
the record, an edit to one pool or zone never moves another's subnet in resources.json, and
`pulumi up` (program.run under the mocks) refuses a record that is stale for the stack."""

from __future__ import annotations

import json
from ipaddress import IPv4Network
from pathlib import Path

import pulumi
import pytest
from typer.testing import CliRunner

from gpufleet import program
from gpufleet.cli import app
from gpufleet.preview import run_preview

HEAD = """\
cluster: {{name: demo, provider: aws, region: us-east-1, kubernetes_version: "1.33", endpoint: {{deploy_from: in-vpc}}}}
network: {{vpc_cidr: 10.0.0.0/16, availability_zones: [{zones}]}}
fabrics: {{rdma: {{kind: efa}}}}
node_pools:
  system: {{workload: system, instance_type: m7i.xlarge, nodes: {{min: 1, max: 2}}}}
"""
# Up to 16 reserved p5e nodes + 2 surge (the reservation is not sized exactly to the pool, so
# updates surge), 50 addresses each (1 ENA primary + 49 pod addresses on card 0, whose second
# slot holds an EFA-only interface): 900 addresses, more than a /24 holds.
BIG = (
    "  big: {workload: training, instance_type: p5e.48xlarge, nodes: {min: 8, max: 16}, fabric: rdma,\n"
    "        capacity: {type: reservation, reservation_id: cr-0123456789abcdef0, availability_zone: us-east-1a}}\n"
)
SMALL = "  {name}: {{workload: training, instance_type: p5.48xlarge, nodes: {{min: 2, max: 2}}, fabric: rdma}}\n"
ZONES = "us-east-1a, us-east-1b"


def write(folder: Path, *pools: str, zones: str = ZONES) -> Path:
    path = folder / "fleet.yaml"
    path.write_text(HEAD.format(zones=zones) + "".join(pools), encoding="utf-8")
    return path


def preview(path: Path, *options: str) -> tuple[dict, dict[str, str]]:
    """Run `gpufleet preview --json`; the report and every rendered subnet's CIDR by resource name."""
    out = path.parent / "out"
    result = CliRunner().invoke(app, ["preview", str(path), "--out", str(out), "--json", *options])
    assert result.exit_code == 0, result.output
    resources = json.loads((out / "resources.json").read_text())["resources"]
    cidrs = {r["name"]: r["inputs"]["cidrBlock"] for r in resources if r["type"] == "aws:ec2/subnet:Subnet"}
    return json.loads(result.stdout), cidrs


def kept(before: dict[str, str], after: dict[str, str], *names: str) -> None:
    for name in names:
        assert after[name] == before[name], name


def test_a_16_node_p5e_pool_gets_a_subnet_for_its_nodes_and_surge(tmp_path) -> None:
    """GPU pools update in place (MINIMAL, issue 23 #22): no surge node to hold."""
    report, cidrs = preview(write(tmp_path, BIG))
    [row] = report["network"]["pool_subnets"]
    assert row["max_nodes"] == 16 and row["surge_nodes"] == 0 and row["ips_per_node"] == 50
    assert row["ips_needed"] == 800
    block = IPv4Network(cidrs["network-pool-big"])
    assert block.prefixlen == 22 and row["usable"] == block.num_addresses - 5 == 1019
    assert row["headroom"] == 1019 - 800
    assert row["placed"] == "first free /22 of the pool space: a new pool"


def test_adding_a_pool_moves_no_other_pool_subnet(tmp_path) -> None:
    _, before = preview(write(tmp_path, BIG, SMALL.format(name="small")))
    # 'aaa' sorts first: by name order alone it would take the first block.
    _, after = preview(write(tmp_path, BIG, SMALL.format(name="small"), SMALL.format(name="aaa")))
    kept(before, after, "network-pool-big", "network-pool-small", "network-private-us-east-1a", "network-private-us-east-1b")
    assert IPv4Network(before["network-pool-big"]).num_addresses >= 800 + 5
    assert not any(IPv4Network(after["network-pool-aaa"]).overlaps(IPv4Network(cidr)) for name, cidr in before.items())


def test_removing_a_pool_moves_no_other_and_frees_its_block(tmp_path) -> None:
    _, before = preview(write(tmp_path, SMALL.format(name="aaa"), BIG, SMALL.format(name="small")))
    _, after = preview(write(tmp_path, BIG, SMALL.format(name="small")))
    kept(before, after, "network-pool-big", "network-pool-small")
    assert "network-pool-aaa" not in after
    assert "aaa:" not in (tmp_path / "fleet.subnets.lock").read_text()
    # Deployed, the freed block goes to the next new pool.
    _, later = preview(write(tmp_path, BIG, SMALL.format(name="small"), SMALL.format(name="ccc")))
    assert later["network-pool-ccc"] == before["network-pool-aaa"]


def test_renaming_a_pool_moves_no_other_and_never_reuses_the_old_block_in_one_edit(tmp_path) -> None:
    _, before = preview(write(tmp_path, SMALL.format(name="aaa"), BIG))
    _, after = preview(write(tmp_path, SMALL.format(name="zzz"), BIG))
    kept(before, after, "network-pool-big")
    # The old subnet still exists until this edit is deployed: the new one must not overlap it.
    assert not IPv4Network(after["network-pool-zzz"]).overlaps(IPv4Network(before["network-pool-aaa"]))


def test_adding_and_reordering_zones_moves_no_pool_subnet_and_keeps_the_control_plane(tmp_path) -> None:
    _, before = preview(write(tmp_path, BIG, SMALL.format(name="small")))
    result = CliRunner().invoke(
        app,
        [
            "preview",
            str(write(tmp_path, BIG, SMALL.format(name="small"), zones="us-east-1c, us-east-1b, us-east-1a")),
            "--out",
            str(tmp_path / "out"),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "GF-NET-007" not in result.output  # findings print their message, the rule is in --json
    assert "us-east-1c gets node subnets, but the cluster's control plane keeps us-east-1a, us-east-1b" in result.output
    resources = json.loads((tmp_path / "out" / "resources.json").read_text())["resources"]
    after = {r["name"]: r["inputs"]["cidrBlock"] for r in resources if r["type"] == "aws:ec2/subnet:Subnet"}
    kept(before, after, "network-pool-big", "network-pool-small", "network-private-us-east-1a", "network-private-us-east-1b")
    assert "network-private-us-east-1c" in after
    [cluster] = [r for r in resources if r["type"] == "aws:eks/cluster:Cluster"]
    control_plane = sorted(urn.rsplit("::", 1)[1] for urn in cluster["dependsOn"] if "ec2/subnet:Subnet" in urn)
    assert control_plane == ["network-private-us-east-1a", "network-private-us-east-1b"]
    assert "control_plane_zones: [us-east-1a, us-east-1b]" in (tmp_path / "fleet.subnets.lock").read_text()


def test_the_record_is_written_once_and_byte_stable(tmp_path) -> None:
    path = write(tmp_path, BIG, SMALL.format(name="small"))
    report, _ = preview(path)
    assert report["subnet_record"]["written"] is True
    record = tmp_path / "fleet.subnets.lock"
    first = record.read_bytes()
    report, _ = preview(path)
    assert report["subnet_record"]["written"] is False
    assert record.read_bytes() == first
    assert first.decode().endswith("pool_subnets:\n  big: 10.0.128.0/22\n  small: 10.0.132.0/25\n")


def run_up(path: Path):
    """`pulumi up`'s program (program.run) under the mocks, without refreshing the record first."""
    config = {"gpufleet:spec": str(path.resolve()), "aws:region": "us-east-1"}
    return run_preview(program.run, project="gpufleet", stack=path.stem, config=config)


def test_a_stale_record_refuses_pulumi_up_and_the_preview_refreshes_it(tmp_path) -> None:
    path = write(tmp_path, BIG)
    with pytest.raises(
        pulumi.RunError, match=r"fleet.subnets.lock is stale for .*fleet.yaml \(the stack has no subnet record yet\)"
    ):
        run_up(path)
    preview(path)
    assert run_up(path).of_type("aws:ec2/subnet:Subnet")
    path = write(tmp_path, BIG, SMALL.format(name="small"))
    with pytest.raises(
        pulumi.RunError,
        match=r"pool small: not recorded recorded, 10.0.132.0/25 planned\): run `gpufleet preview .*fleet.yaml` to refresh it",
    ):
        run_up(path)
    preview(path)
    subnets = {r.name: r.inputs["cidrBlock"] for r in run_up(path).of_type("aws:ec2/subnet:Subnet")}
    assert subnets["network-pool-small"] == "10.0.132.0/25"


def test_an_outgrown_pool_is_refused_until_its_replacement_is_accepted(tmp_path) -> None:
    small = SMALL.format(name="train")
    preview(write(tmp_path, small))
    grown = write(tmp_path, small.replace("{min: 2, max: 2}", "{min: 2, max: 8}"))
    result = CliRunner().invoke(app, ["validate", str(grown), "--json"])
    assert result.exit_code == 1
    [problem] = json.loads(result.stdout)["stacks"][0]["problems"]
    assert problem["rule"] == "GF-NET-006"
    assert (problem["line"], problem["field"]) == (6, "node_pools.train.nodes.max")
    assert "needs 400 addresses" in problem["message"] and "10.0.128.0/25" in problem["message"]
    assert f"run `gpufleet preview {grown} --replace-subnet train`" in problem["message"]
    report, cidrs = preview(grown, "--replace-subnet", "train")
    # The new block leaves the old one alone: the old subnet is deleted only after the new one exists.
    assert cidrs["network-pool-train"] == "10.0.130.0/23"
    assert (
        report["network"]["pool_subnets"][0]["placed"] == "first free /23 of the pool space: replaces the outgrown 10.0.128.0/25"
    )


def test_replace_subnet_names_a_recorded_pool_or_is_a_usage_error(tmp_path) -> None:
    result = CliRunner().invoke(
        app, ["preview", str(write(tmp_path, BIG)), "--out", str(tmp_path / "out"), "--replace-subnet", "big"]
    )
    assert result.exit_code == 2
    assert "--replace-subnet big: not a pool with a recorded subnet (recorded: none)" in result.stderr
