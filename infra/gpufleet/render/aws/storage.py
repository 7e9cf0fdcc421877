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
import pulumi_aws as aws

from gpufleet.model.plan import StorageTier
from gpufleet.render.aws.security import allow_from_group
from gpufleet.render.aws.policies import deny_insecure_transport, key_policy
from gpufleet.render.aws.tags import tags

LUSTRE_VERSION = "2.15"


def _stateful(tier: StorageTier, parent: pulumi.Resource, **extra) -> pulumi.ResourceOptions:
    return pulumi.ResourceOptions(parent=parent, protect=tier.protected, retain_on_delete=tier.protected, **extra)


def _tier_key(tier: StorageTier, description: str, cluster_name: str, service: str, region: str, opts: pulumi.ResourceOptions) -> aws.kms.Key:
    """A tier's own key, usable only through the service that stores the tier's data."""
    return aws.kms.Key(
        f"{tier.name}-key", description=description, enable_key_rotation=True, policy=key_policy(service, region), tags=tags(cluster_name), opts=opts
    )


class S3Tier(pulumi.ComponentResource):
    """A private bucket, encrypted with its own KMS key, reachable over TLS only."""

    def __init__(self, tier: StorageTier, cluster_name: str, region: str, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("gpufleet:aws:StorageTier", tier.name, None, opts)
        kept = _stateful(tier, self)
        key = _tier_key(tier, f"{cluster_name} S3 tier {tier.name}", cluster_name, "s3", region, kept)
        self.bucket = aws.s3.Bucket(
            f"{tier.name}-bucket",
            force_destroy=not tier.protected,
            tags=tags(cluster_name, **{"gpufleet:storage": tier.name}),
            opts=kept,
        )
        if tier.versioning:
            aws.s3.BucketVersioning(
                f"{tier.name}-versioning",
                bucket=self.bucket.id,
                versioning_configuration=aws.s3.BucketVersioningVersioningConfigurationArgs(status="Enabled"),
                opts=kept,
            )
        aws.s3.BucketServerSideEncryptionConfiguration(
            f"{tier.name}-encryption",
            bucket=self.bucket.id,
            rules=[
                aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
                    apply_server_side_encryption_by_default=aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(
                        sse_algorithm="aws:kms", kms_master_key_id=key.arn
                    ),
                    bucket_key_enabled=True,
                )
            ],
            opts=kept,
        )
        public_access = aws.s3.BucketPublicAccessBlock(
            f"{tier.name}-public-access",
            bucket=self.bucket.id,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
            opts=kept,
        )
        aws.s3.BucketOwnershipControls(
            f"{tier.name}-ownership",
            bucket=self.bucket.id,
            rule=aws.s3.BucketOwnershipControlsRuleArgs(object_ownership="BucketOwnerEnforced"),
            opts=kept,
        )
        aws.s3.BucketPolicy(
            f"{tier.name}-tls-only",
            bucket=self.bucket.id,
            policy=deny_insecure_transport(self.bucket.arn),
            opts=_stateful(tier, self, depends_on=[public_access]),
        )
        self.register_outputs({"bucket": self.bucket.bucket})


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
        key = _tier_key(tier, f"{cluster_name} FSx for Lustre {tier.name}", cluster_name, "fsx", region, kept) if persistent else None
        security_group = aws.ec2.SecurityGroup(
            f"{tier.name}-lustre",
            vpc_id=vpc_id,
            description=f"{cluster_name} Lustre {tier.name}: LNet from its clients and between servers",
            tags=tags(cluster_name, Name=f"{cluster_name}-{tier.name}-lustre"),
            opts=kept,
        )
        peers = {"self": (security_group.id, kept), **{node_class: (group, child) for node_class, group in client_security_groups.items()}}
        for low, high in tier.client_ports:
            for source, (peer, options) in peers.items():
                for direction, rule_type in (("ingress", aws.vpc.SecurityGroupIngressRule), ("egress", aws.vpc.SecurityGroupEgressRule)):
                    rule_type(
                        f"{tier.name}-lustre-{direction}-{low}-{source}",
                        security_group_id=security_group.id,
                        referenced_security_group_id=peer,
                        ip_protocol="tcp",
                        from_port=low,
                        to_port=high,
                        description=f"Lustre {low}-{high} {'from' if direction == 'ingress' else 'to'} {source}",
                        opts=options,
                    )
            for node_class, group in client_security_groups.items():
                allow_from_group(
                    f"{tier.name}-client-{node_class}-{low}", group, security_group.id, f"Lustre {low}-{high} from {tier.name} file servers", child, ports=(low, high)
                )
        self.file_system = aws.fsx.LustreFileSystem(
            f"{tier.name}-fs",
            deployment_type=tier.deployment,
            storage_capacity=tier.fsx_capacity_gib,
            per_unit_storage_throughput=tier.throughput_per_tib if persistent else None,
            subnet_ids=subnet_id,
            security_group_ids=[security_group.id],
            kms_key_id=key.arn if key is not None else None,
            automatic_backup_retention_days=tier.backup_retention_days,
            copy_tags_to_backups=True if persistent else None,
            file_system_type_version=LUSTRE_VERSION,
            data_compression_type="LZ4",
            metadata_configuration=aws.fsx.LustreFileSystemMetadataConfigurationArgs(mode="AUTOMATIC") if tier.deployment == "PERSISTENT_2" else None,
            tags=tags(cluster_name, **{"gpufleet:storage": tier.name}),
            opts=kept,
        )
        if import_bucket is not None:
            aws.fsx.DataRepositoryAssociation(
                f"{tier.name}-import",
                file_system_id=self.file_system.id,
                data_repository_path=pulumi.Output.concat("s3://", import_bucket),
                file_system_path=f"/{tier.import_from}",
                batch_import_meta_data_on_create=True,
                s3=aws.fsx.DataRepositoryAssociationS3Args(
                    auto_import_policy=aws.fsx.DataRepositoryAssociationS3AutoImportPolicyArgs(events=["NEW", "CHANGED", "DELETED"]),
                ),
                opts=child,
            )
        self.register_outputs({"dns_name": self.file_system.dns_name, "mount_name": self.file_system.mount_name})
