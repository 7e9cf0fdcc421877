"""Default thresholds of the policy pack, each with its sources, from ``data/policy.yaml``.

The pack exposes each as policy config, so a stack overrides it through the standard policy
config file; these are the values used when it does not.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from gpufleet.catalog import read_data_file

T = TypeVar("T")


class Threshold(BaseModel, Generic[T]):
    model_config = ConfigDict(frozen=True, extra="forbid")

    value: T
    kind: str
    sources: tuple[str, ...] = Field(min_length=1)


class PolicyDefaults(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    sources: dict[str, str]
    training_read_mbs_per_gpu: Threshold[float]
    optimizer_state_bytes_per_parameter: Threshold[float]
    kv_cache_margin: Threshold[float]
    precision_bytes: Threshold[dict[str, float]]
    expensive_gpus_per_node: Threshold[int]
    fast_tier_min_gpus: Threshold[int]

    def cited(self, threshold: Threshold[Any]) -> str:
        """The sources of one threshold, as text a policy's config schema can show."""
        return "; ".join(self.sources[key] for key in threshold.sources)


@lru_cache(maxsize=1)
def load_policy_defaults() -> PolicyDefaults:
    defaults = PolicyDefaults.model_validate(read_data_file("policy.yaml"))
    for name in PolicyDefaults.model_fields:
        threshold = getattr(defaults, name)
        if isinstance(threshold, Threshold):
            unknown = set(threshold.sources) - set(defaults.sources)
            if unknown:
                raise ValueError(f"policy.yaml: {name} cites unknown sources {sorted(unknown)}")
    return defaults
