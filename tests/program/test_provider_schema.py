"""Every input the preview records is one the installed provider SDK declares, with its declared type.

This holds resources registered without their typed classes (``gpufleet.render.resources``) to
the provider's schema as the typed classes carry it: each key a declared input of its type's
Args class (by the wire name the engine receives), nested objects against their nested Args
classes, values of the declared Python type, required inputs present, and the constants and
defaults a typed class would have sent itself.
"""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from gpufleet.preview import PreviewResult
from gpufleet.stack import load_stack
from tests.program import provider_schema
from tests.program.conftest import preview_file

REPO = Path(__file__).resolve().parents[2]
STACKS = sorted((REPO / "stacks").glob("*.yaml"))


@pytest.fixture(scope="module")
def previews() -> dict[str, PreviewResult]:
    return {path.stem: preview_file(path, region=load_stack(path).spec.cluster.region or "us-east-1") for path in STACKS}


@pytest.fixture(scope="module")
def prod(previews: dict[str, PreviewResult]) -> PreviewResult:
    return previews["prod"]


def _first(result: PreviewResult, token: str) -> dict:
    return copy.deepcopy(result.of_type(token)[0].inputs)


@pytest.mark.parametrize("stack", [path.stem for path in STACKS])
def test_every_recorded_input_is_a_declared_input_of_the_declared_type(previews: dict[str, PreviewResult], stack: str) -> None:
    result = previews[stack]
    checked, found = set(), []
    for resource in result.resources:
        if not resource.custom or resource.external:
            continue
        if provider_schema.typed_class(resource.type) is None:
            # Only custom resources of CRDs (Kueue, the Network Operator) have no typed class;
            # tests/kubernetes holds those to their CRDs' schemas.
            package, module, _ = resource.type.split(":")
            assert package == "kubernetes" and provider_schema.get_resource_module(package, module, "") is None, resource.type
            continue
        checked.add(resource.type)
        found += [f"{resource.urn}: {problem}" for problem in provider_schema.problems(resource.type, resource.inputs)]
    assert found == []
    assert len(checked) >= (1 if stack == "onprem" else 20)


def test_a_misspelt_key_is_caught_at_the_top_and_nested(prod: PreviewResult) -> None:
    token = "aws:ec2/launchTemplate:LaunchTemplate"
    inputs = _first(prod, token)
    inputs["instanceTyp"] = inputs.pop("instanceType")
    inputs["metadataOptions"]["httpToken"] = inputs["metadataOptions"].pop("httpTokens")
    assert provider_schema.problems(token, inputs) == [
        f"{token}.instanceTyp: not an input of LaunchTemplateArgs",
        f"{token}.metadataOptions.httpToken: not an input of LaunchTemplateMetadataOptionsArgs",
    ]


def test_a_key_in_the_sdks_python_spelling_is_caught_with_the_wire_spelling(prod: PreviewResult) -> None:
    token = "aws:eks/nodeGroup:NodeGroup"
    inputs = _first(prod, token)
    inputs["scalingConfig"]["maxsize"] = inputs["scalingConfig"].pop("maxSize")
    assert provider_schema.problems(token, inputs) == [
        f"{token}.scalingConfig.maxsize: not an input of NodeGroupScalingConfigArgs (did you mean 'maxSize'?)"
    ]


def test_a_value_of_the_wrong_type_is_caught(prod: PreviewResult) -> None:
    token = "aws:ec2/launchTemplate:LaunchTemplate"
    inputs = _first(prod, token)
    inputs["metadataOptions"]["httpPutResponseHopLimit"] = "2"
    inputs["updateDefaultVersion"] = "true"
    inputs["networkInterfaces"][0]["deviceIndex"] = True
    inputs["tags"] = ["gpufleet:cluster"]
    assert provider_schema.problems(token, inputs) == [
        f"{token}.metadataOptions.httpPutResponseHopLimit: expected an integer, got '2'",
        f"{token}.networkInterfaces[0].deviceIndex: expected an integer, got True",
        f"{token}.tags: expected a map, got list",
        f"{token}.updateDefaultVersion: expected a boolean, got 'true'",
    ]


def test_a_missing_required_input_is_caught(prod: PreviewResult) -> None:
    token = "aws:eks/nodeGroup:NodeGroup"
    inputs = _first(prod, token)
    del inputs["nodeRoleArn"]
    assert provider_schema.problems(token, inputs) == [f"{token}: required input 'nodeRoleArn' is missing"]


def test_what_the_typed_class_sets_itself_must_be_sent(prod: PreviewResult) -> None:
    namespace, release, group = (
        "kubernetes:core/v1:Namespace",
        "kubernetes:helm.sh/v3:Release",
        "aws:ec2/securityGroup:SecurityGroup",
    )
    wrong_kind = {**_first(prod, namespace), "kind": "Namespaces"}
    no_compat = {key: value for key, value in _first(prod, release).items() if key != "compat"}
    no_description = {key: value for key, value in _first(prod, group).items() if key != "description"}
    assert provider_schema.problems(namespace, wrong_kind) == [
        f"{namespace}: 'kind' must be 'Namespace', as the typed class sets it; got 'Namespaces'"
    ]
    assert provider_schema.problems(release, no_compat) == [
        f"{release}: 'compat' must be 'true', as the typed class sets it; got None"
    ]
    assert provider_schema.problems(group, no_description) == [
        f"{group}: 'description' is missing; given none, the typed class sends 'Managed by Pulumi'"
    ]


def test_an_unknown_type_token_is_caught() -> None:
    assert provider_schema.typed_class("aws:ec2/launchTemplates:LaunchTemplate") is None
    assert provider_schema.problems("aws:ec2/launchTemplates:LaunchTemplate", {}) == [
        "aws:ec2/launchTemplates:LaunchTemplate: the installed SDKs publish no typed class for this type"
    ]


@pytest.mark.parametrize("stack", [path.stem for path in STACKS])
def test_every_registration_asks_for_what_its_typed_class_adds(previews: dict[str, PreviewResult], stack: str) -> None:
    """The provider version (which picks the plugin on a real ``pulumi up``) and the aliases."""
    found = []
    for resource in previews[stack].resources:
        declared = provider_schema.declared(resource.type) if resource.custom else None
        if declared is None:
            continue
        sent = {
            "version": resource.version,
            "plugin_download_url": resource.plugin_download_url or None,
            "aliases": list(resource.aliases),
            "additional_secret_outputs": list(resource.additional_secret_outputs),
            "replace_on_changes": list(resource.replace_on_changes),
        }
        if sent != declared.options:
            found.append((resource.urn, sent, declared.options))
    assert found == []


def test_the_custom_resources_of_crds_ask_for_the_kubernetes_package_version(prod: PreviewResult) -> None:
    flavors = prod.of_type("kubernetes:kueue.x-k8s.io/v1beta2:ResourceFlavor")
    assert flavors and {flavor.version for flavor in flavors} == {
        provider_schema.declared("kubernetes:core/v1:Namespace").options["version"]
    }


def test_provider_functions_are_invoked_with_their_package_version(monkeypatch: pytest.MonkeyPatch) -> None:
    from gpufleet.preview import run_preview
    from gpufleet.preview.monitor import RecordingMonitor
    from gpufleet.render.aws.policies import account_id, partition

    asked: list[tuple[str, str]] = []
    invoke = RecordingMonitor.Invoke

    def recording(self, request):
        asked.append((request.tok, request.version))
        return invoke(self, request)

    monkeypatch.setattr(RecordingMonitor, "Invoke", recording)
    run_preview(lambda: (account_id(), partition()), project="gpufleet", stack="probe", config={"aws:region": "us-east-1"})
    aws_version = provider_schema.declared("aws:ec2/vpc:Vpc").options["version"]
    assert sorted(asked) == [
        ("aws:index/getCallerIdentity:getCallerIdentity", aws_version),
        ("aws:index/getPartition:getPartition", aws_version),
    ]
