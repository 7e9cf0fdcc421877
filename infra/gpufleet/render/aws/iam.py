"""IAM roles and their policies: the shapes every component that needs an identity takes."""

from __future__ import annotations

from collections.abc import Mapping

import pulumi

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
