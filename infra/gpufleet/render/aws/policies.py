"""Policy documents as AWS takes them: the plan's documents (``model.iam``) with the values only a
deployment knows filled in, and the ARNs of managed policies in the deployment's partition."""

from __future__ import annotations

import json
from typing import Any

import pulumi

from gpufleet.model.iam import Node, PolicyDocument, Ref, Text
from gpufleet.render.resources import invoke


def account_id() -> pulumi.Output[str]:
    return invoke("aws:index/getCallerIdentity:getCallerIdentity")["accountId"]


def partition() -> pulumi.Output[str]:
    return invoke("aws:index/getPartition:getPartition")["partition"]


def managed_policy_arn(name: str) -> pulumi.Output[str]:
    return partition().apply(lambda p: f"arn:{p}:iam::aws:policy/{name}")


def eks_access_policy_arn(name: str) -> pulumi.Output[str]:
    return partition().apply(lambda p: f"arn:{p}:eks::aws:cluster-access-policy/{name}")


def written(document: PolicyDocument, values: dict[str, str | None]) -> str:
    """The document's JSON text with each ``Ref`` replaced by its value."""

    def fill(node: Node) -> Any:
        if isinstance(node, Ref):
            return values[node.name]
        if isinstance(node, Text):
            return "".join(part if isinstance(part, str) else str(values[part.name]) for part in node.parts)
        if isinstance(node, list):
            return [fill(item) for item in node]
        if isinstance(node, dict):
            return {key: fill(item) for key, item in node.items()}
        return node

    return json.dumps({"Version": "2012-10-17", "Statement": [fill(s) for s in document.statements]}, sort_keys=True)


def policy(document: PolicyDocument, arn: pulumi.Input[str] | None = None) -> pulumi.Input[str]:
    """The document as a resource input; ``arn``: the resource it guards, where it names one."""
    refs = document.refs
    if not refs:
        return written(document, {})
    if "arn" in refs and arn is None:
        raise ValueError("this policy names the resource it guards: pass its ARN")
    if refs == ("arn",):
        return pulumi.Output.from_input(arn).apply(lambda value: written(document, {"arn": value}))
    account = account_id() if "account" in refs else None
    part = partition() if "partition" in refs else None
    return pulumi.Output.all(account, part, arn if "arn" in refs else None).apply(
        lambda args: written(document, {"account": args[0], "partition": args[1], "arn": args[2]})
    )
