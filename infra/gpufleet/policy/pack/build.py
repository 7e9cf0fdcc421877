"""How every gpufleet policy is made: a rule id, a default enforcement level, a fix, a guard.

The rule id travels in the policy's tags so ``gpufleet check`` can file each violation under
the same kind of id ``gpufleet validate`` uses. The guard lets the SDK's own signals (unknown
values during a preview, not-applicable) through and turns any other exception into one that
names the policy, so a crash reaches the engine as a failed call and is never taken for a pass.
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


class PolicyCrashed(RuntimeError):
    pass


def _guarded(name: str, validate: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(validate)
    def run(args: Any, report_violation: Callable[..., None]) -> None:
        try:
            validate(args, report_violation)
        except (UnknownValueError, _NotApplicableError):
            raise
        except Exception as error:  # noqa: BLE001 re-raised with the policy's name
            raise PolicyCrashed(f"gpufleet policy {name}: {type(error).__name__}: {error}") from error

    return run


def _policy(
    policy_class: type[ResourceValidationPolicy] | type[StackValidationPolicy],
    rule_id: str,
    name: str,
    description: str,
    validate: Callable[..., Any],
    *,
    fix: str,
    category: str,
    enforcement: str = "mandatory",
    schema: dict[str, dict[str, Any]] | None = None,
) -> ResourceValidationPolicy | StackValidationPolicy:
    return policy_class(
        name=name,
        description=description,
        validate=_guarded(name, validate),
        enforcement_level=EnforcementLevel(enforcement),
        config_schema=PolicyConfigSchema(properties=schema) if schema else None,
        tags=[rule_id, category],
        remediation_steps=fix,
    )


resource_policy = functools.partial(_policy, ResourceValidationPolicy)
stack_policy = functools.partial(_policy, StackValidationPolicy)
