"""Every rendered Kubernetes object and Helm value set checked against upstream, for every example stack."""

from __future__ import annotations

import pytest

from gpufleet.catalog import load_catalog
from gpufleet.preview.manifests import helm_values, kubernetes_objects
from tests.kubernetes.invariants import violations
from tests.kubernetes.references import (
    CHART_FILES,
    CHART_VALUES,
    KEYS_BEYOND_VALUES,
    chart_defaults,
    chart_version,
    core_errors,
    custom_resource_errors,
    is_custom,
    unknown_value_keys,
)
from tests.reference import reference_path


def test_cross_layer_invariants_hold(stack) -> None:
    _, plan, result = stack
    assert violations(plan, result) == []


def test_core_objects_validate_against_the_clusters_kubernetes_version(stack) -> None:
    _, plan, result = stack
    core = {name: manifest for name, manifest in kubernetes_objects(result).items() if not is_custom(manifest)}
    assert core
    for name, manifest in core.items():
        assert core_errors(manifest, plan.cluster.kubernetes_version) == [], name


def test_custom_resources_validate_against_their_crds(stack) -> None:
    _, _, result = stack
    custom = {name: manifest for name, manifest in kubernetes_objects(result).items() if is_custom(manifest)}
    assert any(m["kind"] == "ClusterQueue" for m in custom.values())
    for name, manifest in custom.items():
        assert custom_resource_errors(manifest) == [], name


def test_every_helm_value_is_a_key_of_the_charts_values(stack) -> None:
    _, _, result = stack
    values = helm_values(result)
    assert values
    for release, given in values.items():
        assert unknown_value_keys(release, given) == [], release


def test_judges_catch_typos() -> None:
    config_map = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}, "dta": {"a": "b"}}
    assert core_errors(config_map, "1.33")
    flavor = {
        "apiVersion": "kueue.x-k8s.io/v1beta2",
        "kind": "ResourceFlavor",
        "metadata": {"name": "x"},
        "spec": {"nodeLabel": {}},
    }
    assert custom_resource_errors(flavor)
    queue = {
        "apiVersion": "kueue.x-k8s.io/v1beta2",
        "kind": "ClusterQueue",
        "metadata": {"name": "x"},
        "spec": {"preemption": {"reclaimWithinCohort": "Sometimes"}},
    }
    assert custom_resource_errors(queue)
    assert unknown_value_keys("gpu-operator", {"migManager": {"config": {"nmae": "x"}}}) == ["migManager.config.nmae"]
    assert unknown_value_keys("aws-efa-k8s-device-plugin", {"nodeSelector": {"any/label": "x"}}) == []
    assert unknown_value_keys("gpu-operator", {"dcgmExporter": {"confg": {"name": "x"}}}) == ["dcgmExporter.confg"]


def test_keys_beyond_the_values_files_are_the_charts_commented_keys() -> None:
    """The GPU Operator's values.yaml documents ``dcgmExporter.config`` only as a comment
    (``# config:`` then ``# name: custom-dcgm-exporter-metrics``) that its clusterpolicy template
    reads; the kube-state-metrics key belongs to the subchart kube-prometheus-stack pulls in."""
    text = reference_path("k8s/gpu-operator__deployments__gpu-operator__values.yaml").read_text(encoding="utf-8")
    exporter = text[text.index("\ndcgmExporter:") :]
    exporter = exporter[: exporter.index("\ngfd:")]
    assert "  # config:\n    # name: custom-dcgm-exporter-metrics" in exporter
    assert "config" not in chart_defaults("gpu-operator")["dcgmExporter"]
    assert "metricLabelsAllowlist" not in chart_defaults("kube-prometheus-stack")["kube-state-metrics"]
    assert {chart for chart, _ in KEYS_BEYOND_VALUES} <= set(CHART_VALUES)


@pytest.mark.parametrize("chart", sorted(CHART_FILES))
def test_catalog_pins_the_reference_chart_versions(chart: str) -> None:
    assert load_catalog().kubernetes.charts[chart].version == chart_version(chart)


def test_every_chart_with_values_has_a_reference() -> None:
    assert set(load_catalog().kubernetes.charts) == set(CHART_VALUES)
