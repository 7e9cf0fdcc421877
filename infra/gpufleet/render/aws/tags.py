"""Tags every AWS resource of a fleet carries, so cost and ownership reports can group them."""

from __future__ import annotations


def tags(cluster_name: str, **extra: str) -> dict[str, str]:
    return {"gpufleet:cluster": cluster_name, "managed-by": "gpufleet", **extra}
