"""A cluster that behaves like the API server for the calls ``gpufleet verify`` makes.

Jobs move through phases on a fake clock as a scenario says (pending until admitted, running,
then succeeded or failed, or never ending); kinds the cluster does not serve are refused at
create as the API refuses an unknown kind; a deleted job is gone.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from gpufleet.verify.cluster import AlreadyExists, ClusterError, JobRef, JobStatus
from gpufleet.verify.run import Clock


@dataclass
class FakeClock:
    t: float = 0.0

    def clock(self) -> Clock:
        return Clock(now=lambda: self.t, sleep=self._sleep)

    def _sleep(self, seconds: float) -> None:
        self.t += seconds


@dataclass(frozen=True)
class Scenario:
    """Phases after creation: ``(seconds, phase, message)``; logs appear once the pods run."""

    timeline: tuple[tuple[float, str, str], ...]
    logs: dict[str, str] = field(default_factory=dict)


FINISHES = Scenario(((0, "pending", "Workload is waiting for quota"), (30, "running", ""), (90, "succeeded", "")))


@dataclass
class FakeCluster:
    clock: FakeClock
    scenarios: dict[str, Scenario]
    serves: frozenset[str] = frozenset({"Job", "MPIJob"})
    created: dict[JobRef, float] = field(default_factory=dict)
    manifests: dict[JobRef, dict] = field(default_factory=dict)

    def create(self, manifest: dict) -> JobRef:
        ref = JobRef.of(manifest)
        if ref.kind not in self.serves:
            raise ClusterError(f'no matches for kind "{ref.kind}" in version "{manifest["apiVersion"]}"')
        if ref in self.created:
            raise AlreadyExists(f'Error from server (AlreadyExists): {ref.kind.lower()}s "{ref.name}" already exists')
        self.created[ref] = self.clock.t
        self.manifests[ref] = manifest
        return ref

    def _phase(self, ref: JobRef) -> tuple[str, str]:
        if ref not in self.created:
            raise ClusterError(f'{ref.kind.lower()}s "{ref.name}" not found')
        age = self.clock.t - self.created[ref]
        phase = ("pending", "")
        for after, name, message in self.scenarios[ref.name].timeline:
            if age >= after:
                phase = (name, message)
        return phase

    def status(self, ref: JobRef) -> JobStatus:
        phase, message = self._phase(ref)
        return JobStatus(phase, message)

    def logs(self, ref: JobRef) -> dict[str, str]:
        phase, _ = self._phase(ref)
        return {} if phase == "pending" else dict(self.scenarios[ref.name].logs)

    def delete(self, ref: JobRef) -> None:
        self._phase(ref)
        del self.created[ref]
