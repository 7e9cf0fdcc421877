"""The pack's Analyzer: each request's resources made into Python once, for every policy.

The policy SDK's servicer (pulumi-policy 1.21) builds the Python view of a request inside its
loop over policies: ``AnalyzeStack`` converts every resource's properties from protobuf, wraps
them in the unknown-value proxy, reads its options and links parents and dependencies once per
stack policy; ``Analyze`` converts a resource once per resource policy (and reconfigures the runtime from the environment on every call). Profiled on a 256-pool
stack (3,306 resources; 20 stack and 7 resource policies), that rebuilding was nine tenths of
the pack's time, the policies' own checks the rest (``bench/check.py --profile``).

``SharedServicer`` builds that view once per request, then runs each policy exactly as the SDK
does: the same enforcement levels, the same violation reports, an unknown value during a
preview reported as advisory, a not-applicable policy listed as such. Policies only read what
they are handed, so one view serves them all. ``serve`` installs it in place of the SDK's.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from inspect import isawaitable
from typing import Any

from google.protobuf import json_format
from pulumi.runtime.proto import analyzer_pb2 as proto
from pulumi_policy import policy as sdk
from pulumi_policy.deserialize import deserialize_properties
from pulumi_policy.proxy import UnknownValueError, unknown_checking_proxy


class SharedServicer(sdk._PolicyAnalyzerServicer):
    """The SDK's servicer with each request's resources built once, not once per policy."""

    _runtime_configured = False

    def _configure_runtime_settings(self) -> None:
        """The SDK reads the stack's config from the environment and configures the runtime on
        every call; the environment is the process's, fixed at its start, so once is enough."""
        if not self._runtime_configured:
            super()._configure_runtime_settings()
            self._runtime_configured = True

    def Analyze(self, request: Any, _context: Any) -> proto.AnalyzeResponse:
        self._configure_runtime_settings()
        response = proto.AnalyzeResponse()
        props = _props(request.properties)
        opts = self._get_resource_options(request)
        provider = self._get_provider_resource(request)
        for policy, level in self._active(sdk.ResourceValidationPolicy, response):
            args = sdk.ResourceValidationArgs(
                request.type, props, request.urn, request.name, opts, provider, self._get_policy_config(policy.name), self._tags
            )
            self._run(policy, level, args, response)
        return response

    def AnalyzeStack(self, request: Any, _context: Any) -> proto.AnalyzeResponse:
        self._configure_runtime_settings()
        response = proto.AnalyzeResponse()
        resources = self._stack_resources(request.resources)
        for policy, level in self._active(sdk.StackValidationPolicy, response):
            args = sdk.StackValidationArgs(resources, self._get_policy_config(policy.name), self._tags)
            self._run(policy, level, args, response)
        return response

    @property
    def _tags(self) -> Any:
        return self._PolicyAnalyzerServicer__stack_tags  # type: ignore[attr-defined]

    def _active(self, kind: type[Any], response: proto.AnalyzeResponse) -> list[tuple[Any, sdk.EnforcementLevel]]:
        """The policies of this kind to run and the level each reports at (remediate reports
        as mandatory); a resource policy without a check is listed as not applicable."""
        found: list[tuple[Any, sdk.EnforcementLevel]] = []
        for policy in self._PolicyAnalyzerServicer__policies:  # type: ignore[attr-defined]
            level = self._get_enforcement_level(policy)
            if level == sdk.EnforcementLevel.DISABLED or not isinstance(policy, kind):
                continue
            if kind is sdk.ResourceValidationPolicy and not policy.has_validation():
                response.not_applicable.append(
                    proto.PolicyNotApplicable(policy_name=policy.name, reason="Policy does not implement validate")
                )
                continue
            found.append((policy, sdk.EnforcementLevel.MANDATORY if level == sdk.EnforcementLevel.REMEDIATE else level))
        return found

    def _run(self, policy: Any, level: sdk.EnforcementLevel, args: Any, response: proto.AnalyzeResponse) -> None:
        report: Callable[..., None] = self._create_report_violation(
            response, policy.name, policy.description, level, policy.severity
        )
        try:
            result = policy.validate(args, report)
            if isawaitable(result):
                loop = asyncio.new_event_loop()
                try:
                    loop.run_until_complete(result)
                finally:
                    loop.close()
        except UnknownValueError as error:
            name, version = self._PolicyAnalyzerServicer__policy_pack_name, self._PolicyAnalyzerServicer__policy_pack_version  # type: ignore[attr-defined]
            response.diagnostics.append(
                proto.AnalyzeDiagnostic(
                    policyName=policy.name,
                    policyPackName=name,
                    policyPackVersion=version,
                    message=f"can't run policy '{policy.name}' from policy pack '{name}@v{version}' during preview: {error.message}",
                    urn="",
                    description=policy.description,
                    enforcementLevel=self._map_enforcement_level(sdk.EnforcementLevel.ADVISORY),
                )
            )
        except sdk._NotApplicableError as error:
            response.not_applicable.append(proto.PolicyNotApplicable(policy_name=policy.name, reason=error.reason or ""))

    def _stack_resources(self, requested: Any) -> list[sdk.PolicyResource]:
        """Every resource of the stack with its parent, dependencies and property dependencies
        linked to the others (URNs the request does not hold are left out, as the SDK does)."""
        built = [
            sdk.PolicyResource(
                r.type,
                _props(r.properties),
                r.urn,
                r.name,
                self._get_resource_options(r),
                self._get_provider_resource(r),
                None,
                [],
                {},
            )
            for r in requested
        ]
        by_urn = {resource.urn: resource for resource in built}
        for resource, r in zip(built, requested, strict=True):
            resource.parent = by_urn.get(r.parent) if r.parent else None
            resource.dependencies = [by_urn[urn] for urn in r.dependencies if urn in by_urn]
            resource.property_dependencies = {
                key: [by_urn[urn] for urn in urns.urns if urn in by_urn] for key, urns in r.propertyDependencies.items()
            }
        return built


def _props(properties: Any) -> Any:
    return unknown_checking_proxy(deserialize_properties(json_format.MessageToDict(properties)))


def install() -> None:
    """Make ``PolicyPack`` serve with ``SharedServicer`` (it looks the class up when it starts)."""
    sdk._PolicyAnalyzerServicer = SharedServicer  # type: ignore[misc]
