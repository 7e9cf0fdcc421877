"""Each shipped template's defaults: the preview writes the validation jobs and the monitoring
objects, and they pass the Kubernetes schema or their CRDs (the issue's "done when", for templates)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from gpufleet.catalog import load_catalog
from gpufleet.cli import app
from gpufleet.model import resolve
from gpufleet.model.kubernetes_decisions import pool_devices
from gpufleet.model.plan import LaunchedNodes
from gpufleet.stack import load_stack
from gpufleet.templating import load_template, stamp, template_names
from tests.kubernetes.references import core_errors, custom_resource_errors, is_custom

REPO = Path(__file__).resolve().parents[2]
TEMPLATES = REPO / "infra" / "gpufleet" / "templates"
CATALOG = load_catalog()


@pytest.mark.parametrize("name", template_names(TEMPLATES))
def test_template_defaults_preview_checks_and_watch_objects_that_validate(name: str, tmp_path: Path) -> None:
    _, written = stamp(load_template(name, TEMPLATES), "check", {}, tmp_path, force=False)
    out = tmp_path / "out"
    outcome = CliRunner().invoke(app, ["preview", str(written[0]), "--out", str(out), "--json"])
    assert outcome.exit_code == 0, outcome.output
    plan = resolve(load_stack(written[0]), CATALOG)
    jobs = {p.name: yaml.safe_load(p.read_text(encoding="utf-8")) for p in (out / "validation").iterdir()}
    assert sorted(jobs.values(), key=lambda m: m["metadata"]["name"]) == sorted(
        plan.validation.manifests(), key=lambda m: m["metadata"]["name"]
    )
    assert {job.pool for job in plan.validation.dcgm} == {p.name for p in plan.pools if p.accelerator is not None}
    objects = [yaml.safe_load(p.read_text(encoding="utf-8")) for p in (out / "k8s").iterdir()]
    kinds = {m["kind"] for m in objects}
    assert {"ServiceMonitor", "PrometheusRule"} <= kinds
    for manifest in [*objects, *jobs.values()]:
        errors = (
            custom_resource_errors(manifest) if is_custom(manifest) else core_errors(manifest, plan.cluster.kubernetes_version)
        )
        assert errors == [], manifest["metadata"]["name"]
    assert plan.monitoring is not None and plan.monitoring.problems(CATALOG.monitoring) == []
    pools = {pool.name: pool for pool in plan.pools}
    for job in (*plan.validation.dcgm, *plan.validation.nccl):
        pool = pools[job.pool]
        per_node = {r: t // pool.nodes.max for r, t in pool_devices(pool, CATALOG).items()}
        hugepages = pool.source.efa_hugepages if isinstance(pool.source, LaunchedNodes) else None
        if hugepages:
            per_node["hugepages-2Mi"] = f"{hugepages * 2}Mi"
        assert job.requests == per_node, job.name  # what a training pod on one node of the pool takes
    assert (out / "helm" / "kube-prometheus-stack.yaml").exists()
