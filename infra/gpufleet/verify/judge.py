"""Pass or fail per pool, from a job's end state and its logs, against the catalog's floors."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from gpufleet.model.validation import DcgmJob, NcclJob
from gpufleet.verify.cluster import JobStatus
from gpufleet.verify.dcgm import DcgmUnreadable, parse_dcgm
from gpufleet.verify.nccl import parse_nccl_log

# What the init log must show for each pinned transport (the names aws-ofi-nccl and NCCL print).
EXPECTED_NETWORK = {"efa": "ofi", "infiniband": "ib"}


@dataclass(frozen=True)
class CheckResult:
    pool: str
    check: str
    passed: bool
    reason: str
    busbw_gbs: float | None = None
    floor: dict[str, Any] | None = field(default=None, hash=False)

    def as_json(self) -> dict[str, Any]:
        return {
            "pool": self.pool,
            "check": self.check,
            "passed": self.passed,
            "reason": self.reason,
            "busbw_gbs": self.busbw_gbs,
            "floor": self.floor,
        }


def judge_dcgm(job: DcgmJob, status: JobStatus | None, logs: dict[str, str], timeout: float) -> CheckResult:
    if status is None:
        return CheckResult(job.pool, "dcgm", False, f"no result within {timeout:g} s (pods still pending or running)")
    if status.phase == "failed" and not logs:
        return CheckResult(job.pool, "dcgm", False, f"job failed: {status.message or 'no message'}")
    if len(logs) < job.nodes:
        return CheckResult(job.pool, "dcgm", False, f"{len(logs)} of {job.nodes} nodes ran the diagnostic")
    problems = []
    for pod, text in sorted(logs.items()):
        try:
            report = parse_dcgm(text)
        except DcgmUnreadable as error:
            problems.append(f"{pod}: {error}")
            continue
        if not report.passed:
            failed = ", ".join(f"{t.category}/{t.name}" for t in report.failed) or "no test passed"
            problems.append(f"{pod}: {failed}")
    if problems:
        return CheckResult(job.pool, "dcgm", False, "; ".join(problems))
    return CheckResult(job.pool, "dcgm", True, f"dcgmi diag -r {job.level} passed on {job.nodes} node(s)")


def judge_nccl(job: NcclJob, status: JobStatus | None, logs: dict[str, str], timeout: float) -> CheckResult:
    floor = None
    if job.floor is not None:
        floor = {
            "busbw_gbs": job.floor.busbw_gbs,
            "min_nodes": job.floor.min_nodes,
            "algorithm": job.floor.algorithm,
            "basis": job.floor.basis,
        }

    def result(passed: bool, reason: str, busbw: float | None = None) -> CheckResult:
        return CheckResult(job.pool, "nccl", passed, reason, busbw, floor)

    log = parse_nccl_log("\n".join(logs[pod] for pod in sorted(logs)))
    if log.network == "socket":
        shown = ", ".join(log.socket_interfaces) or "?"
        return result(False, f"NCCL fell back to TCP sockets ({shown}) instead of {job.transport.net}")
    if status is None:
        return result(False, f"hang: no result within {timeout:g} s (network {log.network}, {len(log.rows)} sizes done)")
    expected_ranks = job.ranks
    if log.ranks and (len(log.ranks) < expected_ranks or len(log.hosts) < job.nodes):
        return result(False, f"partial gang: {len(log.ranks)} of {expected_ranks} ranks on {len(log.hosts)} of {job.nodes} nodes")
    if status.phase == "failed":
        return result(False, f"job failed: {status.message or 'no message'}")
    if log.network != EXPECTED_NETWORK[job.transport.fabric]:
        return result(False, f"no NCCL init line shows {job.transport.net}: the transport is unproven")
    if job.transport.fabric == "efa" and log.ofi_provider not in (None, "efa"):
        return result(False, f"libfabric chose provider {log.ofi_provider}, not efa")
    largest = log.largest
    if not log.finished or largest is None:
        return result(False, "all_reduce_perf printed no summary: it did not run to the end")
    if log.wrong_results:
        return result(False, f"{log.wrong_results} wrong or out-of-bounds values", largest.busbw_gbs)
    if job.floor is None:
        return result(
            True, f"{largest.busbw_gbs:g} GB/s busbw; no floor: the catalog has no NIC figures for these nodes", largest.busbw_gbs
        )
    if largest.busbw_gbs < job.floor.busbw_gbs:
        return result(
            False, f"{largest.busbw_gbs:g} GB/s busbw is below the {job.floor.busbw_gbs:g} GB/s floor", largest.busbw_gbs
        )
    return result(True, f"{largest.busbw_gbs:g} GB/s busbw beats the {job.floor.busbw_gbs:g} GB/s floor", largest.busbw_gbs)
