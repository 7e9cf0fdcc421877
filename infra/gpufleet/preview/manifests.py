"""The Kubernetes side of a preview as files: every object under ``k8s/``, Helm values under ``helm/``.

Both are read from the recorded registrations, so they show what the program rendered, not
what the plan meant to render. Keys are sorted, and the preview writes them with the rest of
its output as one unit (``gpufleet.outputs``), so two runs of the same stack leave
byte-identical folders and no stale file.
"""

from __future__ import annotations

from typing import Any

from gpufleet.yamldump import dump

from .result import PreviewResult, RecordedResource

RELEASE_TYPE = "kubernetes:helm.sh/v3:Release"
K8S_DIR = "k8s"
HELM_DIR = "helm"


def is_kubernetes_object(resource: RecordedResource) -> bool:
    return resource.custom and resource.type.startswith("kubernetes:") and resource.type != RELEASE_TYPE


def kubernetes_objects(result: PreviewResult) -> dict[str, dict[str, Any]]:
    """File name -> manifest, for every Kubernetes object the program registered."""
    files = {}
    for resource in result.resources:
        if not is_kubernetes_object(resource):
            continue
        manifest = resource.inputs
        meta = manifest.get("metadata") or {}
        parts = [manifest["kind"], meta.get("namespace"), meta.get("name") or resource.name]
        files[".".join(part for part in parts if part) + ".yaml"] = manifest
    return files


def helm_values(result: PreviewResult) -> dict[str, dict[str, Any]]:
    """Release name -> the values the program gave it."""
    return {
        resource.inputs["name"]: resource.inputs.get("values") or {}
        for resource in result.resources
        if resource.type == RELEASE_TYPE
    }


def to_yaml(document: dict[str, Any]) -> str:
    """Keys sorted at every level, block style, text as written (``gpufleet.yamldump``)."""
    return dump(document)


def manifest_files(result: PreviewResult) -> dict[str, str]:
    """``k8s/<object>.yaml`` and ``helm/<release>.yaml`` -> text, for the output writer."""
    files = {f"{K8S_DIR}/{name}": to_yaml(document) for name, document in kubernetes_objects(result).items()}
    files.update({f"{HELM_DIR}/{name}.yaml": to_yaml(values) for name, values in helm_values(result).items()})
    return files
