"""Rules for the stack's Kubernetes side: what existing nodes, sharing and queues must say."""

from __future__ import annotations

from gpufleet.findings import declare

EXISTING_NODES = declare(
    "GF-K8S-001",
    "error",
    "provider kubernetes pools describe existing nodes; provider aws pools describe nodes gpufleet launches.",
    "provider kubernetes: node_selector, gpu, gpus_per_node, cpus_per_node, memory_gib_per_node; provider aws: instance_type.",
)
TIME_SLICING = declare(
    "GF-K8S-002",
    "error",
    "Only lab pools with NVIDIA GPUs and no MIG plan may time-slice their GPUs.",
    "drop sharing, or move the work to a lab pool",
)
QUEUE_NAMESPACES = declare(
    "GF-K8S-003",
    "error",
    "A queue namespace needs a pool of its workload class, and each namespace is named once.",
    "add a pool of that workload class or drop the namespace",
)
ONE_INFINIBAND_FABRIC = declare(
    "GF-K8S-004",
    "error",
    "An existing cluster has at most one InfiniBand fabric: one NicClusterPolicy serves it.",
    "merge the InfiniBand fabrics into one",
)
CLOUD_STORAGE = declare(
    "GF-K8S-005",
    "error",
    "provider kubernetes creates nothing cloud-side: no s3 or fsx-lustre tiers.",
    "use an s3/fsx-lustre tier only with provider aws",
)
