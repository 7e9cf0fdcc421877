"""The jobs that prove a fleet after apply: DCGM diagnostics per node and an NCCL all-reduce per fabric pool.

Decided once from the ``FleetPlan`` and its ``KubernetesPlan`` (queues, device counts), so every
job asks what a training job on its pool would: the pool's devices per node, its huge pages,
its taints' tolerations, its node selector, its Kueue queue and, where EC2 publishes the
type's network layers, a topology preference. ``manifest()`` gives each job as a plain
Kubernetes object; a renderer or ``gpufleet verify`` only turns that into a resource.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from gpufleet import names
from gpufleet.catalog import Catalog
from gpufleet.catalog.fabric import BusBandwidthFloor
from gpufleet.catalog.models import InstanceType
from gpufleet.model.kubernetes import GPU_RESOURCE, KubernetesPlan, Toleration
from gpufleet.model.kubernetes_decisions import pool_capacity, pool_selector, toleration
from gpufleet.model.plan import FleetPlan, LaunchedNodes, Pool
from gpufleet.model.reasons import Reason

Json = dict[str, Any]

CHECK_LABEL = names.CHECK_LABEL
JOB_LABEL = names.JOB_LABEL
# Whose log holds the result: every DCGM pod, the NCCL launcher (the workers only run sshd).
ROLE_LABEL = names.ROLE_LABEL
POOL_LABEL = names.POOL_LABEL
QUEUE_LABEL = "kueue.x-k8s.io/queue-name"
# Kueue's topology-aware scheduling reads this pod-template annotation: keep the pods under one
# value of the label if it can, anywhere otherwise (the "required" form would leave them pending).
PREFERRED_TOPOLOGY = "kueue.x-k8s.io/podset-preferred-topology"
HOSTNAME = "kubernetes.io/hostname"
DEFAULT_NAMESPACE = "default"
NCCL_TESTS_BINARY = "/opt/nccl-tests/build/all_reduce_perf"
# The launcher only runs mpirun and ssh; a worker also hosts its ranks' CPU threads.
LAUNCHER_CPU, LAUNCHER_MEMORY = "1", "1Gi"
WORKER_CPU, WORKER_MEMORY = "8", "32Gi"
DCGM_CPU, DCGM_MEMORY = "4", "8Gi"


@dataclass(frozen=True)
class TopologyRequest:
    level: str
    """The node label whose value the pods should share: the network layer nearest the instance."""
    reason: str

    def annotations(self) -> dict[str, str]:
        return {PREFERRED_TOPOLOGY: self.level}


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
        pod_labels = {**labels, JOB_LABEL: self.name, ROLE_LABEL: "diagnostic"}
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
            },
            "spec": {
                "completionMode": "Indexed",
                "completions": self.nodes,
                "parallelism": self.nodes,
                "backoffLimit": 0,
                "template": {"metadata": {"labels": pod_labels}, "spec": pod},
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
        if placement.topology is not None:
            worker_metadata["annotations"] = placement.topology.annotations()
        launcher = {
            "replicas": 1,
            "template": {
                "metadata": {"labels": {**labels, JOB_LABEL: self.name, ROLE_LABEL: "launcher"}},
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
class ValidationPlan:
    dcgm: tuple[DcgmJob, ...]
    nccl: tuple[NcclJob, ...]
    skipped: tuple[Reason, ...]

    def manifests(self) -> list[Json]:
        return [job.manifest() for job in self.dcgm] + [job.manifest() for job in self.nccl]


def validation_plan(plan: FleetPlan, catalog: Catalog) -> ValidationPlan:
    kubernetes = plan.kubernetes
    dcgm, nccl, skipped = [], [], []
    for pool in plan.pools:
        if pool.accelerator is None or pool.accelerator.vendor != "nvidia":
            skipped.append(Reason(pool.name, "no NVIDIA GPUs: DCGM and NCCL do not apply"))
            continue
        placement = _placement(pool, kubernetes, catalog)
        requests = per_node_requests(pool, catalog)
        facts = catalog.fabric
        dcgm.append(
            DcgmJob(
                pool.name, f"gpufleet-dcgm-{pool.name}", pool.nodes.max, facts.dcgm.image, facts.dcgm.level, requests, placement
            )
        )
        reason = _no_nccl(pool, catalog)
        if reason:
            skipped.append(Reason(pool.name, reason))
            continue
        instance = _instance(pool)
        floor = catalog.fabric.floor(instance, pool.accelerator) if instance is not None else None
        nccl.append(
            NcclJob(
                pool=pool.name,
                name=f"gpufleet-nccl-{pool.name}",
                nodes=pool.nodes.max,
                gpus_per_node=pool.gpus_per_node,
                image=facts.nccl.image,
                transport=_transport(pool, catalog),
                floor=floor,
                requests=requests,
                placement=placement,
                max_message=facts.nccl.max_message,
            )
        )
    return ValidationPlan(tuple(dcgm), tuple(nccl), tuple(skipped))


def per_node_requests(pool: Pool, catalog: Catalog) -> dict[str, int | str]:
    """Every device a node of the pool offers, and its huge pages: what a training pod there takes.

    The shared RDMA plugin's count is how many pods may share the HCAs, not a device count: one
    share gives a pod every HCA, so one is what a training pod asks.
    """
    nodes = pool.nodes.max
    requests: dict[str, int | str] = {}
    for resource, total in pool_capacity(pool, catalog).items():
        if resource in ("cpu", "memory"):
            continue
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
    if GPU_RESOURCE not in pool_capacity(pool, catalog):
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


def _placement(pool: Pool, kubernetes: KubernetesPlan, catalog: Catalog) -> Placement:
    """The pool's own queue: the LocalQueue pointing at the ClusterQueue of the pool's workload
    class that holds the pool's flavor, in the first namespace that has one."""
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
    instance = _instance(pool)
    if instance is not None:
        levels = catalog.fabric.topology.levels(instance.name)
        if levels:
            topology = TopologyRequest(
                levels[-1], f"{instance.name} has {len(levels)} network layers; the last is nearest the instance"
            )
    return Placement(namespace, queue, pool_selector(pool), tuple(toleration(taint) for taint in pool.taints), topology, why)


def _resources(devices: dict[str, int | str], cpu: str, memory: str) -> Json:
    """Extended resources and huge pages must be limited at what is requested; cpu and memory too,
    so the pod is Guaranteed and huge pages have the memory request Kubernetes requires beside them."""
    amounts = {"cpu": cpu, "memory": memory, **devices}
    return {"requests": dict(amounts), "limits": dict(amounts)}
