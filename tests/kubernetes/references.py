"""Judges for rendered Kubernetes objects, built from the upstream files of the reference folder (``k8s/``).

* core objects: ``kubernetes-validate``'s strict OpenAPI schemas of the stack's version;
* custom resources: the served version's ``openAPIV3Schema`` of their CRD, made strict the way
  the API server prunes (a field the schema does not name is an error here, not a silent drop);
* Helm values: every key path must exist in the chart's own ``values.yaml``, except below a
  default that is free-form (an empty map, a list or null).
"""

from __future__ import annotations

import copy
from functools import cache
from typing import Any

import jsonschema
import kubernetes_validate
import yaml

from tests.reference import reference_path

CRDS = {
    ("kueue.x-k8s.io", "ResourceFlavor"): "kueue__config__components__crd__bases__kueue.x-k8s.io_resourceflavors.yaml",
    ("kueue.x-k8s.io", "ClusterQueue"): "kueue__config__components__crd__bases__kueue.x-k8s.io_clusterqueues.yaml",
    ("kueue.x-k8s.io", "LocalQueue"): "kueue__config__components__crd__bases__kueue.x-k8s.io_localqueues.yaml",
    (
        "kueue.x-k8s.io",
        "WorkloadPriorityClass",
    ): "kueue__config__components__crd__bases__kueue.x-k8s.io_workloadpriorityclasses.yaml",
    (
        "mellanox.com",
        "NicClusterPolicy",
    ): "network-operator__deployment__network-operator__crds__mellanox.com_nicclusterpolicies.yaml",
    ("nvidia.com", "ClusterPolicy"): "gpu-operator__deployments__gpu-operator__crds__nvidia.com_clusterpolicies.yaml",
    ("kubeflow.org", "MPIJob"): "mpi-operator__manifests__base__kubeflow.org_mpijobs.yaml",
    ("kueue.x-k8s.io", "Topology"): "kueue__config__components__crd__bases__kueue.x-k8s.io_topologies.yaml",
    (
        "monitoring.coreos.com",
        "PrometheusRule",
    ): "prometheus-operator__example__prometheus-operator-crd__monitoring.coreos.com_prometheusrules.yaml",
    (
        "monitoring.coreos.com",
        "ServiceMonitor",
    ): "prometheus-operator__example__prometheus-operator-crd__monitoring.coreos.com_servicemonitors.yaml",
}
CHART_VALUES = {
    "gpu-operator": "gpu-operator__deployments__gpu-operator__values.yaml",
    "aws-efa-k8s-device-plugin": "eks-charts__stable__aws-efa-k8s-device-plugin__values.yaml",
    "network-operator": "network-operator__deployment__network-operator__values.yaml",
    "aws-fsx-csi-driver": "aws-fsx-csi-driver__charts__aws-fsx-csi-driver__values.yaml",
    "cluster-autoscaler": "autoscaler__cluster-autoscaler__charts__cluster-autoscaler__values.yaml",
    "kueue": "kueue__charts__kueue__values.yaml",
    "jobset": "jobset__charts__jobset__values.yaml",
    "kube-prometheus-stack": "helm-charts__charts__kube-prometheus-stack__values.yaml",
}
CHART_FILES = {
    "aws-efa-k8s-device-plugin": "eks-charts__stable__aws-efa-k8s-device-plugin__Chart.yaml",
    "network-operator": "network-operator__deployment__network-operator__Chart.yaml",
    "aws-fsx-csi-driver": "aws-fsx-csi-driver__charts__aws-fsx-csi-driver__Chart.yaml",
    "cluster-autoscaler": "autoscaler__cluster-autoscaler__charts__cluster-autoscaler__Chart.yaml",
    "kueue": "kueue__charts__kueue__Chart.yaml",
    "jobset": "jobset__charts__jobset__Chart.yaml",
    "kube-prometheus-stack": "helm-charts__charts__kube-prometheus-stack__Chart.yaml",
}


def core_errors(manifest: dict[str, Any], kubernetes_version: str) -> list[str]:
    try:
        kubernetes_validate.validate(manifest, kubernetes_version, strict=True)
    except kubernetes_validate.ValidationError as error:
        return [f"{'/'.join(map(str, error.absolute_path))}: {error.message}"]
    return []


@cache
def _crd_schema(group: str, kind: str, version: str) -> dict[str, Any]:
    crd = yaml.safe_load(reference_path("k8s/" + CRDS[(group, kind)]).read_text(encoding="utf-8"))
    served = next(v for v in crd["spec"]["versions"] if v["name"] == version and v.get("served"))
    return _strict(copy.deepcopy(served["schema"]["openAPIV3Schema"]))


def _strict(schema: Any) -> Any:
    """Close every object whose fields the schema lists, as pruning would drop unknown ones."""
    if isinstance(schema, dict):
        for value in schema.values():
            _strict(value)
        closed = "properties" in schema and "additionalProperties" not in schema
        if closed and not schema.get("x-kubernetes-preserve-unknown-fields"):
            schema["additionalProperties"] = False
        if schema.get("x-kubernetes-int-or-string"):
            schema.setdefault("anyOf", [{"type": "integer"}, {"type": "string"}])
    elif isinstance(schema, list):
        for item in schema:
            _strict(item)
    return schema


def custom_resource_errors(manifest: dict[str, Any]) -> list[str]:
    group, version = manifest["apiVersion"].split("/")
    schema = _crd_schema(group, manifest["kind"], version)
    body = {key: value for key, value in manifest.items() if key != "metadata"}
    schema = {**schema, "properties": {k: v for k, v in schema["properties"].items() if k != "metadata"}}
    validator = jsonschema.Draft7Validator(schema)
    return sorted(f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(body))


def is_custom(manifest: dict[str, Any]) -> bool:
    group = manifest["apiVersion"].split("/")[0] if "/" in manifest["apiVersion"] else ""
    return (group, manifest["kind"]) in CRDS


@cache
def chart_defaults(chart: str) -> dict[str, Any]:
    return yaml.safe_load(reference_path("k8s/" + CHART_VALUES[chart]).read_text(encoding="utf-8"))


def chart_version(chart: str) -> str:
    return str(yaml.safe_load(reference_path("k8s/" + CHART_FILES[chart]).read_text(encoding="utf-8"))["version"])


# Keys a chart reads that its values.yaml holds only in a comment, or that belong to a subchart
# whose own values.yaml is not in the reference set; each with where the chart reads it.
KEYS_BEYOND_VALUES = {
    # gpu-operator v26.7.0 templates/clusterpolicy.yaml: `if and (.Values.dcgmExporter.config)
    # (.Values.dcgmExporter.config.name)`; values.yaml shows the key commented (`# config:`).
    ("gpu-operator", "dcgmExporter.config"),
    # kube-prometheus-stack 88.5.3 pulls kube-state-metrics 8.4.0, whose values.yaml (helm-charts
    # ea930bae, charts/kube-state-metrics/values.yaml) has `metricLabelsAllowlist: []`.
    ("kube-prometheus-stack", "kube-state-metrics.metricLabelsAllowlist"),
}


def unknown_value_keys(chart: str, values: dict[str, Any]) -> list[str]:
    """Key paths of ``values`` that the chart's values.yaml does not have."""
    missing: list[str] = []

    def walk(given: Any, default: Any, path: str) -> None:
        if not isinstance(given, dict) or not isinstance(default, dict) or not default:
            return  # a leaf, or a free-form default (empty map, list, null): anything goes below
        for key, value in given.items():
            where = f"{path}.{key}" if path else key
            if (chart, where) in KEYS_BEYOND_VALUES:
                continue
            if key not in default:
                missing.append(where)
            else:
                walk(value, default[key], where)

    walk(values, chart_defaults(chart), "")
    return missing
