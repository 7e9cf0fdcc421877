"""The Kubernetes side of a preview as files: every object under ``k8s/``, Helm values under ``helm/``.

Both are read from the recorded registrations, so they show what the program rendered, not
what the plan meant to render. Keys are sorted and stale files removed, so two runs of the
same stack leave byte-identical folders.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

from .report import write_text_atomically
from .result import PreviewResult, RecordedResource

RELEASE_TYPE = "kubernetes:helm.sh/v3:Release"


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
    return {resource.inputs["name"]: resource.inputs.get("values") or {} for resource in result.resources if resource.type == RELEASE_TYPE}


def _block_strings(representer: Any, text: str) -> Any:
    """Multi-line text (a ConfigMap's config file) stays readable as a literal block."""
    return representer.represent_scalar("tag:yaml.org,2002:str", text, style="|" if "\n" in text else None)


def to_yaml(document: dict[str, Any]) -> str:
    yaml = YAML(typ="safe", pure=True)
    yaml.default_flow_style = False
    yaml.representer.add_representer(str, _block_strings)
    buffer = io.StringIO()
    yaml.dump(_sorted(document), buffer)
    return buffer.getvalue()


def _sorted(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _sorted(value[key]) for key in sorted(value)}
    if isinstance(value, list):
        return [_sorted(item) for item in value]
    return value


def write_manifests(result: PreviewResult, folder: Path) -> tuple[Path, Path]:
    """Write ``folder/k8s/*.yaml`` and ``folder/helm/<release>.yaml``; return both folders."""
    targets = (
        (folder / "k8s", kubernetes_objects(result)),
        (folder / "helm", {f"{name}.yaml": values for name, values in helm_values(result).items()}),
    )
    for directory, documents in targets:
        directory.mkdir(parents=True, exist_ok=True)
        for stale in sorted(set(p.name for p in directory.glob("*.yaml")) - set(documents)):
            (directory / stale).unlink()
        for name, document in sorted(documents.items()):
            write_text_atomically(directory / name, to_yaml(document))
    return targets[0][0], targets[1][0]
