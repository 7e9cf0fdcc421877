"""What a preview run recorded: resources, stack outputs and engine messages."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

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
    parent: Optional[str]
    custom: bool
    inputs: dict[str, Any]
    outputs: dict[str, Any]
    id: Optional[str] = None
    provider: Optional[str] = None
    protect: bool = False
    retain_on_delete: bool = False
    depends_on: tuple[str, ...] = ()
    secret_paths: tuple[str, ...] = ()
    external: bool = False
    """True for resources read with `Resource.get` rather than managed."""


@dataclass(frozen=True)
class Diagnostic:
    """A message the program (or an SDK) logged to the engine."""

    severity: str
    message: str
    urn: Optional[str] = None


@dataclass(frozen=True)
class PreviewResult:
    """Everything one offline run of a program registered, sorted by URN."""

    project: str
    stack: str
    resources: tuple[RecordedResource, ...]
    stack_outputs: dict[str, Any]
    unknown_invokes: tuple[str, ...] = ()
    diagnostics: tuple[Diagnostic, ...] = ()
    _by_urn: dict[str, RecordedResource] = field(
        init=False, repr=False, compare=False, default_factory=dict
    )

    def __post_init__(self) -> None:
        self._by_urn.update((resource.urn, resource) for resource in self.resources)

    @property
    def stack_urn(self) -> str:
        return f"urn:pulumi:{self.stack}::{self.project}::{STACK_TYPE}::{self.project}-{self.stack}"

    def resource(self, urn: str) -> RecordedResource:
        """Look a resource up by URN (KeyError names the URN when absent)."""
        return self._by_urn[urn]

    def of_type(self, type_token: str) -> tuple[RecordedResource, ...]:
        """All resources with the given type token, in URN order."""
        return tuple(resource for resource in self.resources if resource.type == type_token)

    def named(self, type_token: str, name: str) -> RecordedResource:
        """The single resource with this type and logical name."""
        matches = [r for r in self.resources if r.type == type_token and r.name == name]
        if len(matches) != 1:
            raise LookupError(f"{len(matches)} resources of type {type_token} named {name!r}")
        return matches[0]
