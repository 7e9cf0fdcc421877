"""Run a fleet's validation jobs on a cluster and judge them: DCGM first (every pool at once),
then NCCL, since both take every GPU of a pool's nodes."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from gpufleet.model.validation import DcgmJob, NcclJob, ValidationPlan
from gpufleet.verify.cluster import Cluster, ClusterError, JobRef, JobStatus
from gpufleet.verify.judge import CheckResult, judge_dcgm, judge_nccl

Progress = Callable[[str], None]


@dataclass(frozen=True)
class Clock:
    now: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep


def run_checks(
    plan: ValidationPlan,
    cluster: Cluster,
    timeout: float,
    poll: float = 10.0,
    clock: Clock | None = None,
    progress: Progress | None = None,
) -> list[CheckResult]:
    clock = clock or Clock()
    results = _phase(plan.dcgm, cluster, timeout, poll, clock, progress, judge_dcgm)
    return results + _phase(plan.nccl, cluster, timeout, poll, clock, progress, judge_nccl)


def _phase(
    jobs: Sequence[DcgmJob] | Sequence[NcclJob],
    cluster: Cluster,
    timeout: float,
    poll: float,
    clock: Clock,
    progress: Progress | None,
    judge: Callable,
) -> list[CheckResult]:
    results: dict[str, CheckResult] = {}
    refs: dict[str, JobRef] = {}
    for job in jobs:
        try:
            refs[job.name] = cluster.create(job.manifest())
        except ClusterError as error:
            results[job.name] = CheckResult(job.pool, _check(job), False, f"not created: {error}")
    finished: dict[str, JobStatus] = {}
    deadline = clock.now() + timeout
    while True:
        for name, ref in refs.items():
            if name not in finished:
                status = cluster.status(ref)
                if status.done:
                    finished[name] = status
        if progress is not None:
            progress(_summary(jobs, refs, finished, deadline - clock.now()))
        if len(finished) == len(refs) or clock.now() >= deadline:
            break
        clock.sleep(min(poll, max(deadline - clock.now(), 0)))
    for job in jobs:
        if job.name not in refs:
            continue
        ref = refs[job.name]
        logs = cluster.logs(ref)
        results[job.name] = judge(job, finished.get(job.name), logs, timeout)
        cluster.delete(ref)
    return [results[job.name] for job in jobs]


def _check(job: DcgmJob | NcclJob) -> str:
    return "dcgm" if isinstance(job, DcgmJob) else "nccl"


def _summary(jobs, refs, finished, left: float) -> str:
    kind = _check(jobs[0]) if jobs else ""
    return f"{kind}: {len(finished)} of {len(refs)} job(s) finished, {max(left, 0):.0f} s left"
