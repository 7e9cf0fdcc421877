"""Names, numbers and the limits every input is held to, in one place for every input kind.

Numbers are strict (YAML's ``true`` or a quoted ``"3"`` never passes for a count), floats
are finite, and every count or size has an upper bound that AWS, Kubernetes or the hardware
really has, or, where none exists, one gpufleet documents so that its work stays bounded
(the README's "Limits" section lists them). The bounds are facts about the world, not
about the catalog's contents, so a stack still parses without the catalog.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from gpufleet.names import NAME_PATTERN

Name = Annotated[
    str,
    Field(
        pattern=NAME_PATTERN,
        description="Lowercase letters, digits and '-', starting with a letter (at most 40): "
        "it becomes part of AWS and Kubernetes names.",
    ),
]

# Tags of unions told apart by which keys are written (a reserved price, hourly or up front):
# pydantic puts the tag in an error's path, the reader drops it again.
UNION_TAGS = frozenset({"hourly", "upfront"})

Int = Annotated[int, Field(strict=True)]
Bool = Annotated[bool, Field(strict=True)]  # not "yes", 1 or "on"
Float = Annotated[float, Field(strict=True, allow_inf_nan=False)]

# Kubernetes is designed for clusters of at most 5,000 nodes and 150,000 pods
# (https://kubernetes.io/docs/setup/best-practices/cluster-large/).
MAX_NODES = 5_000
MAX_PODS = 150_000
# EKS allows 30 managed node groups per cluster by default, adjustable
# (https://docs.aws.amazon.com/eks/latest/userguide/service-quotas.html); gpufleet takes up to
# 512, the largest fleet bench/preview.py measures.
MAX_POOLS = 512
# No AWS instance carries more than 16 accelerators (trn1.32xlarge, trn2.48xlarge: 16 Trainium;
# NVIDIA's largest boards hold 8 GPUs); tests hold the catalog to this.
MAX_ACCELERATORS_PER_NODE = 16
# MIG splits a GPU into at most 7 GPU instances (A100, H100, H200, B200).
MAX_MIG_INSTANCES_PER_GPU = 7
# The largest EC2 instances (the u7i high-memory family) have 1,920 vCPUs and 32 TiB of memory.
MAX_CPUS_PER_NODE = 4096
MAX_NODE_MEMORY_GIB = 65536
# No GPU has 1 TiB of memory (the largest in the catalog has 288 GB).
MAX_GPU_MEMORY_GIB = 1024
# The MIG planner places replicas one by one: 20,000 take about half a second.
MAX_DEMAND_REPLICAS = 20_000
# FSx StorageCapacity is an API integer of at most 2,147,483,647 GiB, 1,000 GiB per FSx TiB
# (https://docs.aws.amazon.com/fsx/latest/APIReference/API_CreateFileSystem.html).
MAX_FSX_CAPACITY_TIB = 2_147_483
# IAM access entries, fabrics, tiers, plans, labels: far more than any cluster uses, few
# enough that every check over them stays linear and quick.
MAX_ADMINS = 100
MAX_ENTRIES = 64
# The largest models published have about 2 trillion parameters.
MAX_PARAMETERS_B = 100_000
# Prices and budgets in US dollars: a trillion is far above any fleet's, and keeps sums of them
# exact and small. Reserved capacity is bought for at most 182 days as a capacity block
# (https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/ec2-capacity-blocks.html); gpufleet takes
# up to five years of hours, the longest term EC2 sells reserved capacity for.
MAX_USD = 1_000_000_000_000
MAX_RESERVATION_HOURS = 5 * 8760
# S3 holds any amount; a stated size is bounded at a zettabyte (10^12 GB).
MAX_STORAGE_GB = 1_000_000_000_000
