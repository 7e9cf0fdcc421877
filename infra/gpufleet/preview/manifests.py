"""The Kubernetes side of a preview as files: every object under ``k8s/``, Helm values under ``helm/``.

Both are read from the recorded registrations, so they show what the program rendered, not
what the plan meant to render. Keys are sorted, and the preview writes them with the rest of
its output as one unit (``gpufleet.outputs``), so two runs of the same stack leave
byte-identical folders and no stale file.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

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


class _ManifestDumper(yaml.CSafeDumper):
    """libyaml's emitter (ten times ruamel's pure one here) that quotes every string a YAML
    1.1 or 1.2 reader would take for something else.

    PyYAML's resolver is YAML 1.1's, so ``on`` or ``12:30`` come out quoted. The go-yaml forks
    kubectl reads through (sigs.k8s.io/yaml) also take 1.2-style numbers for numbers (``1e3``,
    ``-.5``; v3 ``0o17``), so those are quoted too: a label value ``1e3`` must stay a string.
    """


# Only what YAML 1.1's own float and int patterns (PyYAML's) miss: an exponent without a dot,
# a leading dot, the 0o octal prefix.
_ManifestDumper.add_implicit_resolver(
    "tag:yaml.org,2002:float", re.compile(r"^[-+]?(\.[0-9]+|[0-9][0-9_]*(\.[0-9_]*)?)([eE][-+]?[0-9]+)?\Z"), list("-+.0123456789")
)
_ManifestDumper.add_implicit_resolver("tag:yaml.org,2002:int", re.compile(r"^[-+]?0o[0-7_]+\Z"), list("-+0"))


def _block_strings(dumper: _ManifestDumper, text: str) -> yaml.ScalarNode:
    """Multi-line text (a ConfigMap's config file) stays readable as a literal block."""
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style="|" if "\n" in text else None)


_ManifestDumper.add_representer(str, _block_strings)


def to_yaml(document: dict[str, Any]) -> str:
    """Keys sorted at every level, block style, text as written."""
    return yaml.dump(document, Dumper=_ManifestDumper, default_flow_style=False, sort_keys=True, allow_unicode=True)


def manifest_files(result: PreviewResult) -> dict[str, str]:
    """``k8s/<object>.yaml`` and ``helm/<release>.yaml`` -> text, for the output writer."""
    files = {f"{K8S_DIR}/{name}": to_yaml(document) for name, document in kubernetes_objects(result).items()}
    files.update({f"{HELM_DIR}/{name}.yaml": to_yaml(values) for name, values in helm_values(result).items()})
    return files
