"""The validation jobs as the preview writes them and as the program creates them (``validation.create``)."""

from __future__ import annotations

from pathlib import Path

import yaml
from typer.testing import CliRunner

from gpufleet.catalog import load_catalog
from gpufleet.cli import app
from gpufleet.preview.manifests import kubernetes_objects
from tests.kubernetes.conftest import REPO, rendered
from tests.kubernetes.references import core_errors, custom_resource_errors

CATALOG = load_catalog()
COMPONENT = "gpufleet:kubernetes:PoolValidation"
OPERATOR = "gpufleet:kubernetes:MpiOperator"
CONFIG_FILE = "kubernetes:yaml/v2:ConfigFile"


def test_the_preview_writes_every_check_of_the_plan_and_nothing_else(tmp_path: Path) -> None:
    """``validation/`` holds the plan's manifests byte for byte as the one YAML writer writes
    them: what ``gpufleet verify`` creates is what the preview showed."""
    out = tmp_path / "out"
    outcome = CliRunner().invoke(app, ["preview", str(REPO / "stacks" / "prod.yaml"), "--out", str(out), "--json"])
    assert outcome.exit_code == 0, outcome.output
    plan, _ = rendered("prod", str(REPO / "stacks"))
    written = {path.name: yaml.safe_load(path.read_text(encoding="utf-8")) for path in (out / "validation").iterdir()}
    assert written == {
        f"{m['kind']}.{m['metadata']['namespace']}.{m['metadata']['name']}.yaml": m for m in plan.validation.manifests()
    }
    assert set(written) == {
        "Job.sandbox.gpufleet-dcgm-lab-l4.yaml",
        "Job.ml-research.gpufleet-dcgm-train-h200.yaml",
        "Job.serving.gpufleet-dcgm-serve-h100.yaml",
        "MPIJob.ml-research.gpufleet-nccl-train-h200.yaml",
    }


def test_without_create_the_program_installs_only_the_mpi_operator() -> None:
    """prod leaves ``validation.create`` unset: no check is created with the fleet, but the MPI
    operator is, since the NCCL check's kind (MPIJob) exists only once it is installed."""
    plan, result = rendered("prod", str(REPO / "stacks"))
    assert not plan.validation.create
    assert result.of_type(COMPONENT) == ()
    assert not [r for r in kubernetes_objects(result).values() if r["kind"] in ("MPIJob", "Job")]
    [operator] = result.of_type(OPERATOR)
    [manifest] = result.of_type(CONFIG_FILE)
    assert manifest.parent == operator.urn
    assert manifest.inputs["file"] == CATALOG.fabric.mpi_operator.manifest


def test_the_mpi_operator_is_pinned_to_its_release_manifest() -> None:
    """The mpi-operator README installs a release with ``kubectl apply --server-side -f
    https://raw.githubusercontent.com/kubeflow/mpi-operator/v0.8.0/deploy/v2beta1/mpi-operator.yaml``;
    the reference CRD (``manifests/base/kubeflow.org_mpijobs.yaml``) is of the same tag."""
    facts = CATALOG.fabric.mpi_operator
    assert (
        facts.manifest
        == f"https://raw.githubusercontent.com/kubeflow/mpi-operator/{facts.version}/deploy/v2beta1/mpi-operator.yaml"
    )
    from tests.reference import manifest

    assert manifest()["k8s/mpi-operator__manifests__base__kubeflow.org_mpijobs.yaml"].tag == facts.version


def test_a_stack_without_nccl_checks_gets_no_mpi_operator() -> None:
    plan, result = rendered("dev", str(REPO / "stacks"))
    assert plan.validation.nccl == ()
    assert result.of_type(OPERATOR) == () and result.of_type(CONFIG_FILE) == ()


def test_create_makes_one_component_per_pool_with_the_plans_jobs_as_children(full_stack_dir) -> None:
    """``validation: {create: true}``: each GPU pool's checks are one component whose children
    are exactly the plan's manifests; the MPIJob waits for the MPI operator (its CRD), every job
    for the LocalQueue it names (Kueue's webhook suspends a queued job only if Kueue is there
    when the job is created) and for its namespace."""
    plan, result = rendered("full", str(full_stack_dir))
    components = {r.name: r for r in result.of_type(COMPONENT)}
    assert set(components) == {f"{job.pool}-checks" for job in plan.validation.dcgm}
    by_urn = {r.urn: r for r in result.resources}
    [operator_manifest] = result.of_type(CONFIG_FILE)
    local_queues = {
        (r.inputs["metadata"]["namespace"], r.inputs["metadata"]["name"]): r.urn
        for r in result.of_type("kubernetes:kueue.x-k8s.io/v1beta2:LocalQueue")
    }
    namespaces = {r.inputs["metadata"]["name"]: r.urn for r in result.of_type("kubernetes:core/v1:Namespace")}
    planned = {(m["kind"], m["metadata"]["name"]): m for m in plan.validation.manifests()}
    created = [r for r in result.resources if r.parent in {c.urn for c in components.values()}]
    assert {(r.inputs["kind"], r.inputs["metadata"]["name"]) for r in created} == set(planned)
    for resource in created:
        manifest = planned[(resource.inputs["kind"], resource.inputs["metadata"]["name"])]
        assert resource.inputs == manifest
        pool = manifest["metadata"]["labels"]["gpufleet.io/pool"]
        assert by_urn[resource.parent].name == f"{pool}-checks"
        namespace = manifest["metadata"]["namespace"]
        assert local_queues[(namespace, manifest["metadata"]["labels"]["kueue.x-k8s.io/queue-name"])] in resource.depends_on
        assert namespace == "default" or namespaces[namespace] in resource.depends_on
        assert (operator_manifest.urn in resource.depends_on) == (manifest["kind"] == "MPIJob")


def test_created_jobs_do_not_hold_pulumi_up_and_validate(full_stack_dir) -> None:
    """Pulumi's Kubernetes provider waits for a Job to complete unless it carries
    ``pulumi.com/skipAwait: "true"`` (provider docs, "skipAwait"): the DCGM run takes its pool to
    ``nodes.max`` and `gpufleet verify` reads the result, so `pulumi up` does not wait on it. Each
    created object passes the Kubernetes schema or the MPIJob CRD."""
    plan, result = rendered("full", str(full_stack_dir))
    objects = [m for m in kubernetes_objects(result).values() if m["kind"] in ("Job", "MPIJob")]
    assert len(objects) == len(plan.validation.manifests())
    for manifest in objects:
        if manifest["kind"] == "Job":
            assert manifest["metadata"]["annotations"] == {"pulumi.com/skipAwait": "true"}
            assert core_errors(manifest, plan.cluster.kubernetes_version) == []
        else:
            assert custom_resource_errors(manifest) == []
