"""``gpufleet verify`` against a fake cluster that behaves like the API: pending, running, failed, hung."""

from __future__ import annotations

import json
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gpufleet.catalog import load_catalog
from gpufleet.cli import app
from gpufleet.model import resolve
from gpufleet.stack import load_stack
from gpufleet.verify import cluster as cluster_module
from gpufleet.verify.cluster import AlreadyExists, ClusterError, job_status
from gpufleet.verify.run import run_checks
from tests.verify.fake_cluster import FINISHES, FakeClock, FakeCluster, Scenario

REPO = Path(__file__).resolve().parents[2]
DATA = Path(__file__).parent / "data"
CATALOG = load_catalog()
STAGING = REPO / "stacks" / "staging.yaml"  # train-h200: 2 x p5e.48xlarge on EFA, floor 345.6 GB/s


def sample(name: str) -> str:
    return (DATA / name).read_text(encoding="utf-8")


def checks():
    plan = resolve(load_stack(STAGING), CATALOG)
    return plan.validation


def ranks(hosts: int, per_host: int = 8) -> str:
    return "\n".join(
        f"#  Rank {h * per_host + g:2d} Group  0 Pid {100 + g} on node-{h} device  {g} [0x{g}] NVIDIA H200"
        for h in range(hosts)
        for g in range(per_host)
    )


# A finished two-node run: OFI init lines (nccl issue 526), rows from AWS's 2 x p5 sample, summary.
GOOD_NCCL = "\n".join(
    [
        ranks(2),
        sample("nccl_init_efa_hang_issue526.log"),
        sample("nccl_p5_2nodes_default_algo.log"),
        "# Out of bounds values : 0 OK",
        "# Avg bus bandwidth    : 210.5",
    ]
)
DCGM_PASS = {"dcgm-node-0": sample("dcgm_v4_text_issue253.txt"), "dcgm-node-1": sample("dcgm_r2_pass_issue198.txt")}


def scenarios(**nccl: Scenario) -> dict[str, Scenario]:
    found = {job.name: Scenario(FINISHES.timeline, DCGM_PASS) for job in checks().dcgm}
    found["gpufleet-nccl-train-h200"] = nccl.get("nccl", Scenario(FINISHES.timeline, {"launcher": GOOD_NCCL}))
    return found


def run(cluster_scenarios: dict[str, Scenario], timeout: float = 600, serves=frozenset({"Job", "MPIJob"})):
    clock = FakeClock()
    cluster = FakeCluster(clock, cluster_scenarios, serves=serves)
    results = run_checks(checks(), cluster, timeout=timeout, poll=15, clock=clock.clock())
    return {(r.pool, r.check): r for r in results}, cluster, clock


def test_a_healthy_fleet_passes_and_leaves_nothing_behind() -> None:
    results, cluster, clock = run(scenarios())
    assert all(r.passed for r in results.values()), [r.reason for r in results.values() if not r.passed]
    nccl = results[("train-h200", "nccl")]
    assert (nccl.busbw_gbs, nccl.floor["busbw_gbs"], nccl.floor["algorithm"]) == (487.09, 345.6, "Ring")
    assert cluster.created == {}
    assert clock.t == 180  # two phases, each done when its jobs succeed at 90 s (polled every 15 s)


def test_tcp_fallback_fails_the_pool() -> None:
    fallback = Scenario(FINISHES.timeline, {"launcher": ranks(2) + "\n" + sample("nccl_socket_fallback_pod_id_link0.log")})
    results, _, _ = run(scenarios(nccl=fallback))
    nccl = results[("train-h200", "nccl")]
    assert not nccl.passed
    assert nccl.reason == "NCCL fell back to TCP sockets (enp73s0, pod-id-link0) instead of Libfabric"


def test_a_hang_is_a_failure_at_the_deadline() -> None:
    hung = Scenario(((0, "running", ""),), {"launcher": ranks(2) + "\n" + sample("nccl_hang_after_connect_issue1597.log")})
    results, cluster, clock = run(scenarios(nccl=hung), timeout=600)
    nccl = results[("train-h200", "nccl")]
    assert nccl.reason == "hang: no result within 600 s (network ofi, 0 sizes done)"
    assert cluster.created == {}  # the hung job is deleted too
    assert clock.t == 90 + 600


def test_a_partial_gang_is_named() -> None:
    one_node = Scenario(FINISHES.timeline, {"launcher": ranks(1) + "\n" + sample("nccl_init_efa_hang_issue526.log")})
    results, _, _ = run(scenarios(nccl=one_node))
    assert results[("train-h200", "nccl")].reason == "partial gang: 8 of 16 ranks on 1 of 2 nodes"


def test_below_the_floor_fails_with_both_figures() -> None:
    slow = Scenario(
        FINISHES.timeline,
        {"launcher": ranks(2) + "\n" + sample("nccl_init_efa_hang_issue526.log") + "\n" + sample("nccl_tail_issue119.log")},
    )
    results, _, _ = run(scenarios(nccl=slow))
    nccl = results[("train-h200", "nccl")]
    assert (nccl.passed, nccl.reason) == (False, "95.74 GB/s busbw is below the 345.6 GB/s floor")


def test_a_run_without_init_lines_does_not_prove_the_transport() -> None:
    silent = Scenario(FINISHES.timeline, {"launcher": ranks(2) + "\n" + sample("nccl_tail_issue119.log")})
    results, _, _ = run(scenarios(nccl=silent))
    assert results[("train-h200", "nccl")].reason == "no NCCL init line shows Libfabric: the transport is unproven"


def test_failed_and_never_admitted_jobs() -> None:
    found = scenarios(nccl=Scenario(((0, "pending", ""), (10, "running", ""), (40, "failed", "BackoffLimitExceeded")), {}))
    found["gpufleet-dcgm-lab-l4"] = Scenario(((0, "pending", "couldn't assign flavors to pod set main"),))
    results, _, _ = run(found, timeout=300)
    assert results[("train-h200", "nccl")].reason == "job failed: BackoffLimitExceeded"
    assert results[("lab-l4", "dcgm")].reason == "no result within 300 s (pods still pending or running)"


def test_dcgm_failure_and_a_node_missing() -> None:
    found = scenarios()
    found["gpufleet-dcgm-serve-h100"] = Scenario(
        FINISHES.timeline, {"a": sample("dcgm_r2_fail_go_dcgm52.txt"), "b": sample("dcgm_r2_pass_issue198.txt")}
    )
    found["gpufleet-dcgm-lab-l4"] = Scenario(FINISHES.timeline, {"a": sample("dcgm_r2_pass_issue198.txt")})
    results, _, _ = run(found)
    assert results[("serve-h100", "dcgm")].reason == "a: Hardware/GPU Memory"
    assert results[("lab-l4", "dcgm")].reason == "1 of 2 nodes ran the diagnostic"


def test_jobs_pulumi_created_are_read_and_left_in_place() -> None:
    """With ``validation.create`` the program created these very objects (same plan, same
    names): verify reads their status and logs instead of creating them, and never deletes
    what Pulumi owns. The API answers a second create of a name with AlreadyExists."""
    clock = FakeClock()
    planned = replace(checks(), create=True)
    cluster = FakeCluster(clock, scenarios())
    for manifest in planned.manifests():  # what `pulumi up` applied an hour earlier
        cluster.create(manifest)
    clock.t += 3600
    results = run_checks(planned, cluster, timeout=600, poll=15, clock=clock.clock())
    assert all(r.passed for r in results), [r.reason for r in results if not r.passed]
    assert len(cluster.created) == len(planned.manifests())
    assert clock.t == 3600  # finished long ago: no wait


def test_a_leftover_job_without_create_is_not_trusted() -> None:
    """Without ``validation.create`` nothing but verify makes these jobs: one already there was
    left by an interrupted run, perhaps of an older plan, so its result proves nothing now."""
    clock = FakeClock()
    cluster = FakeCluster(clock, scenarios())
    leftover = next(m for m in checks().manifests() if m["kind"] == "MPIJob")
    cluster.create(leftover)
    results = {(r.pool, r.check): r for r in run_checks(checks(), cluster, timeout=600, poll=15, clock=clock.clock())}
    nccl = results[("train-h200", "nccl")]
    assert not nccl.passed
    assert "left by an earlier run; delete it (kubectl delete MPIJob gpufleet-nccl-train-h200 -n" in nccl.reason
    assert results[("train-h200", "dcgm")].passed


def test_kubectl_names_an_existing_object_by_the_apis_reason(monkeypatch) -> None:
    """kubectl prints the API status reason in parentheses: ``Error from server (AlreadyExists)``;
    anything else (an unknown kind, a refused request) stays a plain cluster error."""
    answers = iter(
        [
            (1, 'Error from server (AlreadyExists): error when creating "STDIN": jobs.batch "x" already exists'),
            (1, 'error: resource mapping not found for name: "x": no matches for kind "MPIJob"'),
        ]
    )

    def fake_run(*_args, **_kwargs):
        code, stderr = next(answers)
        return subprocess.CompletedProcess([], code, "", stderr)

    monkeypatch.setattr(cluster_module.shutil, "which", lambda name: f"/usr/bin/{name}")
    monkeypatch.setattr(cluster_module.subprocess, "run", fake_run)
    kubectl = cluster_module.Kubectl()
    job = {"kind": "Job", "metadata": {"name": "x", "namespace": "default"}}
    with pytest.raises(AlreadyExists):
        kubectl.create(job)
    with pytest.raises(ClusterError) as refused:
        kubectl.create(job)
    assert not isinstance(refused.value, AlreadyExists)


def test_a_cluster_without_the_mpi_operator_refuses_the_nccl_job() -> None:
    results, _, _ = run(scenarios(), serves=frozenset({"Job"}))
    nccl = results[("train-h200", "nccl")]
    assert nccl.reason == 'not created: no matches for kind "MPIJob" in version "kubeflow.org/v2beta1"'
    assert results[("train-h200", "dcgm")].passed


@pytest.mark.parametrize(
    ("kind", "status", "phase"),
    [
        ("Job", {}, "pending"),
        ("Job", {"active": 2}, "running"),
        ("Job", {"conditions": [{"type": "Complete", "status": "True"}]}, "succeeded"),
        ("Job", {"conditions": [{"type": "Failed", "status": "True", "reason": "DeadlineExceeded"}]}, "failed"),
        ("MPIJob", {"conditions": [{"type": "Created", "status": "True"}, {"type": "Running", "status": "True"}]}, "running"),
        ("MPIJob", {"conditions": [{"type": "Suspended", "status": "True", "message": "suspended by Kueue"}]}, "pending"),
        (
            "MPIJob",
            {"conditions": [{"type": "Running", "status": "False"}, {"type": "Succeeded", "status": "True"}]},
            "succeeded",
        ),
    ],
)
def test_status_reads_job_and_mpijob_conditions(kind: str, status: dict, phase: str) -> None:
    """batch/v1 Jobs end with a Complete or Failed condition and count ``active`` pods; the MPI
    operator's MPIJob reports Created, Running, Succeeded, Failed and Suspended conditions."""
    assert job_status(kind, status).phase == phase


def test_cli_prints_json_and_exits_one_when_a_pool_fails(monkeypatch) -> None:
    clock = FakeClock()
    found = scenarios(
        nccl=Scenario(((0, "succeeded", ""),), {"launcher": ranks(2) + "\n" + sample("nccl_socket_fallback_issue857.log")})
    )
    found = {name: Scenario(((0, "succeeded", ""),), s.logs) for name, s in found.items()}
    monkeypatch.setattr(cluster_module, "Kubectl", lambda kubeconfig, context: FakeCluster(clock, found))
    outcome = CliRunner().invoke(app, ["verify", str(STAGING), "--json"])
    assert outcome.exit_code == 1, outcome.output
    report = json.loads(outcome.stdout)
    assert report["passed"] is False
    assert [(r["pool"], r["check"], r["passed"]) for r in report["results"]] == [
        ("lab-l4", "dcgm", True),
        ("serve-h100", "dcgm", True),
        ("train-h200", "dcgm", True),
        ("train-h200", "nccl", False),
    ]
    assert {s["pool"] for s in report["skipped"]} == {"lab-l4", "serve-h100", "system"}
