"""The AWS backend: network, EKS cluster, fabrics, storage and node pools for one plan.

It turns the plan into components and returns the ``ClusterHandle`` the next backend builds
on. Every choice (which groups a pool joins, which rules each group has, which policies each
role carries, which AMI parameter, which FSx options) is already in the plan's ``AwsCloud``,
pools and tiers; this module only connects outputs to inputs.
"""

from __future__ import annotations

import pulumi

from gpufleet.model import security
from gpufleet.model.plan import AwsCloud, FleetPlan, LaunchedNodes, LustreTier, S3Tier
from gpufleet.render.aws.cluster import GpuCluster
from gpufleet.render.aws.fabric import EfaFabric
from gpufleet.render.aws.network import FleetNetwork
from gpufleet.render.aws.node_pool import NodePool
from gpufleet.render.aws.services import AwsClusterServices
from gpufleet.render.aws.storage import LustreFileSystem, S3Bucket
from gpufleet.render.contract import ClusterHandle, FileSystemHandle
from gpufleet.render.resources import invoke


def render_aws(plan: FleetPlan, parent: pulumi.Resource) -> ClusterHandle:
    cloud = plan.cluster.cloud
    if not isinstance(cloud, AwsCloud):
        raise TypeError(f"{plan.source}: the AWS backend renders provider aws only, not {cloud.provider}")
    child = pulumi.ResourceOptions(parent=parent)
    name = plan.cluster.name
    network = FleetNetwork(
        security.NETWORK,
        cloud.network,
        name,
        plan.node_classes,
        cloud.security.owned_by(security.NETWORK),
        cloud.roles.flow_logs,
        opts=child,
    )
    cluster = GpuCluster(
        name, plan.cluster, cloud, [network.subnet_id(s) for s in cloud.network.control_plane_subnets], opts=child
    )
    node_groups = {node_class: group.id for node_class, group in network.node_security_groups.items()}
    cluster.allow_nodes(node_groups)
    groups: dict[str, pulumi.Output[str]] = {security.nodes(node_class): group for node_class, group in node_groups.items()}
    for fabric in plan.fabrics.values():
        if fabric.security_group:
            efa = EfaFabric(fabric.name, name, network.vpc.id, cloud.security.owned_by(fabric.security_group), opts=child)
            groups[fabric.security_group] = efa.security_group.id
    buckets, file_systems = _storage(plan, cloud, network, groups, child)
    pools = _node_pools(plan, cloud, cluster, network, groups, child)
    cluster.add_node_addons([component.node_group for component in pools.values()])
    autoscaling_groups = {
        pool_name: component.node_group.output("resources")[0]["autoscalingGroups"][0]["name"]
        for pool_name, component in pools.items()
    }
    pool_nodes = {pool_name: component.node_group for pool_name, component in pools.items()}
    cluster_name = cluster.eks.output("name")
    return ClusterHandle(
        name=cluster_name,
        kubernetes=cluster.provider,
        parent=cluster,
        endpoint=cluster.eks.output("endpoint"),
        kubeconfig=pulumi.Output.secret(cluster.kubeconfig),
        file_systems=file_systems,
        node_groups={pool_name: component.node_group.output("nodeGroupName") for pool_name, component in pools.items()},
        buckets={tier_name: tier.bucket.output("bucket") for tier_name, tier in buckets.items()},
        autoscaling_groups=autoscaling_groups,
        pool_nodes=pool_nodes,
        cloud=AwsClusterServices(cloud, cluster_name, cluster.eks.output("arn"), autoscaling_groups, list(pool_nodes.values())),
    )


def _storage(
    plan: FleetPlan,
    cloud: AwsCloud,
    network: FleetNetwork,
    groups: dict[str, pulumi.Output[str]],
    child: pulumi.ResourceOptions,
) -> tuple[dict[str, S3Bucket], dict[str, FileSystemHandle]]:
    """Buckets first: a Lustre tier may import from one."""
    name = plan.cluster.name
    buckets = {tier.name: S3Bucket(tier, name, opts=child) for tier in plan.storage if isinstance(tier, S3Tier)}
    file_systems: dict[str, FileSystemHandle] = {}
    for tier in plan.storage:
        if isinstance(tier, LustreTier):
            source = buckets.get(tier.import_from) if tier.import_from else None
            lustre = LustreFileSystem(
                tier,
                name,
                vpc_id=network.vpc.id,
                subnet_id=network.subnet_id(tier.subnet),
                rules=cloud.security.owned_by(security.storage_owner(tier.name)),
                node_groups=groups,
                import_bucket=source.bucket.output("bucket") if source else None,
                opts=child,
            )
            file_systems[tier.name] = FileSystemHandle(
                lustre.file_system.id, lustre.file_system.output("dnsName"), lustre.file_system.output("mountName")
            )
    return buckets, file_systems


def _node_pools(
    plan: FleetPlan,
    cloud: AwsCloud,
    cluster: GpuCluster,
    network: FleetNetwork,
    groups: dict[str, pulumi.Output[str]],
    child: pulumi.ResourceOptions,
) -> dict[str, NodePool]:
    """One component per pool of launched nodes, each reading its AMI from the pinned release's parameter."""
    launched = [(pool, pool.source) for pool in plan.pools if isinstance(pool.source, LaunchedNodes)]
    images = {
        parameter: invoke("aws:ssm/getParameter:getParameter", {"name": parameter})["value"]
        for parameter in sorted({nodes.ami.parameter for _, nodes in launched})
    }
    made: dict[str, NodePool] = {}
    pending = list(launched)
    while pending:
        # A pool whose roll waits for another's is made after it, its node group depending on that one.
        ready = [(pool, nodes) for pool, nodes in pending if nodes.update.after is None or nodes.update.after in made]
        for pool, nodes in ready:
            made[pool.name] = NodePool(
                pool,
                nodes,
                cluster=cluster,
                cluster_name=plan.cluster.name,
                subnet_ids=[network.subnet_id(s) for s in nodes.subnets],
                security_group_ids=[groups[role] for role in nodes.security_groups],
                image_id=images[nodes.ami.parameter],
                imds_hop_limit=int(cloud.eks.imds_hop_limit.value),
                after=made[nodes.update.after].node_group if nodes.update.after else None,
                opts=child,
            )
        pending = [item for item in pending if item not in ready]
    return {pool.name: made[pool.name] for pool, _ in launched}
