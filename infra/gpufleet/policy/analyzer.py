"""Drive a CrossGuard policy pack offline, the way the Pulumi engine does.

The engine starts a Python pack as ``python -u -m pulumi.policy <engine address> <pack dir>``
with the stack's identity and config in the environment, reads the gRPC port the pack prints
on its first line of output, then calls ``Handshake``, ``GetAnalyzerInfo``, ``Configure`` and
``ConfigureStack``, ``Analyze`` once per resource and ``AnalyzeStack`` once with the whole
graph. This module makes exactly those calls, so ``gpufleet check`` runs the very code that
``pulumi preview --policy-pack policies`` runs. It hands back what the pack said; turning
that into findings is ``gpufleet.policy.results``' job.
"""

from __future__ import annotations

import collections
import json
import os
import queue
import selectors
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent import futures
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import jsonschema
from google.protobuf import empty_pb2, json_format, struct_pb2
from pulumi.runtime.proto import analyzer_pb2, analyzer_pb2_grpc, engine_pb2, engine_pb2_grpc

from gpufleet.errors import GpufleetError, UsageError

STARTUP_SECONDS = 60.0
CALL_SECONDS = 120.0
MAX_MESSAGE_BYTES = 400 * 1024 * 1024  # what the SDK's own server accepts
ENFORCEMENT_NAMES = {
    analyzer_pb2.ADVISORY: "advisory",
    analyzer_pb2.MANDATORY: "mandatory",
    analyzer_pb2.REMEDIATE: "remediate",
    analyzer_pb2.DISABLED: "disabled",
}
ENFORCEMENT_VALUES = {name: value for value, name in ENFORCEMENT_NAMES.items()}


class PolicyPackError(GpufleetError):
    """The pack could not be started or talked to at all (exit 1: nothing was checked)."""


@dataclass(frozen=True)
class AnalyzedResource:
    """One resource as the engine describes it to an analyzer: inputs plus graph and options."""

    urn: str
    type: str
    name: str
    inputs: Mapping[str, Any]
    parent: str | None = None
    dependencies: tuple[str, ...] = ()
    property_dependencies: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    protect: bool = False
    custom: bool = True


@dataclass(frozen=True)
class PolicyInfo:
    name: str
    description: str
    enforcement: str
    kind: str
    tags: tuple[str, ...]
    remediation: str
    config_schema: Mapping[str, Any]


@dataclass(frozen=True)
class PackDiagnostic:
    """A violation the pack reported, or ``crashed`` when a policy raised instead of answering."""

    policy: str
    enforcement: str
    message: str
    urn: str | None
    crashed: bool = False


@dataclass(frozen=True)
class PackRun:
    pack: str
    version: str
    policies: tuple[PolicyInfo, ...]
    config: Mapping[str, Mapping[str, Any]]
    diagnostics: tuple[PackDiagnostic, ...]

    def policy(self, name: str) -> PolicyInfo | None:
        return next((policy for policy in self.policies if policy.name == name), None)


class _EngineLog(engine_pb2_grpc.EngineServicer):
    """The engine's log endpoint: the pack's ``pulumi.log`` calls (its error reports) land here."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.messages: list[str] = []

    def Log(self, request, context):
        if request.severity != engine_pb2.DEBUG:
            with self._lock:
                self.messages.append(f"{engine_pb2.LogSeverity.Name(request.severity).lower()}: {request.message}")
        return empty_pb2.Empty()


@dataclass(frozen=True)
class StackIdentity:
    """What the engine tells a pack about the stack under analysis."""

    project: str
    stack: str
    config: Mapping[str, str] = field(default_factory=dict)
    secret_keys: tuple[str, ...] = ()
    organization: str = "organization"


def run_pack(
    pack_dir: Path,
    identity: StackIdentity,
    resources: Sequence[AnalyzedResource],
    policy_config: Mapping[str, Any] | None = None,
) -> PackRun:
    """Start the pack, analyze ``resources`` as one preview would, stop the pack."""
    with PolicyPackSession(pack_dir, identity) as session:
        return session.analyze(resources, policy_config or {})


class PolicyPackSession:
    """One running pack process and the engine endpoint it logs to."""

    def __init__(self, pack_dir: Path, identity: StackIdentity) -> None:
        self.pack_dir = pack_dir.resolve()
        self.identity = identity
        self._engine_log = _EngineLog()
        self._engine = grpc.server(futures.ThreadPoolExecutor(max_workers=1))
        engine_pb2_grpc.add_EngineServicer_to_server(self._engine_log, self._engine)
        self._engine_port = self._engine.add_insecure_port("127.0.0.1:0")
        self._process: subprocess.Popen[bytes] | None = None
        self._channel: grpc.Channel | None = None
        self._stdout = bytearray()
        self._stderr = bytearray()

    def __enter__(self) -> PolicyPackSession:
        if not (self.pack_dir / "PulumiPolicy.yaml").is_file():
            raise PolicyPackError(f"{self.pack_dir} is not a policy pack: it has no PulumiPolicy.yaml")
        self._engine.start()
        self._process = subprocess.Popen(
            [sys.executable, "-u", "-m", "pulumi.policy", f"127.0.0.1:{self._engine_port}", str(self.pack_dir)],
            cwd=self.pack_dir,
            env=self._environment(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
        )
        return self

    def _connect(self) -> grpc.Channel:
        """Wait for the port only when the first call is due, so the pack starts up while the
        caller does other work (``gpufleet check`` runs the preview meanwhile)."""
        if self._channel is None:
            port = self._read_port()
            self._channel = grpc.insecure_channel(
                f"127.0.0.1:{port}", options=[("grpc.max_receive_message_length", MAX_MESSAGE_BYTES)]
            )
        return self._channel

    def __exit__(self, *exc_info: object) -> None:
        if self._channel is not None:
            self._channel.close()
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            for stream in (self._process.stdout, self._process.stderr):
                if stream is not None:
                    stream.close()
        self._engine.stop(0)

    def _environment(self) -> dict[str, str]:
        """The variables the engine sets for a plugin, and a path on which gpufleet imports."""
        env = dict(os.environ)
        gpufleet_root = str(Path(__file__).resolve().parents[2])
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [gpufleet_root, env.get("PYTHONPATH")]))
        env.update(
            PULUMI_PROJECT=self.identity.project,
            PULUMI_STACK=self.identity.stack,
            PULUMI_ORGANIZATION=self.identity.organization,
            PULUMI_DRY_RUN="true",
            PULUMI_CONFIG=json.dumps(dict(self.identity.config), sort_keys=True),
            PULUMI_CONFIG_SECRET_KEYS=json.dumps(list(self.identity.secret_keys)),
        )
        return env

    def _read_port(self) -> int:
        """The pack prints its port on the first line of stdout; anything else means it failed."""
        assert self._process is not None and self._process.stdout is not None and self._process.stderr is not None
        selector = selectors.DefaultSelector()
        selector.register(self._process.stdout, selectors.EVENT_READ, "out")
        selector.register(self._process.stderr, selectors.EVENT_READ, "err")
        first_line = bytearray()
        deadline = time.monotonic() + STARTUP_SECONDS
        while b"\n" not in first_line:
            remaining = deadline - time.monotonic()
            events = selector.select(timeout=max(remaining, 0))
            if not events:
                raise PolicyPackError(self._failure(f"printed no port within {STARTUP_SECONDS:.0f} s"))
            for key, _ in events:
                chunk = os.read(key.fileobj.fileno(), 65536)  # type: ignore[union-attr]
                if not chunk:
                    if key.data == "out":
                        self._process.wait()
                        self._stderr += self._process.stderr.read()
                        raise PolicyPackError(self._failure("exited before it printed its port"))
                    selector.unregister(key.fileobj)
                elif key.data == "out":
                    first_line += chunk
                else:
                    self._stderr += chunk
        selector.close()
        self._stdout += first_line.split(b"\n", 1)[1]
        for stream, sink in ((self._process.stdout, self._stdout), (self._process.stderr, self._stderr)):
            threading.Thread(target=_drain, args=(stream, sink), daemon=True).start()
        line = first_line.split(b"\n", 1)[0].strip()
        if not line.isdigit():
            raise PolicyPackError(self._failure(f"printed {line[:200]!r} instead of a port"))
        return int(line)

    def _failure(self, what: str) -> str:
        tail = [
            line for output in (self._stdout, self._stderr) for line in output.decode(errors="replace").strip().splitlines()[-15:]
        ]
        logs = self._engine_log.messages[-5:]
        detail = "\n".join([*logs, *tail])
        return f"the policy pack in {self.pack_dir} {what}" + (f":\n{detail}" if detail else "")

    def analyze(self, resources: Sequence[AnalyzedResource], policy_config: Mapping[str, Any]) -> PackRun:
        analysis = self.begin(policy_config)
        for resource in resources:
            analysis.submit(resource)
        return analysis.finish(resources)

    def begin(self, policy_config: Mapping[str, Any]) -> Analysis:
        """Start analysing: resources submitted while the caller still registers them (as the
        engine analyzes each resource as it registers) are analyzed meanwhile."""
        return Analysis(self, policy_config)

    def _configure(
        self, stub: analyzer_pb2_grpc.AnalyzerStub, policy_config: Mapping[str, Any]
    ) -> tuple[Any, tuple[PolicyInfo, ...], dict[str, dict[str, Any]]]:
        self._handshake(stub)
        info = self._call(stub.GetAnalyzerInfo, empty_pb2.Empty(), "GetAnalyzerInfo")
        policies = tuple(_policy_info(policy) for policy in info.policies)
        config = effective_config(policies, _initial_config(info), policy_config)
        self._call(stub.Configure, configure_request(config), "Configure")
        self._configure_stack(stub)
        return info, policies, config

    def _handshake(self, stub: analyzer_pb2_grpc.AnalyzerStub) -> None:
        """Packs built on SDKs that predate ``Handshake`` answer UNIMPLEMENTED; the engine goes on."""
        request = analyzer_pb2.AnalyzerHandshakeRequest(
            engine_address=f"127.0.0.1:{self._engine_port}",
            root_directory=str(self.pack_dir),
            program_directory=str(self.pack_dir),
        )
        try:
            stub.Handshake(request, timeout=CALL_SECONDS)
        except grpc.RpcError as error:
            if error.code() != grpc.StatusCode.UNIMPLEMENTED:
                raise PolicyPackError(self._failure(f"failed Handshake: {error.details()}")) from None

    def _configure_stack(self, stub: analyzer_pb2_grpc.AnalyzerStub) -> None:
        request = analyzer_pb2.AnalyzerStackConfigureRequest(
            stack=self.identity.stack,
            project=self.identity.project,
            organization=self.identity.organization,
            dry_run=True,
            config=dict(self.identity.config),
            config_secret_keys=list(self.identity.secret_keys),
        )
        try:
            stub.ConfigureStack(request, timeout=CALL_SECONDS)
        except grpc.RpcError as error:
            if error.code() != grpc.StatusCode.UNIMPLEMENTED:
                raise PolicyPackError(self._failure(f"failed ConfigureStack: {error.details()}")) from None

    def _call(self, method: Any, request: Any, name: str) -> Any:
        try:
            return method(request, timeout=CALL_SECONDS)
        except grpc.RpcError as error:
            raise PolicyPackError(self._failure(f"failed {name}: {error.details()}")) from None

    def _analyze_stack(self, stub: analyzer_pb2_grpc.AnalyzerStub, resources: Sequence[AnalyzedResource]) -> list[PackDiagnostic]:
        request = analyze_stack_request(resources)
        return self._diagnostics(lambda: stub.AnalyzeStack(request, timeout=CALL_SECONDS), None)

    def _diagnostics(self, call: Callable[[], Any], urn: str | None) -> list[PackDiagnostic]:
        """A policy that raises fails the whole call; that is a crash to report, never a pass."""
        try:
            response = call()
        except grpc.RpcError as error:
            details = error.details() or str(error.code())
            return [
                PackDiagnostic(policy=_crashed_policy(details), enforcement="mandatory", message=details, urn=urn, crashed=True)
            ]
        return [
            PackDiagnostic(
                policy=diagnostic.policyName,
                enforcement=ENFORCEMENT_NAMES.get(diagnostic.enforcementLevel, "advisory"),
                message=_own_message(diagnostic),
                urn=diagnostic.urn or urn,
            )
            for diagnostic in response.diagnostics
        ]


class Analysis:
    """One stack's Analyzer calls: ``Analyze`` for each resource as it is submitted (a few in
    flight at once, as the engine's parallel steps make them), ``AnalyzeStack`` at the end.

    The calls run on a thread of their own, so the caller goes on registering resources while
    the pack (another process) judges the ones it has; ``finish`` waits for them.
    """

    IN_FLIGHT = 16

    def __init__(self, session: PolicyPackSession, policy_config: Mapping[str, Any]) -> None:
        self._session = session
        self._policy_config = policy_config
        self._queue: queue.SimpleQueue[AnalyzedResource | None] = queue.SimpleQueue()
        self._diagnostics: list[PackDiagnostic] = []
        self._failure: BaseException | None = None
        self._configured: tuple[Any, tuple[PolicyInfo, ...], dict[str, dict[str, Any]]] | None = None
        self._stub: analyzer_pb2_grpc.AnalyzerStub | None = None
        self._worker = threading.Thread(target=self._work, name="gpufleet-analyze", daemon=True)
        self._worker.start()

    def submit(self, resource: AnalyzedResource) -> None:
        self._queue.put(resource)

    def finish(self, resources: Sequence[AnalyzedResource]) -> PackRun:
        """Every submitted resource analyzed, then the whole stack; the pack's answers."""
        self._queue.put(None)
        self._worker.join()
        if self._failure is not None:
            raise self._failure
        assert self._configured is not None and self._stub is not None
        info, policies, config = self._configured
        diagnostics = [*self._diagnostics, *self._session._analyze_stack(self._stub, resources)]
        return PackRun(pack=info.name, version=info.version, policies=policies, config=config, diagnostics=tuple(diagnostics))

    def _work(self) -> None:
        session = self._session
        try:
            self._stub = analyzer_pb2_grpc.AnalyzerStub(session._connect())
            self._configured = session._configure(self._stub, self._policy_config)
            pending: collections.deque[tuple[str, Any]] = collections.deque()
            while (resource := self._queue.get()) is not None:
                pending.append((resource.urn, self._stub.Analyze.future(analyze_request(resource), timeout=CALL_SECONDS)))
                if len(pending) >= self.IN_FLIGHT:
                    self._collect(*pending.popleft())
            while pending:
                self._collect(*pending.popleft())
        except BaseException as error:  # handed to finish(), which the caller waits on
            self._failure = error
            while self._queue.get() is not None:  # let submit() calls end without a reader
                pass

    def _collect(self, urn: str, call: Any) -> None:
        self._diagnostics.extend(self._session._diagnostics(call.result, urn))


def _drain(stream: Any, sink: bytearray) -> None:
    """Keep reading what the pack prints (a full pipe would block it mid-call)."""
    for chunk in iter(lambda: stream.read1(65536), b""):
        sink += chunk


CRASH_MARKER = "gpufleet policy "


def _crashed_policy(details: str) -> str:
    """The pack's guard prefixes a raising policy's error with ``gpufleet policy <name>:``."""
    start = details.find(CRASH_MARKER)
    if start < 0:
        return ""
    return details[start + len(CRASH_MARKER) :].split(":", 1)[0].strip()


def _own_message(diagnostic: analyzer_pb2.AnalyzeDiagnostic) -> str:
    """The SDK prepends the policy's description to every message; keep what the policy said."""
    message = diagnostic.message
    if diagnostic.description and message.startswith(diagnostic.description):
        message = message[len(diagnostic.description) :].lstrip("\n")
    return message or diagnostic.description


def _policy_info(policy: analyzer_pb2.PolicyInfo) -> PolicyInfo:
    return PolicyInfo(
        name=policy.name,
        description=policy.description,
        enforcement=ENFORCEMENT_NAMES.get(policy.enforcementLevel, "advisory"),
        kind="stack" if policy.policy_type == analyzer_pb2.POLICY_TYPE_STACK else "resource",
        tags=tuple(policy.tags),
        remediation=policy.remediation_steps,
        config_schema=json_format.MessageToDict(policy.configSchema.properties) if policy.HasField("configSchema") else {},
    )


def _initial_config(info: analyzer_pb2.AnalyzerInfo) -> dict[str, dict[str, Any]]:
    config: dict[str, dict[str, Any]] = {}
    for name, entry in info.initialConfig.items():
        values = json_format.MessageToDict(entry.properties)
        if entry.enforcementLevel:
            values["enforcementLevel"] = ENFORCEMENT_NAMES[entry.enforcementLevel]
        config[name] = values
    return config


class PolicyConfigError(UsageError):
    """The policy config file names an unknown policy or breaks a policy's config schema;
    ``path`` is the entry (policy name, setting) the refusal is about, for locating it."""

    def __init__(self, message: str, path: tuple[str, ...] = (), reason: str = "") -> None:
        super().__init__(message)
        self.path, self.reason = path, reason or message


def effective_config(
    policies: Iterable[PolicyInfo], initial: Mapping[str, Mapping[str, Any]], overrides: Mapping[str, Any]
) -> dict[str, dict[str, Any]]:
    """Each policy's ``enforcementLevel`` and properties as the engine computes them: the
    policy's defaults (its level, its schema's defaults), then the pack's initial config, then
    the policy config file (``all`` first, then the policy's own entry), checked against the
    policy's schema."""
    policies = list(policies)
    unknown = sorted(set(overrides) - {policy.name for policy in policies} - {"all"})
    if unknown:
        raise PolicyConfigError(
            f"policy config names unknown policies: {', '.join(unknown)}", (unknown[0],), "no policy of the pack has this name"
        )
    config: dict[str, dict[str, Any]] = {}
    for policy in policies:
        merged: dict[str, Any] = {"enforcementLevel": policy.enforcement}
        for key, schema in policy.config_schema.items():
            if isinstance(schema, Mapping) and "default" in schema:
                merged[key] = schema["default"]
        for layer in (initial.get("all"), initial.get(policy.name), overrides.get("all"), overrides.get(policy.name)):
            if isinstance(layer, str):
                merged["enforcementLevel"] = layer
            elif isinstance(layer, Mapping):
                merged.update(layer)
        given = overrides.get(policy.name)
        try:
            _check_against_schema(policy, merged)
        except PolicyConfigError as refused:  # located at the policy's own entry when the file has one
            where = (policy.name, *refused.path) if given is not None else ()
            raise PolicyConfigError(str(refused), where, refused.reason) from None
        config[policy.name] = merged
    return config


def _check_against_schema(policy: PolicyInfo, merged: Mapping[str, Any]) -> None:
    level = merged.get("enforcementLevel")
    if level not in ENFORCEMENT_VALUES:
        allowed = ", ".join(sorted(ENFORCEMENT_VALUES))
        raise PolicyConfigError(
            f"policy {policy.name}: enforcementLevel {level!r} is not one of {allowed}",
            (),
            f"enforcementLevel is not one of {allowed}",
        )
    properties = {key: value for key, value in merged.items() if key != "enforcementLevel"}
    schema = {"type": "object", "properties": dict(policy.config_schema), "additionalProperties": False}
    try:
        jsonschema.validate(properties, schema)
    except jsonschema.ValidationError as error:
        where = ".".join(str(part) for part in error.absolute_path)
        path = tuple(str(part) for part in error.absolute_path)[:1]
        raise PolicyConfigError(
            f"policy {policy.name}: {where + ': ' if where else ''}{error.message}", path, error.message
        ) from None


def analyze_request(resource: AnalyzedResource) -> analyzer_pb2.AnalyzeRequest:
    """The per-resource request the engine sends a pack (``Analyze``)."""
    return analyzer_pb2.AnalyzeRequest(
        type=resource.type,
        urn=resource.urn,
        name=resource.name,
        properties=_struct(resource.inputs),
        options=_options(resource),
    )


def analyze_stack_request(resources: Sequence[AnalyzedResource]) -> analyzer_pb2.AnalyzeStackRequest:
    """The whole-stack request the engine sends a pack (``AnalyzeStack``), with parents and dependencies."""
    return analyzer_pb2.AnalyzeStackRequest(
        resources=[
            analyzer_pb2.AnalyzerResource(
                type=resource.type,
                urn=resource.urn,
                name=resource.name,
                properties=_struct(resource.inputs),
                options=_options(resource),
                parent=resource.parent or "",
                dependencies=list(resource.dependencies),
                propertyDependencies={
                    key: analyzer_pb2.AnalyzerPropertyDependencies(urns=list(urns))
                    for key, urns in resource.property_dependencies.items()
                },
            )
            for resource in resources
        ]
    )


def configure_request(config: Mapping[str, Mapping[str, Any]]) -> analyzer_pb2.ConfigureAnalyzerRequest:
    request = analyzer_pb2.ConfigureAnalyzerRequest()
    for name, values in config.items():
        properties = {key: value for key, value in values.items() if key != "enforcementLevel"}
        entry = analyzer_pb2.PolicyConfig(enforcementLevel=ENFORCEMENT_VALUES[values["enforcementLevel"]])
        entry.properties.update(properties)
        request.policyConfig[name].CopyFrom(entry)
    return request


def _struct(values: Mapping[str, Any]) -> struct_pb2.Struct:
    struct = struct_pb2.Struct()
    struct.update(dict(values))
    return struct


def _options(resource: AnalyzedResource) -> analyzer_pb2.AnalyzerResourceOptions:
    return analyzer_pb2.AnalyzerResourceOptions(protect=resource.protect, parent=resource.parent or "")


__all__ = [
    "Analysis",
    "AnalyzedResource",
    "PackDiagnostic",
    "PackRun",
    "PolicyConfigError",
    "PolicyInfo",
    "PolicyPackError",
    "PolicyPackSession",
    "StackIdentity",
    "analyze_request",
    "analyze_stack_request",
    "configure_request",
    "effective_config",
    "run_pack",
]
