"""The cluster boundary of ``gpufleet verify``: create a job, read its status, read its logs, delete it.

``Kubectl`` drives the cluster through ``kubectl``, the tool the EKS and Kubernetes docs have
users install: it honours ``--kubeconfig``/``--context`` and every credential plugin
(``aws eks get-token``) without gpufleet adding a client library to its runtime lock.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from gpufleet.errors import GpufleetError, UsageError
from gpufleet.model.validation import JOB_LABEL, ROLE_LABEL

Phase = Literal["pending", "running", "succeeded", "failed"]
Json = dict[str, Any]


@dataclass(frozen=True)
class JobRef:
    kind: str
    namespace: str
    name: str

    @classmethod
    def of(cls, manifest: Json) -> JobRef:
        return cls(manifest["kind"], manifest["metadata"]["namespace"], manifest["metadata"]["name"])


@dataclass(frozen=True)
class JobStatus:
    phase: Phase
    message: str = ""

    @property
    def done(self) -> bool:
        return self.phase in ("succeeded", "failed")


class ClusterError(GpufleetError):
    """The cluster refused a request (no such kind, no access): the check cannot run."""


class AlreadyExists(ClusterError):
    """A job of that name is already there: created by ``pulumi up`` (``validation.create``) or left by an earlier run."""


class Cluster(Protocol):
    def create(self, manifest: Json) -> JobRef: ...

    def status(self, job: JobRef) -> JobStatus: ...

    def logs(self, job: JobRef) -> dict[str, str]:
        """Pod name -> log of the pods that hold the result (not the NCCL workers)."""
        ...

    def delete(self, job: JobRef) -> None: ...


def job_status(kind: str, status: Json) -> JobStatus:
    """A Job's or MPIJob's ``status`` as a phase: a finished condition first, then running pods."""
    conditions = {c.get("type"): c for c in status.get("conditions", []) if c.get("status") == "True"}
    ends: tuple[tuple[str, Phase], ...] = (("Complete", "succeeded"), ("Succeeded", "succeeded"), ("Failed", "failed"))
    for kind_of_end, phase in ends:
        if kind_of_end in conditions:
            return JobStatus(phase, conditions[kind_of_end].get("message", "") or conditions[kind_of_end].get("reason", ""))
    if kind == "Job":
        return JobStatus("running" if status.get("active") or status.get("ready") else "pending")
    if "Running" in conditions:
        return JobStatus("running")
    suspended = conditions.get("Suspended")
    return JobStatus("pending", suspended.get("message", "") if suspended else "")


class Kubectl:
    def __init__(self, kubeconfig: str | None = None, context: str | None = None, binary: str = "kubectl") -> None:
        found = shutil.which(binary)
        if found is None:
            raise UsageError(f"{binary} is not on PATH: gpufleet verify reaches the cluster through it")
        self._base = [found]
        if kubeconfig:
            self._base += ["--kubeconfig", kubeconfig]
        if context:
            self._base += ["--context", context]

    def _run(self, *args: str, stdin: str | None = None) -> str:
        done = subprocess.run([*self._base, *args], input=stdin, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            message = f"kubectl {' '.join(args[:3])}: {done.stderr.strip() or f'exit {done.returncode}'}"
            # kubectl prints the API's reason: 'Error from server (AlreadyExists): ...'
            raise (AlreadyExists if "(AlreadyExists)" in done.stderr else ClusterError)(message)
        return done.stdout

    def create(self, manifest: Json) -> JobRef:
        self._run("create", "-f", "-", stdin=json.dumps(manifest))
        return JobRef.of(manifest)

    def status(self, job: JobRef) -> JobStatus:
        found = json.loads(self._run("get", _resource(job), job.name, "-n", job.namespace, "-o", "json"))
        return job_status(job.kind, found.get("status") or {})

    def logs(self, job: JobRef) -> dict[str, str]:
        selector = f"{JOB_LABEL}={job.name},{ROLE_LABEL}!=worker"
        pods = json.loads(self._run("get", "pods", "-n", job.namespace, "-l", selector, "-o", "json"))
        names = sorted(pod["metadata"]["name"] for pod in pods.get("items", []))
        return {name: self._run("logs", "-n", job.namespace, name, "--all-containers") for name in names}

    def delete(self, job: JobRef) -> None:
        self._run("delete", _resource(job), job.name, "-n", job.namespace, "--ignore-not-found", "--wait=false")


def _resource(job: JobRef) -> str:
    return {"Job": "jobs.batch", "MPIJob": "mpijobs.kubeflow.org"}.get(job.kind, job.kind)
