"""IAM roles and their policies as the plan decides them: the shapes every component that needs an identity takes."""

from __future__ import annotations

from collections.abc import Mapping

import pulumi

from gpufleet.model.iam import RolePlan
from gpufleet.render.aws.policies import managed_policy_arn, policy
from gpufleet.render.resources import Registered


def role(name: str, trust: pulumi.Input[str], tags: Mapping[str, str] | None, opts: pulumi.ResourceOptions) -> Registered:
    """A role only what ``trust`` names may assume."""
    return Registered("aws:iam/role:Role", name, {"assumeRolePolicy": trust, "tags": tags}, opts, outputs=("arn", "name"))


def attach_policy(name: str, to: Registered, policy_arn: pulumi.Input[str], opts: pulumi.ResourceOptions) -> Registered:
    """A managed policy attached to the role ``to``."""
    return Registered(
        "aws:iam/rolePolicyAttachment:RolePolicyAttachment", name, {"role": to.output("name"), "policyArn": policy_arn}, opts
    )


def inline_policy(name: str, to: Registered, policy: pulumi.Input[str], opts: pulumi.ResourceOptions) -> Registered:
    """A policy document that lives on the role ``to`` alone."""
    return Registered("aws:iam/rolePolicy:RolePolicy", name, {"role": to.id, "policy": policy}, opts)


def role_of(
    plan: RolePlan,
    tags: Mapping[str, str] | None,
    opts: pulumi.ResourceOptions,
    *,
    trusted_arn: pulumi.Input[str] | None = None,
    guarded_arn: pulumi.Input[str] | None = None,
) -> tuple[Registered, list[Registered]]:
    """The plan's role with its policies: what to wait for before the role is usable comes second.

    ``trusted_arn``: the one resource the trust policy names; ``guarded_arn``: the resource the
    inline policy grants access to."""
    created = role(plan.name, policy(plan.trust, trusted_arn), tags, opts)
    granted = [attach_policy(name, created, managed_policy_arn(managed), opts) for name, managed in plan.attachments]
    if plan.inline is not None:
        granted.append(inline_policy(plan.name, created, policy(plan.inline, guarded_arn), opts))
    return created, granted
