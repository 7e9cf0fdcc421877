"""A resource monitor and engine that record what a program registers.

The SDK's `MockMonitor` hands registrations to a `Mocks` object but drops the
resource options (parent, protect, retainOnDelete, dependencies, provider) that
the request carries. `RecordingMonitor` keeps them, reads inputs straight from
the wire form, and rejects duplicate URNs the way the real engine does.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable
from typing import Any

from google.protobuf import empty_pb2
from pulumi.runtime.mocks import MockCallArgs, MockMonitor, MockResourceArgs, Mocks
from pulumi.runtime.proto import engine_pb2, provider_pb2, resource_pb2

from .result import STACK_TYPE, Diagnostic, RecordedResource
from .wire import plain_to_struct, struct_to_plain

_GET_RESOURCE_TOKEN = "pulumi:pulumi:getResource"


class RecordingMonitor(MockMonitor):
    """Answers the SDK's resource-monitor RPCs from `mocks` and records each resource.

    The SDK calls these methods from executor threads, so recording is locked.
    """

    def __init__(self, mocks: Mocks, on_record: Callable[[RecordedResource], None] | None = None) -> None:
        super().__init__(mocks)
        self._on_record = on_record
        """Told of each resource as it registers (``gpufleet check`` starts judging it then)."""
        self._lock = threading.Lock()
        self.recorded: dict[str, RecordedResource] = {}
        self.stack_outputs: dict[str, Any] = {}
        self.warnings: list[Diagnostic] = []

    def RegisterResource(self, request: resource_pb2.RegisterResourceRequest):
        urn = self.make_urn(request.parent, request.type, request.name)
        inputs, secret_paths = struct_to_plain(request.object)
        if request.remote:
            self._warn(
                urn,
                "remote (multi-language) component: its provider creates its children, so they are missing offline",
            )
        if request.transforms:
            self._warn(urn, "resource transforms are not run offline; recorded inputs are untransformed")
        outputs: dict[str, Any] = {}
        resource_id = ""
        if request.type != STACK_TYPE:
            minted, outputs = self._minted(request, inputs, request.importId, custom=request.custom)
            resource_id = minted or ""
        self._record(
            self._recorded(
                urn,
                request,
                inputs,
                outputs,
                secret_paths,
                custom=request.custom,
                id=resource_id if request.custom else None,
                protect=request.protect,
                retain_on_delete=request.retainOnDelete,
                property_dependencies={
                    key: tuple(sorted(set(deps.urns))) for key, deps in sorted(request.propertyDependencies.items()) if deps.urns
                },
                version=request.version,
                plugin_download_url=request.pluginDownloadURL,
                aliases=tuple(alias.urn or alias.spec.type for alias in request.aliases) + tuple(request.aliasURNs),
                additional_secret_outputs=tuple(request.additionalSecretOutputs),
                replace_on_changes=tuple(request.replaceOnChanges),
            ),
            resource_id,
        )
        return resource_pb2.RegisterResourceResponse(urn=urn, id=resource_id, object=plain_to_struct(outputs))

    def ReadResource(self, request: resource_pb2.ReadResourceRequest):
        urn = self.make_urn(request.parent, request.type, request.name)
        inputs, secret_paths = struct_to_plain(request.properties)
        _, outputs = self._minted(request, inputs, request.id, custom=True)
        self._record(
            self._recorded(urn, request, inputs, outputs, secret_paths, custom=True, id=request.id, external=True), request.id
        )
        return resource_pb2.ReadResourceResponse(urn=urn, properties=plain_to_struct(outputs))

    def _minted(
        self, request: Any, inputs: dict[str, Any], resource_id: str, *, custom: bool
    ) -> tuple[str | None, dict[str, Any]]:
        """The id and outputs the mocks give a resource registered or read (where a provider would)."""
        return self.mocks.new_resource(
            MockResourceArgs(
                typ=request.type,
                name=request.name,
                inputs=inputs,
                provider=request.provider,
                resource_id=resource_id,
                custom=custom,
            )
        )

    @staticmethod
    def _recorded(
        urn: str, request: Any, inputs: dict[str, Any], outputs: dict[str, Any], secret_paths: tuple[str, ...], **options: Any
    ) -> RecordedResource:
        """What a registration and a read both carry; ``options``, what only one of them sets."""
        return RecordedResource(
            urn=urn,
            type=request.type,
            name=request.name,
            parent=request.parent or None,
            inputs=inputs,
            outputs=outputs,
            provider=request.provider or None,
            depends_on=tuple(sorted(set(request.dependencies))),
            secret_paths=secret_paths,
            **options,
        )

    def RegisterResourceOutputs(self, request: resource_pb2.RegisterResourceOutputsRequest):
        outputs, _ = struct_to_plain(request.outputs)
        with self._lock:
            registered = self.recorded[request.urn]
            self.recorded[request.urn] = dataclasses.replace(registered, outputs=outputs)
            if registered.type == STACK_TYPE:
                self.stack_outputs = outputs
        return empty_pb2.Empty()

    def Invoke(self, request: resource_pb2.ResourceInvokeRequest):
        args, _ = struct_to_plain(request.args)
        failures = None
        if request.tok == _GET_RESOURCE_TOKEN:
            result = self._get_resource(args["urn"])
        else:
            answer = self.mocks.call(MockCallArgs(token=request.tok, args=args, provider=request.provider))
            result, check_failures = answer if isinstance(answer, tuple) else (answer, None)
            failures = [provider_pb2.CheckFailure(property=prop, reason=reason) for prop, reason in check_failures or ()]
        answer_field: dict[str, Any] = {"return": plain_to_struct(result)}  # a Python keyword: passed by name
        return resource_pb2.ResourceInvokeResponse(failures=failures, **answer_field)

    def RegisterStackTransform(self, request):
        self._warn(None, "stack transforms are not run offline; recorded inputs are untransformed")
        return super().RegisterStackTransform(request)

    def _warn(self, urn: str | None, message: str) -> None:
        with self._lock:
            self.warnings.append(Diagnostic("warning", message, urn))

    def _get_resource(self, urn: str) -> dict[str, Any]:
        with self._lock:
            registered = self.recorded.get(urn)
        if registered is None:
            raise KeyError(f"unknown resource {urn}")
        return {"urn": urn, "id": registered.id or "", "state": registered.outputs}

    def _record(self, resource: RecordedResource, resource_id: str) -> None:
        with self._lock:
            if resource.urn in self.recorded:
                raise ValueError(f"Duplicate resource URN '{resource.urn}': give the resource a unique name")
            self.recorded[resource.urn] = resource
            self.resources[resource.urn] = MockMonitor.ResourceRegistration(resource.urn, resource_id, resource.outputs)
        if self._on_record is not None:
            self._on_record(resource)


class RecordingEngine:
    """Collects `pulumi.log` messages instead of printing them.

    Debug messages are dropped: the SDK sends several per resource and they
    only trace its own progress.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.diagnostics: list[Diagnostic] = []

    def Log(self, request: engine_pb2.LogRequest) -> None:
        if request.severity == engine_pb2.DEBUG:
            return
        severity = engine_pb2.LogSeverity.Name(request.severity).lower()
        with self._lock:
            self.diagnostics.append(Diagnostic(severity, request.message, request.urn or None))
