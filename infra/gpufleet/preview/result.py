"""What a preview run recorded: resources, stack outputs and engine messages."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

STACK_TYPE = "pulumi:pulumi:Stack"


@dataclass(frozen=True)
class RecordedResource:
    """One resource registration as the engine received it.

    `inputs` uses the engine's (camelCase) keys with secrets revealed;
    `secret_paths` lists the JSON pointers of the secret values so that
    writers can redact them. `depends_on` holds every dependency URN the SDK
    sent: explicit `depends_on` plus those implied by Output inputs.
    """

    urn: str
    type: str
    name: str
    parent: str | None
    custom: bool
    inputs: dict[str, Any]
    outputs: dict[str, Any]
    id: str | None = None
    provider: str | None = None
    protect: bool = False
    retain_on_delete: bool = False
    depends_on: tuple[str, ...] = ()
    property_dependencies: dict[str, tuple[str, ...]] = field(default_factory=dict, hash=False)
    """Per input, the URNs its value came from (what the engine hands analyzers)."""
    secret_paths: tuple[str, ...] = ()
    external: bool = False
    """True for resources read with `Resource.get` rather than managed."""
    version: str = ""
    """The provider package version the registration asked for (what picks the plugin)."""
    plugin_download_url: str = ""
    aliases: tuple[str, ...] = ()
    """Former types (or URNs) the resource answers to."""
    additional_secret_outputs: tuple[str, ...] = ()
    replace_on_changes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Diagnostic:
    """A message the program (or an SDK) logged to the engine."""

    severity: str
    message: str
    urn: str | None = None


@dataclass(frozen=True)
class PreviewResult:
    """Everything one offline run of a program registered, sorted by URN."""

    project: str
    stack: str
    resources: tuple[RecordedResource, ...]
    stack_outputs: dict[str, Any]
    unknown_invokes: tuple[str, ...] = ()
    diagnostics: tuple[Diagnostic, ...] = ()
    _by_urn: dict[str, RecordedResource] = field(init=False, repr=False, compare=False, default_factory=dict)

    def __post_init__(self) -> None:
        self._by_urn.update((resource.urn, resource) for resource in self.resources)

    @property
    def stack_urn(self) -> str:
        return f"urn:pulumi:{self.stack}::{self.project}::{STACK_TYPE}::{self.project}-{self.stack}"

    def warnings(self) -> list[str]:
        """What the mock engine could not stand in for, and what the program logged as a warning."""
        found = [f"the mocks do not know the invoke {token}; it echoed its arguments" for token in self.unknown_invokes]
        found += [
            f"{diagnostic.urn}: {diagnostic.message}" if diagnostic.urn else diagnostic.message
            for diagnostic in self.diagnostics
            if diagnostic.severity in ("warning", "error")
        ]
        return found

    def resource(self, urn: str) -> RecordedResource:
        """Look a resource up by URN (KeyError names the URN when absent)."""
        return self._by_urn[urn]

    def of_type(self, type_token: str) -> tuple[RecordedResource, ...]:
        """All resources with the given type token, in URN order."""
        return tuple(resource for resource in self.resources if resource.type == type_token)

    def component(self, type_token: str, name: str) -> RecordedResource:
        """The one component of this type that a user-named concept (a pool, a tier) created."""
        return self.named(type_token, name)

    def subtree(self, urn: str) -> tuple[RecordedResource, ...]:
        """Every resource registered under the resource ``urn``, at any depth, in URN order."""
        inside = {urn}
        found = []
        for resource in sorted(self.resources, key=self._depth):
            if resource.parent in inside:
                inside.add(resource.urn)
                found.append(resource)
        return tuple(sorted(found, key=lambda r: r.urn))

    def _depth(self, resource: RecordedResource) -> int:
        depth, parent = 0, resource.parent
        while parent is not None and parent in self._by_urn:
            depth, parent = depth + 1, self._by_urn[parent].parent
        return depth

    def named(self, type_token: str, name: str) -> RecordedResource:
        """The single resource with this type and logical name."""
        matches = [r for r in self.resources if r.type == type_token and r.name == name]
        if len(matches) != 1:
            raise LookupError(f"{len(matches)} resources of type {type_token} named {name!r}")
        return matches[0]
