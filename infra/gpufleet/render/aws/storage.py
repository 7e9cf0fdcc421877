"""Storage tiers: S3 buckets for datasets and checkpoints, FSx for Lustre to feed GPUs.

Stateful tiers are protected (``protect`` and ``retain_on_delete``) unless the spec sets
``allow_deletion``: losing a dataset or a scratch file system to a typo costs days. What a
retained bucket or file system cannot do without (its KMS key, its security group, its
encryption and access settings) is protected and retained with it: a file system whose key
was deleted is unreadable.
"""

from __future__ import annotations

from collections.abc import Mapping

import pulumi

from gpufleet.model.plan import StorageTier
from gpufleet.render.aws.policies import deny_insecure_transport, key_policy
from gpufleet.render.aws.security import allow_from_group, rule, security_group
from gpufleet.render.aws.tags import tags
from gpufleet.render.resources import Registered

LUSTRE_VERSION = "2.15"


def _stateful(tier: StorageTier, parent: pulumi.Resource, **extra) -> pulumi.ResourceOptions:
    return pulumi.ResourceOptions(parent=parent, protect=tier.protected, retain_on_delete=tier.protected, **extra)


def _tier_key(
    tier: StorageTier, description: str, cluster_name: str, service: str, region: str, opts: pulumi.ResourceOptions
) -> Registered:
    """A tier's own key, usable only through the service that stores the tier's data."""
    return Registered(
        "aws:kms/key:Key",
        f"{tier.name}-key",
        {
            "description": description,
            "enableKeyRotation": True,
            "policy": key_policy(service, region),
            "tags": tags(cluster_name),
        },
        opts,
        outputs=("arn",),
    )


class S3Tier(pulumi.ComponentResource):
    """A private bucket, encrypted with its own KMS key, reachable over TLS only."""

    def __init__(self, tier: StorageTier, cluster_name: str, region: str, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("gpufleet:aws:StorageTier", tier.name, None, opts)
        kept = _stateful(tier, self)
        key = _tier_key(tier, f"{cluster_name} S3 tier {tier.name}", cluster_name, "s3", region, kept)
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
            {"bucket": bucket, "policy": deny_insecure_transport(self.bucket.output("arn"))},
            _stateful(tier, self, depends_on=[public_access]),
        )
        self.register_outputs({"bucket": self.bucket.output("bucket")})


class LustreTier(pulumi.ComponentResource):
    """An FSx for Lustre file system in its clients' zone, optionally linked to S3.

    Lustre traffic (LNet) flows both ways: clients accept it from the file system's group and
    the file system from its clients' groups, on the ports FSx documents and no others.
    """

    def __init__(
        self,
        tier: StorageTier,
        cluster_name: str,
        region: str,
        vpc_id: pulumi.Input[str],
        subnet_id: pulumi.Input[str],
        client_security_groups: Mapping[str, pulumi.Input[str]],
        import_bucket: pulumi.Input[str] | None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("gpufleet:aws:StorageTier", tier.name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        kept = _stateful(tier, self)
        persistent = tier.persistent
        key = (
            _tier_key(tier, f"{cluster_name} FSx for Lustre {tier.name}", cluster_name, "fsx", region, kept)
            if persistent
            else None
        )
        servers = security_group(
            f"{tier.name}-lustre",
            vpc_id,
            f"{cluster_name} Lustre {tier.name}: LNet from its clients and between servers",
            tags(cluster_name, Name=f"{cluster_name}-{tier.name}-lustre"),
            kept,
        )
        peers = {
            "self": (servers.id, kept),
            **{node_class: (group, child) for node_class, group in client_security_groups.items()},
        }
        for low, high in tier.client_ports:
            for source, (peer, options) in peers.items():
                for direction in ("ingress", "egress"):
                    rule(
                        direction,
                        f"{tier.name}-lustre-{direction}-{low}-{source}",
                        servers.id,
                        f"Lustre {low}-{high} {'from' if direction == 'ingress' else 'to'} {source}",
                        options,
                        peer=peer,
                        ports=(low, high),
                    )
            for node_class, group in client_security_groups.items():
                allow_from_group(
                    f"{tier.name}-client-{node_class}-{low}",
                    group,
                    servers.id,
                    f"Lustre {low}-{high} from {tier.name} file servers",
                    child,
                    ports=(low, high),
                )
        self.file_system = Registered(
            "aws:fsx/lustreFileSystem:LustreFileSystem",
            f"{tier.name}-fs",
            {
                "deploymentType": tier.deployment,
                "storageCapacity": tier.fsx_capacity_gib,
                "perUnitStorageThroughput": tier.throughput_per_tib if persistent else None,
                "subnetIds": subnet_id,
                "securityGroupIds": [servers.id],
                "kmsKeyId": key.output("arn") if key is not None else None,
                "automaticBackupRetentionDays": tier.backup_retention_days,
                "copyTagsToBackups": True if persistent else None,
                "fileSystemTypeVersion": LUSTRE_VERSION,
                "dataCompressionType": "LZ4",
                "metadataConfiguration": {"mode": "AUTOMATIC"} if tier.deployment == "PERSISTENT_2" else None,
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
