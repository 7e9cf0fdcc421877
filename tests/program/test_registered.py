"""``Registered`` gives the program only the outputs it declared, and says which one it lacks."""

from __future__ import annotations

import pytest

from gpufleet.preview import run_preview
from gpufleet.render.resources import Registered, kubernetes_object

CONFIG = {"aws:region": "us-east-1"}


def test_a_declared_output_resolves_to_what_the_provider_returned() -> None:
    seen: dict[str, object] = {}

    def program() -> None:
        template = Registered(
            "aws:ec2/launchTemplate:LaunchTemplate", "t", {"instanceType": "g6.xlarge"}, outputs=("latestVersion",)
        )
        template.output("latestVersion").apply(lambda version: seen.setdefault("latestVersion", version))

    run_preview(program, project="gpufleet", stack="probe", config=CONFIG)
    # Without the typed class's metadata a number arrives as the wire's double: why a node
    # pool turns the launch template version into a whole number before using it.
    assert seen == {"latestVersion": 1} and type(seen["latestVersion"]) is float


def test_an_undeclared_output_names_the_resource_and_the_output() -> None:
    def program() -> None:
        Registered("aws:ec2/vpc:Vpc", "vpc", {"cidrBlock": "10.0.0.0/16"}).output("arn")

    with pytest.raises(AttributeError, match="vpc: 'arn' is neither an input nor a declared output of this resource"):
        run_preview(program, project="gpufleet", stack="probe", config=CONFIG)


def test_kubernetes_objects_take_the_token_and_fields_their_typed_classes_use() -> None:
    result = run_preview(
        lambda: (
            kubernetes_object("v1", "Namespace", "team", {}),
            kubernetes_object("storage.k8s.io/v1", "StorageClass", "fast", {"provisioner": "x"}),
        ),
        project="gpufleet",
        stack="probe",
        config=CONFIG,
    )
    assert {(r.type, r.inputs.get("apiVersion"), r.inputs.get("kind")) for r in result.resources if r.custom} == {
        ("kubernetes:core/v1:Namespace", "v1", "Namespace"),
        ("kubernetes:storage.k8s.io/v1:StorageClass", "storage.k8s.io/v1", "StorageClass"),
    }
