"""The AWS backend: network, EKS cluster, fabrics, storage and node pools for one plan.

It turns the plan into components and returns the ``ClusterHandle`` the next backend builds
on. Every choice (which groups a pool joins, which AMI parameter, which VPC CNI minimum) is
already in the plan; this module only connects outputs to inputs.
"""

from __future__ import annotations

import pulumi

from gpufleet.model import FleetPlan
from gpufleet.model.decisions import node_class_group
from gpufleet.render.aws.cluster import GpuCluster
from gpufleet.render.aws.fabric import EfaFabric
from gpufleet.render.aws.network import FleetNetwork
from gpufleet.render.aws.node_pool import NodePool
from gpufleet.render.aws.storage import LustreTier, S3Tier
from gpufleet.render.contract import ClusterHandle, FileSystemHandle
from gpufleet.render.resources import invoke


def render_aws(plan: FleetPlan, parent: pulumi.Resource) -> ClusterHandle:
    assert plan.network is not None and plan.cluster.aws is not None, "an aws plan always has a network and its AWS choices"
    child = pulumi.ResourceOptions(parent=parent)
    name = plan.cluster.name
    region = plan.cluster.region or ""
    network = FleetNetwork("network", plan.network, name, plan.node_classes, opts=child)
    cluster = GpuCluster(
        name, plan.cluster, [network.subnet_id(s) for s in plan.network.control_plane_subnets], plan.node_classes, opts=child
    )
    node_groups = {node_class: group.id for node_class, group in network.node_security_groups.items()}
    cluster.allow_nodes(node_groups)
    groups: dict[str, pulumi.Output[str]] = {node_class_group(node_class): group for node_class, group in node_groups.items()}
    for fabric in plan.fabrics.values():
        if fabric.security_group:
            groups[fabric.security_group] = EfaFabric(fabric.name, name, network.vpc.id, opts=child).security_group.id
    buckets = {tier.name: S3Tier(tier, name, region, opts=child) for tier in plan.storage if tier.kind == "s3"}
    file_systems: dict[str, FileSystemHandle] = {}
    for tier in plan.storage:
        if tier.kind == "fsx-lustre" and tier.subnet is not None:
            source = buckets.get(tier.import_from) if tier.import_from else None
            lustre = LustreTier(
                tier,
                name,
                region,
                vpc_id=network.vpc.id,
                subnet_id=network.subnet_id(tier.subnet),
                client_security_groups={node_class: node_groups[node_class] for node_class in plan.client_classes(tier)},
                import_bucket=source.bucket.output("bucket") if source else None,
                opts=child,
            )
            file_systems[tier.name] = FileSystemHandle(
                lustre.file_system.id, lustre.file_system.output("dnsName"), lustre.file_system.output("mountName")
            )
    images = {
        parameter: invoke("aws:ssm/getParameter:getParameter", {"name": parameter})["value"]
        for parameter in sorted({pool.ami_parameter for pool in plan.pools})
    }
    pools = {
        pool.name: NodePool(
            pool,
            cluster=cluster,
            cluster_name=name,
            subnet_ids=[network.subnet_id(s) for s in pool.subnets],
            security_group_ids=[groups[role] for role in pool.security_groups],
            image_id=images[pool.ami_parameter],
            imds_hop_limit=int(plan.cluster.aws.imds_hop_limit.value),
            opts=child,
        )
        for pool in plan.pools
    }
    cluster.add_node_addons([component.node_group for component in pools.values()])
    return ClusterHandle(
        name=cluster.eks.output("name"),
        kubernetes=cluster.provider,
        parent=cluster,
        endpoint=cluster.eks.output("endpoint"),
        kubeconfig=pulumi.Output.secret(cluster.kubeconfig),
        subnet_ids=dict(network.subnet_ids),
        security_group_ids=groups,
        file_systems=file_systems,
        node_groups={pool_name: component.node_group.output("nodeGroupName") for pool_name, component in pools.items()},
        buckets={tier_name: tier.bucket.output("bucket") for tier_name, tier in buckets.items()},
        autoscaling_groups={
            pool_name: component.node_group.output("resources")[0]["autoscalingGroups"][0]["name"]
            for pool_name, component in pools.items()
        },
        pool_nodes={pool_name: component.node_group for pool_name, component in pools.items()},
    )
