"""The jobs that prove a fleet after apply: DCGM diagnostics per node and an NCCL all-reduce per fabric pool.

Decided once per resolution into ``FleetPlan.validation`` from the pools and the
``KubernetesPlan`` (queues, device counts), so every job asks what a training job on its pool
would: the pool's devices per node, its huge pages, its taints' tolerations, its node selector,
its Kueue queue and, where EC2 publishes the type's network layers, a topology preference.
``manifest()`` gives each job as a plain Kubernetes object: the preview writes exactly these,
the program creates exactly these when the stack asks (``validation.create``), and
``gpufleet verify`` applies exactly these.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from gpufleet import names
from gpufleet.catalog import Catalog
from gpufleet.catalog.fabric import BusBandwidthFloor, MpiOperatorFacts
from gpufleet.catalog.models import InstanceType
from gpufleet.model.kubernetes import GPU_RESOURCE, KubernetesPlan, Toleration
from gpufleet.model.kubernetes_decisions import pool_devices, pool_selector, toleration
from gpufleet.model.plan import LaunchedNodes, Pool
from gpufleet.model.reasons import Reason
from gpufleet.model.topology import PlacementPlan, PoolTopology

Json = dict[str, Any]

CHECK_LABEL = names.CHECK_LABEL
JOB_LABEL = names.JOB_LABEL
# Whose log holds the result: every DCGM pod, the NCCL launcher (the workers only run sshd).
ROLE_LABEL = names.ROLE_LABEL
POOL_LABEL = names.POOL_LABEL
QUEUE_LABEL = "kueue.x-k8s.io/queue-name"
# Kueue's topology-aware scheduling reads these pod-template annotations: keep the pods under one
# value of the label if it can (preferred) or always (required); a pod set with neither may still
# be placed anywhere on a topology flavor (unconstrained), which a flavor with a Topology demands
# of every pod set unless its ClusterQueue holds topology flavors only.
PREFERRED_TOPOLOGY = "kueue.x-k8s.io/podset-preferred-topology"
REQUIRED_TOPOLOGY = "kueue.x-k8s.io/podset-required-topology"
UNCONSTRAINED_TOPOLOGY = "kueue.x-k8s.io/podset-unconstrained-topology"
HOSTNAME = "kubernetes.io/hostname"
# Pulumi's Kubernetes provider otherwise waits for a created Job to complete; a check's result
# is read by `gpufleet verify`, not by `pulumi up`.
SKIP_AWAIT = "pulumi.com/skipAwait"
DEFAULT_NAMESPACE = "default"
NCCL_TESTS_BINARY = "/opt/nccl-tests/build/all_reduce_perf"
# The launcher only runs mpirun and ssh; a worker also hosts its ranks' CPU threads.
LAUNCHER_CPU, LAUNCHER_MEMORY = "1", "1Gi"
WORKER_CPU, WORKER_MEMORY = "8", "32Gi"
DCGM_CPU, DCGM_MEMORY = "4", "8Gi"


@dataclass(frozen=True)
class TopologyRequest:
    """How the check's gang asks Kueue to keep it close, on a pool whose flavor names a Topology."""

    level: str
    """The node label whose value the pods should share."""
    required: bool
    """The stack's ``jobs.within``: a training job must fit there, so the check must too."""
    reason: str

    def annotations(self) -> dict[str, str]:
        return {REQUIRED_TOPOLOGY if self.required else PREFERRED_TOPOLOGY: self.level}


@dataclass(frozen=True)
class Placement:
    """Where a pool's training pods land and which queue admits them."""

    namespace: str
    queue: str | None
    node_selector: dict[str, str] = field(hash=False)
    tolerations: tuple[Toleration, ...]
    topology: TopologyRequest | None
    reason: str

    def labels(self) -> dict[str, str]:
        return {QUEUE_LABEL: self.queue} if self.queue else {}

    def anywhere(self) -> dict[str, str]:
        """A pod set's annotations when it need not be close (DCGM, the NCCL launcher): on a
        topology flavor, unconstrained; elsewhere none."""
        return {UNCONSTRAINED_TOPOLOGY: "true"} if self.topology is not None else {}


@dataclass(frozen=True)
class Transport:
    """How NCCL must reach the other nodes, pinned so a missing plugin fails instead of falling back."""

    fabric: Literal["efa", "infiniband"]
    net: str
    """``NCCL_NET``: NCCL refuses to start when no network of this name loads."""
    env: dict[str, str] = field(hash=False)


@dataclass(frozen=True)
class DcgmJob:
    pool: str
    name: str
    nodes: int
    image: str
    level: int
    requests: dict[str, int | str] = field(hash=False)
    placement: Placement

    @property
    def command(self) -> list[str]:
        """The image ships the host engine that ``dcgmi`` talks to; it daemonizes, then the diagnostic runs."""
        return ["/bin/sh", "-c", f"nv-hostengine && dcgmi diag -r {self.level} -j"]

    def manifest(self) -> Json:
        """One Indexed Job of ``nodes`` pods, never two on a node: each takes every device its node offers."""
        labels = {CHECK_LABEL: "dcgm", POOL_LABEL: self.pool}
        pod_metadata: Json = {"labels": {**labels, JOB_LABEL: self.name, ROLE_LABEL: "diagnostic"}}
        if self.placement.anywhere():
            pod_metadata["annotations"] = self.placement.anywhere()
        pod: Json = {
            "restartPolicy": "Never",
            "nodeSelector": dict(self.placement.node_selector),
            "tolerations": [t.manifest() for t in self.placement.tolerations],
            "affinity": {
                "podAntiAffinity": {
                    "requiredDuringSchedulingIgnoredDuringExecution": [
                        {"labelSelector": {"matchLabels": dict(labels)}, "topologyKey": HOSTNAME}
                    ]
                }
            },
            "containers": [
                {
                    "name": "dcgm",
                    "image": self.image,
                    "command": self.command,
                    "resources": _resources(self.requests, DCGM_CPU, DCGM_MEMORY),
                }
            ],
        }
        return {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {
                "name": self.name,
                "namespace": self.placement.namespace,
                "labels": {**labels, **self.placement.labels()},
                "annotations": {SKIP_AWAIT: "true"},
            },
            "spec": {
                "completionMode": "Indexed",
                "completions": self.nodes,
                "parallelism": self.nodes,
                "backoffLimit": 0,
                "template": {"metadata": pod_metadata, "spec": pod},
            },
        }


@dataclass(frozen=True)
class NcclJob:
    pool: str
    name: str
    nodes: int
    gpus_per_node: int
    image: str
    transport: Transport
    floor: BusBandwidthFloor | None
    """None where the catalog knows nothing of the nodes' NICs (existing nodes)."""
    requests: dict[str, int | str] = field(hash=False)
    placement: Placement
    max_message: str

    @property
    def ranks(self) -> int:
        return self.nodes * self.gpus_per_node

    @property
    def command(self) -> list[str]:
        exported = [arg for key in sorted(self.transport.env) for arg in ("-x", f"{key}={self.transport.env[key]}")]
        return [
            "/opt/amazon/openmpi/bin/mpirun",
            "--allow-run-as-root",
            "-np",
            str(self.ranks),
            "-N",
            str(self.gpus_per_node),
            "--bind-to",
            "none",
            *exported,
            NCCL_TESTS_BINARY,
            "-b",
            "8",
            "-e",
            self.max_message,
            "-f",
            "2",
            "-g",
            "1",
            "-c",
            "1",
        ]

    def manifest(self) -> Json:
        """An MPIJob (kubeflow.org/v2beta1), the shape AWS's EFA-on-EKS NCCL test uses; the
        launcher carries the pool's placement too, since Kueue gives every pod set the flavor's."""
        labels = {CHECK_LABEL: "nccl", POOL_LABEL: self.pool}
        placement = self.placement
        common: Json = {
            "nodeSelector": dict(placement.node_selector),
            "tolerations": [t.manifest() for t in placement.tolerations],
        }
        worker_metadata: Json = {"labels": {**labels, JOB_LABEL: self.name, ROLE_LABEL: "worker"}}
        launcher_metadata: Json = {"labels": {**labels, JOB_LABEL: self.name, ROLE_LABEL: "launcher"}}
        if placement.topology is not None:
            worker_metadata["annotations"] = placement.topology.annotations()
            launcher_metadata["annotations"] = placement.anywhere()
        launcher = {
            "replicas": 1,
            "template": {
                "metadata": launcher_metadata,
                "spec": {
                    **common,
                    "restartPolicy": "Never",
                    "containers": [
                        {
                            "name": "launcher",
                            "image": self.image,
                            "command": self.command,
                            "resources": _resources({}, LAUNCHER_CPU, LAUNCHER_MEMORY),
                        }
                    ],
                },
            },
        }
        worker = {
            "replicas": self.nodes,
            "template": {
                "metadata": worker_metadata,
                "spec": {
                    **common,
                    "containers": [
                        {
                            "name": "worker",
                            "image": self.image,
                            "command": ["/usr/sbin/sshd", "-De"],
                            "resources": _resources(self.requests, WORKER_CPU, WORKER_MEMORY),
                            "securityContext": {"capabilities": {"add": ["IPC_LOCK"]}},
                            "volumeMounts": [{"name": "dshm", "mountPath": "/dev/shm"}],
                        }
                    ],
                    "volumes": [{"name": "dshm", "emptyDir": {"medium": "Memory"}}],
                },
            },
        }
        return {
            "apiVersion": "kubeflow.org/v2beta1",
            "kind": "MPIJob",
            "metadata": {"name": self.name, "namespace": placement.namespace, "labels": {**labels, **placement.labels()}},
            "spec": {
                "slotsPerWorker": self.gpus_per_node,
                "runPolicy": {"cleanPodPolicy": "Running", "backoffLimit": 0},
                "mpiReplicaSpecs": {"Launcher": launcher, "Worker": worker},
            },
        }


@dataclass(frozen=True)
class MpiOperatorPlan:
    """The controller MPIJobs need, applied from its release manifest by the same program."""

    version: str
    manifest: str
    namespace: str
    reason: str


@dataclass(frozen=True)
class PoolChecks:
    """One pool's checks: what the program creates as one component when the stack asks."""

    pool: str
    dcgm: DcgmJob
    nccl: NcclJob | None

    @property
    def jobs(self) -> tuple[DcgmJob | NcclJob, ...]:
        return (self.dcgm,) if self.nccl is None else (self.dcgm, self.nccl)

    @property
    def namespace(self) -> str:
        return self.dcgm.placement.namespace


@dataclass(frozen=True)
class ValidationPlan:
    dcgm: tuple[DcgmJob, ...]
    nccl: tuple[NcclJob, ...]
    skipped: tuple[Reason, ...]
    create: bool
    """Whether ``pulumi up`` creates the jobs (``validation.create``); ``gpufleet verify`` runs them either way."""
    mpi_operator: MpiOperatorPlan | None
    """Installed wherever an NCCL check exists: without it the cluster refuses the MPIJob kind."""

    def manifests(self) -> list[Json]:
        return [job.manifest() for job in self.dcgm] + [job.manifest() for job in self.nccl]

    def per_pool(self) -> tuple[PoolChecks, ...]:
        nccl = {job.pool: job for job in self.nccl}
        return tuple(PoolChecks(job.pool, job, nccl.get(job.pool)) for job in self.dcgm)

    def summary(self) -> dict[str, Any]:
        """Every check with what it asks and why it lands where it does, for ``validate --json``."""
        jobs = []
        every: tuple[DcgmJob | NcclJob, ...] = (*self.dcgm, *self.nccl)
        for job in every:
            placement = job.placement
            record: dict[str, Any] = {
                "pool": job.pool,
                "check": "dcgm" if isinstance(job, DcgmJob) else "nccl",
                "kind": job.manifest()["kind"],
                "name": job.name,
                "namespace": placement.namespace,
                "nodes": job.nodes,
                "requests": dict(job.requests),
                "queue": placement.queue,
                "queue_reason": placement.reason,
                "topology": {
                    "level": placement.topology.level,
                    "required": placement.topology.required,
                    "reason": placement.topology.reason,
                }
                if placement.topology
                else None,
            }
            if isinstance(job, NcclJob):
                record["floor"] = (
                    {"busbw_gbs": job.floor.busbw_gbs, "basis": job.floor.basis, "reason": job.floor.reason}
                    if job.floor
                    else None
                )
            jobs.append(record)
        operator = self.mpi_operator
        return {
            "create": self.create,
            "jobs": jobs,
            "skipped": {reason.subject: reason.why for reason in self.skipped},
            "mpi_operator": {"version": operator.version, "manifest": operator.manifest, "reason": operator.reason}
            if operator
            else None,
        }


def validation_plan(
    pools: tuple[Pool, ...], kubernetes: KubernetesPlan, placement: PlacementPlan, catalog: Catalog, *, create: bool
) -> ValidationPlan:
    dcgm, nccl, skipped = [], [], []
    for pool in pools:
        if pool.accelerator is None or pool.accelerator.vendor != "nvidia":
            skipped.append(Reason(pool.name, "no NVIDIA GPUs: DCGM and NCCL do not apply"))
            continue
        choice = placement.pools.get(pool.name)
        where = _placement(pool, kubernetes, choice)
        requests = per_node_requests(pool, catalog)
        facts = catalog.fabric
        dcgm.append(
            DcgmJob(pool.name, f"gpufleet-dcgm-{pool.name}", pool.nodes.max, facts.dcgm.image, facts.dcgm.level, requests, where)
        )
        reason = _no_nccl(pool, catalog) or _single_node_jobs(choice, catalog)
        if reason:
            skipped.append(Reason(pool.name, reason))
            continue
        instance = _instance(pool)
        floor = catalog.fabric.floor(instance, pool.accelerator) if instance is not None else None
        nccl.append(
            NcclJob(
                pool=pool.name,
                name=f"gpufleet-nccl-{pool.name}",
                nodes=choice.job_nodes if choice else pool.nodes.max,
                gpus_per_node=pool.gpus_per_node,
                image=facts.nccl.image,
                transport=_transport(pool, catalog),
                floor=floor,
                requests=requests,
                placement=where,
                max_message=facts.nccl.max_message,
            )
        )
    operator = _mpi_operator(catalog.fabric.mpi_operator, [job.pool for job in nccl])
    return ValidationPlan(tuple(dcgm), tuple(nccl), tuple(skipped), create, operator)


def _single_node_jobs(choice: PoolTopology | None, catalog: Catalog) -> str | None:
    if choice is not None and choice.job_nodes < catalog.fabric.nccl.min_nodes:
        return f"its largest job spans {choice.job_nodes} node: no all-reduce crosses the fabric"
    return None


def _mpi_operator(facts: MpiOperatorFacts, pools: list[str]) -> MpiOperatorPlan | None:
    if not pools:
        return None
    why = (
        f"the NCCL check of {', '.join(pools)} is an MPIJob, a kind only the MPI operator serves "
        "(and the one AWS's NCCL test on EKS uses); Kueue admits MPIJobs by default"
    )
    return MpiOperatorPlan(facts.version, facts.manifest, facts.namespace, why)


def per_node_requests(pool: Pool, catalog: Catalog) -> dict[str, int | str]:
    """Every device a node of the pool offers, and its huge pages: what a training pod there takes.

    The shared RDMA plugin's count is how many pods may share the HCAs, not a device count: one
    share gives a pod every HCA, so one is what a training pod asks.
    """
    nodes = pool.nodes.max
    requests: dict[str, int | str] = {}
    for resource, total in pool_devices(pool, catalog).items():
        shared_rdma = resource.startswith(f"{catalog.kubernetes.rdma.resource_prefix}/")
        requests[resource] = 1 if shared_rdma else total // nodes
    hugepages = pool.source.efa_hugepages if isinstance(pool.source, LaunchedNodes) else None
    if hugepages:
        requests["hugepages-2Mi"] = f"{hugepages * 2}Mi"
    return dict(sorted(requests.items()))


def _instance(pool: Pool) -> InstanceType | None:
    """The instance type of nodes gpufleet launches; existing nodes have none the catalog knows."""
    return pool.source.instance if isinstance(pool.source, LaunchedNodes) else None


def _no_nccl(pool: Pool, catalog: Catalog) -> str | None:
    if pool.fabric is None or not pool.fabric.rdma:
        return "no RDMA fabric: multi-node jobs would run over TCP, so no all-reduce floor applies"
    if pool.accelerator is None:
        return "no GPUs: no all-reduce to run"
    if pool.accelerator.name in catalog.fabric.nccl.not_nccl:
        return catalog.fabric.nccl.not_nccl[pool.accelerator.name]
    if pool.nodes.max < catalog.fabric.nccl.min_nodes:
        return f"at most {pool.nodes.max} node: an all-reduce over the fabric needs {catalog.fabric.nccl.min_nodes}"
    efa = pool.source.efa if isinstance(pool.source, LaunchedNodes) else None
    if pool.fabric.kind == "efa" and (efa is None or efa.efa_count == 0):
        return f"{pool.node_kind} has no EFA interface on this fabric"
    if GPU_RESOURCE not in pool_devices(pool, catalog):
        return "every GPU is MIG-partitioned: NCCL ranks need whole GPUs"
    return None


def _transport(pool: Pool, catalog: Catalog) -> Transport:
    nccl = catalog.fabric.nccl
    env = {
        "NCCL_DEBUG": "INFO",
        "NCCL_DEBUG_SUBSYS": "INIT,NET",
        "NCCL_ALGO": nccl.algorithm,
        "NCCL_SOCKET_IFNAME": nccl.socket_ifname,
    }
    if pool.fabric is not None and pool.fabric.kind == "efa":
        env |= {
            "NCCL_NET": nccl.efa.net,
            "FI_PROVIDER": nccl.efa.provider or "efa",
            "LD_LIBRARY_PATH": f"{nccl.plugin_library_path}:/opt/amazon/efa/lib:/opt/amazon/openmpi/lib",
        }
        return Transport("efa", nccl.efa.net, env)
    env["NCCL_NET"] = nccl.infiniband.net
    return Transport("infiniband", nccl.infiniband.net, env)


def _placement(pool: Pool, kubernetes: KubernetesPlan, choice: PoolTopology | None) -> Placement:
    """The pool's own queue: the LocalQueue pointing at the ClusterQueue of the pool's workload
    class that holds the pool's flavor, in the first namespace that has one; and, where the flavor
    names a Topology, the level the gang keeps to (the stack's ``jobs.within``, else the network
    layer nearest the node as a preference)."""
    queue, namespace, why = None, DEFAULT_NAMESPACE, "no Kueue queue reaches this pool: the job runs unqueued"
    if kubernetes.queues is not None:
        own = [
            cq.name
            for cq in kubernetes.queues.cluster_queues
            if cq.workload == pool.workload and pool.name in {q.flavor for q in cq.flavors}
        ]
        local = [lq for lq in kubernetes.queues.local_queues if lq.cluster_queue in own]
        if local:
            queue, namespace = local[0].name, local[0].namespace
            why = f"LocalQueue {queue} in {namespace}, the first namespace submitting {pool.workload} work to this pool"
    topology = None
    if choice is not None and choice.topology is not None:
        if choice.within is not None:
            topology = TopologyRequest(choice.within, True, f"the stack keeps this pool's jobs within {choice.within}")
        else:
            nearest = choice.topology.levels[-2]
            why = f"{pool.node_kind} has {len(choice.topology.levels) - 1} network layers; {nearest} is nearest the node"
            topology = TopologyRequest(nearest, False, why)
    return Placement(namespace, queue, pool_selector(pool), tuple(toleration(taint) for taint in pool.taints), topology, why)


def _resources(devices: dict[str, int | str], cpu: str, memory: str) -> Json:
    """Extended resources and huge pages must be limited at what is requested; cpu and memory too,
    so the pod is Guaranteed and huge pages have the memory request Kubernetes requires beside them."""
    amounts = {"cpu": cpu, "memory": memory, **devices}
    return {"requests": dict(amounts), "limits": dict(amounts)}
