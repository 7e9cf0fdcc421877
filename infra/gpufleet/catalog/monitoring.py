"""Typed facts for watching the GPU pools: the DCGM exporter's fields and which GPUs report them,
the other exporters' metrics the alerts read, and how Prometheus sizes its disk.

Loaded from ``data/monitoring.yaml``; the chart (kube-prometheus-stack) is pinned in ``kubernetes.yaml``.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from gpufleet.catalog.models import Accelerator, Fact

GpuNeed = Literal["profiling", "nvlink", "whole-gpu"]
NodeNeed = Literal["rdma", "infiniband"]


class ExporterFacts(Fact):
    checked: str
    version: str
    config_key: str
    service_labels: dict[str, str]
    port: str
    sources: tuple[str, ...] = Field(min_length=1)


class GpuCapabilities(Fact):
    checked: str
    profiling_architectures: tuple[str, ...]
    not_on_mig: tuple[str, ...]
    sources: tuple[str, ...] = Field(min_length=1)

    def has(self, accelerator: Accelerator, need: GpuNeed, *, mig: bool) -> bool:
        """Whether a GPU of this model (a MIG instance of it when ``mig``) reports fields that need ``need``."""
        if need == "profiling":
            return accelerator.vendor == "nvidia" and accelerator.architecture in self.profiling_architectures
        if need == "nvlink":
            return accelerator.interconnect.startswith("NVLink")
        return not mig


class Counter(Fact):
    field: str = Field(pattern=r"^DCGM_(FI|EXP)_[A-Z0-9_]+$")
    type: Literal["gauge", "counter", "label"]
    help: str
    needs: tuple[GpuNeed, ...] = ()

    def csv_line(self) -> str:
        """A line of the exporter's counters file: ``field, Prometheus type, help``."""
        return f"{self.field}, {self.type}, {self.help}"


class CounterFacts(Fact):
    checked: str
    sources: tuple[str, ...] = Field(min_length=1)
    fields: tuple[Counter, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _once_each(self) -> CounterFacts:
        names = [counter.field for counter in self.fields]
        if len(names) != len(set(names)):
            raise ValueError("monitoring.yaml: a counter is listed twice")
        return self


class OtherMetric(Fact):
    exporter: Literal["node-exporter", "kube-state-metrics"]
    needs: tuple[NodeNeed, ...] = ()


class OtherMetrics(Fact):
    checked: str
    sources: tuple[str, ...] = Field(min_length=1)
    metrics: dict[str, OtherMetric]
    no_metric: dict[str, str]
    no_metric_sources: tuple[str, ...] = Field(min_length=1)


class PrometheusFacts(Fact):
    checked: str
    bytes_per_sample: float = Field(gt=0)
    scrape_interval_seconds: int = Field(gt=0)
    size_retention_fraction: float = Field(gt=0, lt=1)
    sources: tuple[str, ...] = Field(min_length=1)


class MonitoringFacts(Fact):
    sources: dict[str, str]
    exporter: ExporterFacts
    capabilities: GpuCapabilities
    counters: CounterFacts
    other_metrics: OtherMetrics
    prometheus: PrometheusFacts

    @model_validator(mode="after")
    def _sources_known(self) -> MonitoringFacts:
        cited = [
            *self.exporter.sources,
            *self.capabilities.sources,
            *self.counters.sources,
            *self.other_metrics.sources,
            *self.other_metrics.no_metric_sources,
            *self.prometheus.sources,
        ]
        unknown = sorted(set(cited) - set(self.sources))
        if unknown:
            raise ValueError(f"monitoring.yaml: unknown source(s) {', '.join(unknown)}")
        return self

    def counter(self, field: str) -> Counter | None:
        return next((counter for counter in self.counters.fields if counter.field == field), None)
