"""Storage tiers: S3 buckets for datasets and checkpoints, FSx for Lustre to feed GPUs.

Stateful tiers are protected (``protect`` and ``retain_on_delete``) unless the spec sets
``allow_deletion``: losing a dataset or a scratch file system to a typo costs days.
"""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from gpufleet.model.plan import StorageTier
from gpufleet.render.aws.tags import tags

LUSTRE_VERSION = "2.15"


def _stateful(tier: StorageTier, parent: pulumi.Resource) -> pulumi.ResourceOptions:
    return pulumi.ResourceOptions(parent=parent, protect=tier.protected, retain_on_delete=tier.protected)


class S3Tier(pulumi.ComponentResource):
    """A private, encrypted bucket whose objects can never be made public."""

    def __init__(self, tier: StorageTier, cluster_name: str, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("gpufleet:aws:StorageTier", tier.name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.bucket = aws.s3.Bucket(
            f"{tier.name}-bucket",
            force_destroy=not tier.protected,
            tags=tags(cluster_name, **{"gpufleet:storage": tier.name}),
            opts=_stateful(tier, self),
        )
        aws.s3.BucketVersioning(
            f"{tier.name}-versioning",
            bucket=self.bucket.id,
            versioning_configuration=aws.s3.BucketVersioningVersioningConfigurationArgs(status="Enabled" if tier.versioning else "Suspended"),
            opts=child,
        )
        aws.s3.BucketServerSideEncryptionConfiguration(
            f"{tier.name}-encryption",
            bucket=self.bucket.id,
            rules=[
                aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
                    apply_server_side_encryption_by_default=aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(sse_algorithm="aws:kms"),
                    bucket_key_enabled=True,
                )
            ],
            opts=child,
        )
        aws.s3.BucketPublicAccessBlock(
            f"{tier.name}-public-access",
            bucket=self.bucket.id,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
            opts=child,
        )
        aws.s3.BucketOwnershipControls(
            f"{tier.name}-ownership",
            bucket=self.bucket.id,
            rule=aws.s3.BucketOwnershipControlsRuleArgs(object_ownership="BucketOwnerEnforced"),
            opts=child,
        )
        self.register_outputs({"bucket": self.bucket.bucket})


class LustreTier(pulumi.ComponentResource):
    """An FSx for Lustre file system in its clients' zone, KMS-encrypted, optionally linked to S3."""

    def __init__(
        self,
        tier: StorageTier,
        cluster_name: str,
        vpc_id: pulumi.Input[str],
        subnet_id: pulumi.Input[str],
        client_security_group_id: pulumi.Input[str],
        import_bucket: pulumi.Input[str] | None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("gpufleet:aws:StorageTier", tier.name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        key = aws.kms.Key(
            f"{tier.name}-key",
            description=f"{cluster_name} FSx for Lustre {tier.name}",
            enable_key_rotation=True,
            tags=tags(cluster_name),
            opts=child,
        )
        security_group = aws.ec2.SecurityGroup(
            f"{tier.name}-lustre",
            vpc_id=vpc_id,
            description=f"{cluster_name} Lustre {tier.name}: LNet from nodes and between servers",
            tags=tags(cluster_name, Name=f"{cluster_name}-{tier.name}-lustre"),
            opts=child,
        )
        for low, high in tier.client_ports:
            for source, peer in (("nodes", client_security_group_id), ("self", security_group.id)):
                aws.vpc.SecurityGroupIngressRule(
                    f"{tier.name}-lustre-{low}-{source}",
                    security_group_id=security_group.id,
                    referenced_security_group_id=peer,
                    ip_protocol="tcp",
                    from_port=low,
                    to_port=high,
                    description=f"Lustre {low}-{high} from {source}",
                    opts=child,
                )
        aws.vpc.SecurityGroupEgressRule(
            f"{tier.name}-lustre-egress",
            security_group_id=security_group.id,
            cidr_ipv4="0.0.0.0/0",
            ip_protocol="-1",
            description="replies and S3 data repository traffic",
            opts=child,
        )
        persistent = tier.persistent
        self.file_system = aws.fsx.LustreFileSystem(
            f"{tier.name}-fs",
            deployment_type=tier.deployment,
            storage_capacity=tier.fsx_capacity_gib,
            per_unit_storage_throughput=tier.throughput_per_tib if persistent else None,
            subnet_ids=subnet_id,
            security_group_ids=[security_group.id],
            kms_key_id=key.arn if persistent else None,
            file_system_type_version=LUSTRE_VERSION,
            data_compression_type="LZ4",
            metadata_configuration=aws.fsx.LustreFileSystemMetadataConfigurationArgs(mode="AUTOMATIC") if tier.deployment == "PERSISTENT_2" else None,
            tags=tags(cluster_name, **{"gpufleet:storage": tier.name}),
            opts=_stateful(tier, self),
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
