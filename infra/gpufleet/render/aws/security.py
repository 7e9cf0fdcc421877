"""Security groups and their rules: the shapes every component's groups and rules take.

Which rules exist is the plan's (``model.security``); this only writes them."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import pulumi

from gpufleet.model.security import SecurityRule
from gpufleet.render.resources import Registered

RULE_TOKENS = {
    "ingress": "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
    "egress": "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule",
}


def security_group(
    name: str, vpc_id: pulumi.Input[str], description: str, tags: dict[str, str], opts: pulumi.ResourceOptions
) -> Registered:
    return Registered(
        "aws:ec2/securityGroup:SecurityGroup", name, {"vpcId": vpc_id, "description": description, "tags": tags}, opts
    )


def rule(
    direction: str,
    name: str,
    group: pulumi.Input[str],
    description: str,
    opts: pulumi.ResourceOptions,
    *,
    peer: pulumi.Input[str] | None = None,
    cidr: str | None = None,
    protocol: str = "tcp",
    ports: tuple[int, int] | None = None,
) -> Registered:
    """``group``'s ``direction`` rule for ``protocol`` on ``ports`` (all when None) with the members of ``peer`` or a ``cidr``."""
    low, high = ports if ports else (None, None)
    inputs = {
        "securityGroupId": group,
        "referencedSecurityGroupId": peer,
        "cidrIpv4": cidr,
        "ipProtocol": protocol,
        "fromPort": low,
        "toPort": high,
        "description": description,
    }
    return Registered(RULE_TOKENS[direction], name, inputs, opts)


def rules_of(
    rules: Iterable[SecurityRule],
    groups: Mapping[str, pulumi.Input[str]],
    opts: pulumi.ResourceOptions,
    *,
    retained: pulumi.ResourceOptions | None = None,
) -> list[Registered]:
    """The plan's rules, verbatim; ``groups``: each group role's id; ``retained``: the options of
    rules kept with a stateful tier."""
    return [
        rule(
            planned.direction,
            planned.name,
            groups[planned.group],
            planned.description,
            retained if planned.retained and retained is not None else opts,
            peer=groups[planned.peer] if planned.peer else None,
            cidr=planned.cidr,
            protocol=planned.protocol,
            ports=planned.ports,
        )
        for planned in rules
    ]
