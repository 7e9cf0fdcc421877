"""A node pool: launch template and EKS managed node group, plus its placement group."""

from __future__ import annotations

from collections.abc import Sequence

import pulumi
import pulumi_aws as aws

from gpufleet.model.plan import Pool
from gpufleet.render.aws.cluster import GpuCluster
from gpufleet.render.aws.tags import tags

NODE_GROUP_CAPACITY = {"on-demand": "ON_DEMAND", "spot": "SPOT", "capacity-block": "CAPACITY_BLOCK", "reservation": "ON_DEMAND"}
TAINT_EFFECT = {"NoSchedule": "NO_SCHEDULE", "NoExecute": "NO_EXECUTE", "PreferNoSchedule": "PREFER_NO_SCHEDULE"}


class NodePool(pulumi.ComponentResource):
    """Nodes of one instance type. The template carries everything EKS lets it carry
    (interfaces, AMI, user data, placement, market options); the node group only the
    subnets, role, scaling, labels and taints, as EKS managed node groups require."""

    def __init__(
        self,
        pool: Pool,
        *,
        cluster: GpuCluster,
        cluster_name: str,
        subnet_ids: Sequence[pulumi.Input[str]],
        security_group_ids: Sequence[pulumi.Input[str]],
        image_id: pulumi.Input[str],
        imds_hop_limit: int,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("gpufleet:aws:NodePool", pool.name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        pool_tags = tags(cluster_name, **{"gpufleet:pool": pool.name, "gpufleet:workload": pool.workload})
        group_name: pulumi.Input[str] | None = pool.placement.existing_group
        if pool.placement.strategy != "none" and group_name is None:
            group_name = aws.ec2.PlacementGroup(
                f"{pool.name}-placement",
                strategy=pool.placement.strategy,
                partition_count=pool.placement.partition_count,
                tags=pool_tags,
                opts=child,
            ).name
        nvme = pool.local_nvme
        encoded_user_data = cluster.node_user_data(
            pool,
            local_nvme_mount=nvme.mount_path if nvme else None,
            hugepages=pool.efa_hugepages,
        )
        interfaces = pool.efa.interfaces if pool.efa else ()
        network_interfaces = [
            aws.ec2.LaunchTemplateNetworkInterfaceArgs(
                network_card_index=nic.card_index,
                device_index=nic.device_index,
                interface_type=None if nic.interface_type == "interface" else nic.interface_type,
                security_groups=list(security_group_ids),
                associate_public_ip_address="false",
                delete_on_termination="true",
            )
            for nic in interfaces
        ] or [
            aws.ec2.LaunchTemplateNetworkInterfaceArgs(
                device_index=0,
                security_groups=list(security_group_ids),
                associate_public_ip_address="false",
                delete_on_termination="true",
            )
        ]
        reservation = pool.capacity.reservation_id
        self.launch_template = aws.ec2.LaunchTemplate(
            f"{pool.name}-template",
            description=f"{cluster_name} pool {pool.name}: {pool.instance.name}",
            image_id=image_id,
            instance_type=pool.instance.name,
            user_data=encoded_user_data,
            update_default_version=True,
            metadata_options=aws.ec2.LaunchTemplateMetadataOptionsArgs(
                http_endpoint="enabled",
                http_tokens="required",
                http_put_response_hop_limit=imds_hop_limit,
                instance_metadata_tags="disabled",
            ),
            block_device_mappings=[
                aws.ec2.LaunchTemplateBlockDeviceMappingArgs(
                    device_name="/dev/xvda",
                    ebs=aws.ec2.LaunchTemplateBlockDeviceMappingEbsArgs(
                        volume_size=pool.root_volume_gib,
                        volume_type="gp3",
                        encrypted="true",
                        delete_on_termination="true",
                    ),
                )
            ],
            network_interfaces=network_interfaces,
            placement=aws.ec2.LaunchTemplatePlacementArgs(group_name=group_name) if group_name is not None else None,
            instance_market_options=aws.ec2.LaunchTemplateInstanceMarketOptionsArgs(market_type="capacity-block") if pool.capacity.type == "capacity-block" else None,
            capacity_reservation_specification=aws.ec2.LaunchTemplateCapacityReservationSpecificationArgs(
                capacity_reservation_target=aws.ec2.LaunchTemplateCapacityReservationSpecificationCapacityReservationTargetArgs(capacity_reservation_id=reservation)
            )
            if reservation
            else None,
            tag_specifications=[
                aws.ec2.LaunchTemplateTagSpecificationArgs(resource_type=kind, tags=pool_tags) for kind in ("instance", "volume", "network-interface")
            ],
            tags=pool_tags,
            opts=child,
        )
        self.node_group = aws.eks.NodeGroup(
            f"{pool.name}-nodes",
            cluster_name=cluster.eks.name,
            node_role_arn=cluster.node_roles[pool.workload].arn,
            subnet_ids=list(subnet_ids),
            capacity_type=NODE_GROUP_CAPACITY[pool.capacity.type],
            scaling_config=aws.eks.NodeGroupScalingConfigArgs(min_size=pool.nodes.min, max_size=pool.nodes.max, desired_size=pool.nodes.initial),
            update_config=aws.eks.NodeGroupUpdateConfigArgs(max_unavailable=1, update_strategy=pool.update.strategy),
            launch_template=aws.eks.NodeGroupLaunchTemplateArgs(id=self.launch_template.id, version=self.launch_template.latest_version.apply(str)),
            labels=pool.labels,
            taints=[aws.eks.NodeGroupTaintArgs(key=t.key, value=t.value, effect=TAINT_EFFECT[t.effect]) for t in pool.taints],
            tags=pool_tags,
            # The cluster autoscaler owns the desired size once the pool exists.
            opts=pulumi.ResourceOptions(parent=self, depends_on=cluster.node_role_ready, ignore_changes=["scalingConfig.desiredSize"]),
        )
        self.register_outputs({"node_group": self.node_group.node_group_name})
