"""Storage tiers: S3 buckets for datasets and checkpoints, FSx for Lustre to feed GPUs.

Stateful tiers are protected (``protect`` and ``retain_on_delete``) unless the spec sets
``allow_deletion``: losing a dataset or a scratch file system to a typo costs days. What a
retained bucket or file system cannot do without (its KMS key, its security group, its
encryption and access settings) is protected and retained with it: a file system whose key
was deleted is unreadable.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pulumi

from gpufleet.model import security
from gpufleet.model.iam import PolicyDocument
from gpufleet.model.plan import LustreTier, S3Tier, StorageTier
from gpufleet.model.security import SecurityRule
from gpufleet.render.aws.policies import policy
from gpufleet.render.aws.security import rules_of, security_group
from gpufleet.render.aws.tags import tags
from gpufleet.render.resources import Registered


def _stateful(tier: StorageTier, parent: pulumi.Resource, depends_on: Sequence[pulumi.Resource] = ()) -> pulumi.ResourceOptions:
    return pulumi.ResourceOptions(
        parent=parent, protect=tier.protected, retain_on_delete=tier.protected, depends_on=list(depends_on) or None
    )


def _tier_key(
    tier: StorageTier, description: str, cluster_name: str, key_policy: PolicyDocument, opts: pulumi.ResourceOptions
) -> Registered:
    """A tier's own key, usable only through the service that stores the tier's data."""
    return Registered(
        "aws:kms/key:Key",
        f"{tier.name}-key",
        {
            "description": description,
            "enableKeyRotation": True,
            "policy": policy(key_policy),
            "tags": tags(cluster_name),
        },
        opts,
        outputs=("arn",),
    )


class S3Bucket(pulumi.ComponentResource):
    """A private bucket, encrypted with its own KMS key, reachable over TLS only."""

    def __init__(self, tier: S3Tier, cluster_name: str, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("gpufleet:aws:StorageTier", tier.name, None, opts)
        kept = _stateful(tier, self)
        key = _tier_key(tier, f"{cluster_name} S3 tier {tier.name}", cluster_name, tier.key_policy, kept)
        self.bucket = Registered(
            "aws:s3/bucket:Bucket",
            f"{tier.name}-bucket",
            {"forceDestroy": not tier.protected, "tags": tags(cluster_name, **{"gpufleet:storage": tier.name})},
            kept,
            outputs=("arn", "bucket"),
        )
        bucket = self.bucket.id
        if tier.versioning:
            Registered(
                "aws:s3/bucketVersioning:BucketVersioning",
                f"{tier.name}-versioning",
                {"bucket": bucket, "versioningConfiguration": {"status": "Enabled"}},
                kept,
            )
        Registered(
            "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
            f"{tier.name}-encryption",
            {
                "bucket": bucket,
                "rules": [
                    {
                        "applyServerSideEncryptionByDefault": {"sseAlgorithm": "aws:kms", "kmsMasterKeyId": key.output("arn")},
                        "bucketKeyEnabled": True,
                    }
                ],
            },
            kept,
        )
        public_access = Registered(
            "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
            f"{tier.name}-public-access",
            {
                "bucket": bucket,
                "blockPublicAcls": True,
                "blockPublicPolicy": True,
                "ignorePublicAcls": True,
                "restrictPublicBuckets": True,
            },
            kept,
        )
        Registered(
            "aws:s3/bucketOwnershipControls:BucketOwnershipControls",
            f"{tier.name}-ownership",
            {"bucket": bucket, "rule": {"objectOwnership": "BucketOwnerEnforced"}},
            kept,
        )
        Registered(
            "aws:s3/bucketPolicy:BucketPolicy",
            f"{tier.name}-tls-only",
            {"bucket": bucket, "policy": policy(tier.bucket_policy, self.bucket.output("arn"))},
            _stateful(tier, self, depends_on=[public_access]),
        )
        self.register_outputs({"bucket": self.bucket.output("bucket")})


class LustreFileSystem(pulumi.ComponentResource):
    """An FSx for Lustre file system in its clients' zone, optionally linked to S3, with the
    settings and the LNet rules the plan decided (``LustreTier.fsx``, ``model.security``)."""

    def __init__(
        self,
        tier: LustreTier,
        cluster_name: str,
        vpc_id: pulumi.Input[str],
        subnet_id: pulumi.Input[str],
        rules: Sequence[SecurityRule],
        node_groups: Mapping[str, pulumi.Input[str]],
        import_bucket: pulumi.Input[str] | None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("gpufleet:aws:StorageTier", tier.name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        kept = _stateful(tier, self)
        fsx = tier.fsx
        key = (
            _tier_key(tier, f"{cluster_name} FSx for Lustre {tier.name}", cluster_name, fsx.key_policy, kept)
            if fsx.key_policy is not None
            else None
        )
        servers = security_group(
            f"{tier.name}-lustre",
            vpc_id,
            f"{cluster_name} Lustre {tier.name}: LNet from its clients and between servers",
            tags(cluster_name, Name=f"{cluster_name}-{tier.name}-lustre"),
            kept,
        )
        rules_of(rules, {security.lustre(tier.name): servers.id, **node_groups}, child, retained=kept)
        self.file_system = Registered(
            "aws:fsx/lustreFileSystem:LustreFileSystem",
            f"{tier.name}-fs",
            {
                "deploymentType": fsx.deployment_type,
                "storageCapacity": fsx.storage_capacity_gib,
                "perUnitStorageThroughput": fsx.per_unit_throughput,
                "subnetIds": subnet_id,
                "securityGroupIds": [servers.id],
                "kmsKeyId": key.output("arn") if key is not None else None,
                "automaticBackupRetentionDays": fsx.backup_retention_days,
                "copyTagsToBackups": fsx.copy_tags_to_backups,
                "fileSystemTypeVersion": fsx.file_system_type_version,
                "dataCompressionType": fsx.data_compression,
                "metadataConfiguration": {"mode": fsx.metadata_mode} if fsx.metadata_mode else None,
                "tags": tags(cluster_name, **{"gpufleet:storage": tier.name}),
            },
            kept,
            outputs=("dnsName", "mountName"),
        )
        if import_bucket is not None:
            Registered(
                "aws:fsx/dataRepositoryAssociation:DataRepositoryAssociation",
                f"{tier.name}-import",
                {
                    "fileSystemId": self.file_system.id,
                    "dataRepositoryPath": pulumi.Output.concat("s3://", import_bucket),
                    "fileSystemPath": f"/{tier.import_from}",
                    "batchImportMetaDataOnCreate": True,
                    "s3": {"autoImportPolicy": {"events": ["NEW", "CHANGED", "DELETED"]}},
                },
                child,
            )
        self.register_outputs(
            {"dns_name": self.file_system.output("dnsName"), "mount_name": self.file_system.output("mountName")}
        )
