"""The pack's build step: each ``PolicyDefinition`` becomes the SDK's policy, behind a guard.

The guard lets the SDK's own signals (unknown values during a preview, not-applicable) through
and turns any other exception into one that names the policy, so a crash reaches the engine as
a failed call and is never taken for a pass.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    ResourceValidationPolicy,
    StackValidationPolicy,
)
from pulumi_policy.policy import _NotApplicableError
from pulumi_policy.proxy import UnknownValueError

from gpufleet.policy.pack.definitions import PolicyDefinition

POLICY_CLASSES = {"resource": ResourceValidationPolicy, "stack": StackValidationPolicy}


class PolicyCrashed(RuntimeError):
    pass


def _guarded(name: str, validate: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(validate)
    def run(args: Any, report_violation: Callable[..., None]) -> None:
        try:
            validate(args, report_violation)
        except (UnknownValueError, _NotApplicableError):
            raise
        except Exception as error:
            raise PolicyCrashed(f"gpufleet policy {name}: {type(error).__name__}: {error}") from error

    return run


def sdk_policy(definition: PolicyDefinition) -> ResourceValidationPolicy | StackValidationPolicy:
    return POLICY_CLASSES[definition.kind](
        name=definition.name,
        description=definition.description,
        validate=_guarded(definition.name, definition.validate),
        enforcement_level=EnforcementLevel(definition.enforcement),
        config_schema=PolicyConfigSchema(properties={key: dict(value) for key, value in definition.schema.items()})
        if definition.schema
        else None,
        tags=list(definition.tags),
        remediation_steps=definition.fix,
    )
