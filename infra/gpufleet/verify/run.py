"""Run a fleet's validation jobs on a cluster and judge them: DCGM first (every pool at once),
then NCCL, since both take every GPU of a pool's nodes.

A stack with ``validation.create`` has ``pulumi up`` create the same jobs: verify then reads
those (the same objects, from the same plan) and leaves them to Pulumi. Without it, a job of the
same name is a leftover of an interrupted run, and the check says so instead of trusting it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from gpufleet.model.validation import DcgmJob, NcclJob, ValidationPlan
from gpufleet.verify.cluster import AlreadyExists, Cluster, ClusterError, JobRef, JobStatus
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
    results = _phase(plan.dcgm, cluster, timeout, poll, clock, progress, judge_dcgm, plan.create)
    return results + _phase(plan.nccl, cluster, timeout, poll, clock, progress, judge_nccl, plan.create)


def _phase(
    jobs: Sequence[DcgmJob] | Sequence[NcclJob],
    cluster: Cluster,
    timeout: float,
    poll: float,
    clock: Clock,
    progress: Progress | None,
    judge: Callable,
    created_by_pulumi: bool,
) -> list[CheckResult]:
    results: dict[str, CheckResult] = {}
    refs: dict[str, JobRef] = {}
    ours: set[str] = set()
    for job in jobs:
        manifest = job.manifest()
        try:
            refs[job.name] = cluster.create(manifest)
            ours.add(job.name)
        except AlreadyExists as error:
            if created_by_pulumi:
                refs[job.name] = JobRef.of(manifest)
            else:
                ref = JobRef.of(manifest)
                why = f"{error}: a job left by an earlier run; delete it (kubectl delete {ref.kind} {ref.name} -n {ref.namespace}) and verify again"
                results[job.name] = CheckResult(job.pool, _check(job), False, why)
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
        if job.name in ours:  # jobs ``pulumi up`` created stay its own
            cluster.delete(ref)
    return [results[job.name] for job in jobs]


def _check(job: DcgmJob | NcclJob) -> str:
    return "dcgm" if isinstance(job, DcgmJob) else "nccl"


def _summary(jobs, refs, finished, left: float) -> str:
    kind = _check(jobs[0]) if jobs else ""
    return f"{kind}: {len(finished)} of {len(refs)} job(s) finished, {max(left, 0):.0f} s left"
