"""A node pool: launch template and EKS managed node group, plus its placement group."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pulumi

from gpufleet.model.plan import LaunchedNodes, Pool
from gpufleet.names import LAUNCH_TEMPLATE_TYPE, NODE_GROUP_TYPE, NODE_POOL_TYPE
from gpufleet.render.aws.cluster import GpuCluster
from gpufleet.render.aws.tags import tags
from gpufleet.render.resources import Registered

TAINT_EFFECT = {"NoSchedule": "NO_SCHEDULE", "NoExecute": "NO_EXECUTE", "PreferNoSchedule": "PREFER_NO_SCHEDULE"}


class NodePool(pulumi.ComponentResource):
    """Nodes of one instance type. The template carries everything EKS lets it carry
    (interfaces, AMI, user data, placement, market options); the node group only the
    subnets, role, scaling, labels and taints, as EKS managed node groups require."""

    def __init__(
        self,
        pool: Pool,
        launched: LaunchedNodes,
        *,
        cluster: GpuCluster,
        cluster_name: str,
        subnet_ids: Sequence[pulumi.Input[str]],
        security_group_ids: Sequence[pulumi.Input[str]],
        image_id: pulumi.Input[str],
        imds_hop_limit: int,
        after: pulumi.Resource | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        """``after``: the node group this pool's rolls wait for (the plan's ``update.after``)."""
        super().__init__(NODE_POOL_TYPE, pool.name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        pool_tags = tags(cluster_name, **{"gpufleet:pool": pool.name, "gpufleet:workload": pool.workload})
        placement = launched.placement
        group_name: pulumi.Input[str] | None = placement.existing_group
        if placement.strategy != "none" and group_name is None:
            group_name = Registered(
                "aws:ec2/placementGroup:PlacementGroup",
                f"{pool.name}-placement",
                {"strategy": placement.strategy, "partitionCount": placement.partition_count, "tags": pool_tags},
                child,
                outputs=("name",),
            ).output("name")
        nvme = pool.local_nvme
        encoded_user_data = cluster.node_user_data(
            pool,
            local_nvme_mount=nvme.mount_path if nvme else None,
            hugepages=launched.efa_hugepages,
        )
        network_interfaces = _network_interfaces(launched, security_group_ids)
        reservation = launched.capacity.reservation_id
        self.launch_template = Registered(
            LAUNCH_TEMPLATE_TYPE,
            f"{pool.name}-template",
            {
                "description": f"{cluster_name} pool {pool.name}: {launched.instance.name}",
                "imageId": image_id,
                "instanceType": launched.instance.name,
                "userData": encoded_user_data,
                "updateDefaultVersion": True,
                "metadataOptions": {
                    "httpEndpoint": "enabled",
                    "httpTokens": "required",
                    "httpPutResponseHopLimit": imds_hop_limit,
                    "instanceMetadataTags": "disabled",
                },
                "blockDeviceMappings": [
                    {
                        "deviceName": "/dev/xvda",
                        "ebs": {
                            "volumeSize": launched.root_volume_gib,
                            "volumeType": "gp3",
                            "encrypted": "true",
                            "deleteOnTermination": "true",
                        },
                    }
                ],
                "networkInterfaces": network_interfaces,
                "placement": {"groupName": group_name} if group_name is not None else None,
                "instanceMarketOptions": {"marketType": "capacity-block"} if launched.capacity.type == "capacity-block" else None,
                "capacityReservationSpecification": {"capacityReservationTarget": {"capacityReservationId": reservation}}
                if reservation
                else None,
                "tagSpecifications": [
                    {"resourceType": kind, "tags": pool_tags} for kind in ("instance", "volume", "network-interface")
                ],
                "tags": pool_tags,
            },
            child,
            outputs=("latestVersion",),
        )
        self.node_group = Registered(
            NODE_GROUP_TYPE,
            f"{pool.name}-nodes",
            {
                "clusterName": cluster.eks.output("name"),
                "nodeRoleArn": cluster.node_roles[pool.workload].output("arn"),
                "subnetIds": list(subnet_ids),
                "capacityType": launched.capacity_type.value,
                "scalingConfig": {"minSize": pool.nodes.min, "maxSize": pool.nodes.max, "desiredSize": pool.nodes.initial},
                "updateConfig": {"maxUnavailable": launched.update.max_unavailable, "updateStrategy": launched.update.strategy},
                "launchTemplate": {
                    "id": self.launch_template.id,
                    "version": self.launch_template.output("latestVersion").apply(_version_number),
                },
                "labels": pool.node_group_labels,
                "taints": [{"key": t.key, "value": t.value, "effect": TAINT_EFFECT[t.effect]} for t in pool.taints],
                "tags": pool_tags,
            },
            # The cluster autoscaler owns the desired size once the pool exists.
            pulumi.ResourceOptions(
                parent=self,
                depends_on=[*cluster.node_role_ready, *([after] if after is not None else [])],
                ignore_changes=["scalingConfig.desiredSize"],
            ),
            outputs=("nodeGroupName", "resources"),
        )
        self.register_outputs({"node_group": self.node_group.output("nodeGroupName")})


def _network_interfaces(launched: LaunchedNodes, security_group_ids: Sequence[pulumi.Input[str]]) -> list[dict[str, Any]]:
    """The plan's EFA layout, every interface in the pool's groups and without a public address;
    a pool without EFA gets the one primary interface."""
    interfaces = launched.efa.interfaces if launched.efa else ()
    return [
        {
            "networkCardIndex": nic.card_index,
            "deviceIndex": nic.device_index,
            "interfaceType": None if nic.interface_type == "interface" else nic.interface_type,
            "securityGroups": list(security_group_ids),
            "associatePublicIpAddress": "false",
            "deleteOnTermination": "true",
        }
        for nic in interfaces
    ] or [
        {
            "deviceIndex": 0,
            "securityGroups": list(security_group_ids),
            "associatePublicIpAddress": "false",
            "deleteOnTermination": "true",
        }
    ]


def _version_number(latest: float) -> str:
    """The wire carries numbers as doubles; a launch template version is a whole number."""
    return str(int(latest))
