"""IAM and KMS policy documents, scoped to the deploying account and the services that use them.

Trust policies name the account (``aws:SourceAccount``) and, where the caller is one resource,
that resource (``aws:SourceArn``), so no other account's service can assume the role (the
confused-deputy guard). Key policies let the account administer a key but use it for data
only through the one service that needs it (``kms:ViaService``).
"""

from __future__ import annotations

import json

import pulumi

from gpufleet.render.resources import invoke

KEY_ADMINISTRATION = (
    "kms:CancelKeyDeletion",
    "kms:Create*",
    "kms:Delete*",
    "kms:Describe*",
    "kms:Disable*",
    "kms:Enable*",
    "kms:Get*",
    "kms:List*",
    "kms:Put*",
    "kms:Revoke*",
    "kms:ScheduleKeyDeletion",
    "kms:TagResource",
    "kms:UntagResource",
    "kms:Update*",
)
KEY_USE = ("kms:CreateGrant", "kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey*", "kms:ReEncrypt*")


def _document(statements: list[dict]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": statements}, sort_keys=True)


def account_id() -> pulumi.Output[str]:
    return invoke("aws:index/getCallerIdentity:getCallerIdentity")["accountId"]


def partition() -> pulumi.Output[str]:
    return invoke("aws:index/getPartition:getPartition")["partition"]


def managed_policy_arn(name: str) -> pulumi.Output[str]:
    return partition().apply(lambda p: f"arn:{p}:iam::aws:policy/{name}")


def trust_policy(service: str, source_arn: pulumi.Input[str] | None = None) -> pulumi.Output[str]:
    """A role only ``service`` may assume, and only on behalf of this account (and ``source_arn``)."""

    def build(account: str, arn: str | None) -> str:
        condition: dict[str, dict[str, str]] = {"StringEquals": {"aws:SourceAccount": account}}
        if arn is not None:
            condition["ArnLike"] = {"aws:SourceArn": arn}
        return _document(
            [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": service},
                    "Action": ["sts:AssumeRole", "sts:TagSession"],
                    "Condition": condition,
                }
            ]
        )

    return pulumi.Output.all(account_id(), source_arn).apply(lambda args: build(*args))


def ec2_trust_policy() -> str:
    """EC2 assumes node roles for instances; AWS documents no source conditions for this principal."""
    return _document([{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": ["sts:AssumeRole"]}])


def key_policy(service: str, region: str) -> pulumi.Output[str]:
    """The account administers the key; data operations only through ``service`` in ``region``."""

    def build(account: str, part: str) -> str:
        root = {"AWS": f"arn:{part}:iam::{account}:root"}
        return _document(
            [
                {
                    "Sid": "AccountAdministersKey",
                    "Effect": "Allow",
                    "Principal": root,
                    "Action": list(KEY_ADMINISTRATION),
                    "Resource": "*",
                },
                {
                    "Sid": f"UseThrough{service.capitalize()}",
                    "Effect": "Allow",
                    "Principal": root,
                    "Action": list(KEY_USE),
                    "Resource": "*",
                    "Condition": {
                        "StringEquals": {"kms:CallerAccount": account, "kms:ViaService": f"{service}.{region}.amazonaws.com"}
                    },
                },
            ]
        )

    return pulumi.Output.all(account_id(), partition()).apply(lambda args: build(*args))


def deny_insecure_transport(bucket_arn: pulumi.Input[str]) -> pulumi.Output[str]:
    return pulumi.Output.from_input(bucket_arn).apply(
        lambda arn: _document(
            [
                {
                    "Sid": "DenyInsecureTransport",
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": "s3:*",
                    "Resource": [arn, f"{arn}/*"],
                    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                }
            ]
        )
    )


def flow_log_delivery(log_group_arn: pulumi.Input[str]) -> pulumi.Output[str]:
    return pulumi.Output.from_input(log_group_arn).apply(
        lambda arn: _document(
            [
                {
                    "Effect": "Allow",
                    "Action": ["logs:CreateLogStream", "logs:DescribeLogStreams", "logs:PutLogEvents"],
                    "Resource": [arn, f"{arn}:*"],
                }
            ]
        )
    )
