"""The Pulumi program: what ``pulumi up -s <env>`` runs and what ``gpufleet preview`` runs offline.

It reads ``stacks/<stack>.yaml`` (or the file named by the stack config key ``gpufleet:spec``),
resolves it, and hands the plan to the renderers. There is no other code path.
"""

from __future__ import annotations

from pathlib import Path

import pulumi
import pulumi_aws as aws

from gpufleet.catalog import load_catalog
from gpufleet.model import FleetPlan, resolve
from gpufleet.render.aws.cluster import GpuCluster
from gpufleet.render.aws.fabric import EfaFabric
from gpufleet.render.aws.network import FleetNetwork
from gpufleet.render.aws.node_pool import NodePool
from gpufleet.render.aws.storage import LustreTier, S3Tier
from gpufleet.model.kubernetes import kubernetes_plan
from gpufleet.render.contract import ClusterHandle, FileSystemHandle
from gpufleet.render.kubernetes import render_kubernetes
from gpufleet.render.kubernetes.cluster import ExistingCluster
from gpufleet.stack import StackInvalid, load_stack


def spec_path() -> Path:
    configured = pulumi.Config("gpufleet").get("spec")
    path = Path(configured or f"stacks/{pulumi.get_stack()}.yaml")
    if path.is_absolute():
        return path
    return Path(pulumi.get_root_directory() or ".") / path


def run() -> None:
    try:
        plan = resolve(load_stack(spec_path()))
    except StackInvalid as invalid:
        raise pulumi.RunError("invalid stack spec:\n" + "\n".join(str(p) for p in invalid.findings)) from None
    configured_region = pulumi.Config("aws").get("region")
    if plan.cluster.provider == "aws" and configured_region not in (None, plan.cluster.region):
        raise pulumi.RunError(
            f"stack config aws:region is {configured_region} but {plan.source} says cluster.region {plan.cluster.region}"
        )
    build_fleet(plan)


def build_fleet(plan: FleetPlan) -> None:
    if plan.cluster.provider == "kubernetes":
        render_kubernetes(kubernetes_plan(plan), ExistingCluster(plan.cluster.name, pulumi.Config("kubernetes")).handle)
        return
    if plan.network is None:
        return
    name = plan.cluster.name
    network = FleetNetwork("network", plan.network, name)
    efa_host = load_catalog().efa_host
    uses_efa = any(pool.efa is not None for pool in plan.pools)
    cluster = GpuCluster(
        name,
        plan.cluster,
        [network.subnet_id(s) for s in plan.network.shared_private_subnets],
        vpc_cni_min_version=efa_host.vpc_cni_min_version if uses_efa else None,
    )
    fabrics = {fabric_name: EfaFabric(fabric_name, name, network.vpc.id) for fabric_name, fabric in plan.fabrics.items() if fabric.kind == "efa"}
    buckets: dict[str, S3Tier] = {}
    for tier in plan.storage:
        if tier.kind == "s3":
            buckets[tier.name] = S3Tier(tier, name)
    file_systems: dict[str, FileSystemHandle] = {}
    for tier in plan.storage:
        if tier.kind == "fsx-lustre" and tier.subnet is not None:
            source = buckets.get(tier.spec.import_from) if tier.spec.import_from else None
            lustre = LustreTier(
                tier,
                name,
                vpc_id=network.vpc.id,
                subnet_id=network.subnet_id(tier.subnet),
                client_security_group_id=network.node_security_group.id,
                import_bucket=source.bucket.bucket if source else None,
            )
            file_systems[tier.name] = FileSystemHandle(lustre.file_system.id, lustre.file_system.dns_name, lustre.file_system.mount_name)
    images = {
        family: aws.ssm.get_parameter_output(name=f"/aws/service/eks/optimized-ami/{plan.cluster.kubernetes_version}/{family}/recommended/image_id").value
        for family in sorted({pool.ami_family for pool in plan.pools})
    }
    pools = {}
    for pool in plan.pools:
        groups = [cluster.cluster_security_group_id, network.node_security_group.id]
        if pool.efa is not None and pool.fabric_name in fabrics:
            groups.append(fabrics[pool.fabric_name].security_group.id)
        pools[pool.name] = NodePool(
            pool,
            cluster=cluster,
            cluster_name=name,
            subnet_ids=[network.subnet_id(s) for s in pool.subnets],
            security_group_ids=groups,
            image_id=images[pool.ami_family],
            efa_hugepages=efa_host.hugepages_2mib,
        )
    handle = ClusterHandle(
        name=cluster.eks.name,
        kubernetes=cluster.provider,
        parent=cluster,
        endpoint=cluster.eks.endpoint,
        file_systems=file_systems,
        autoscaling_groups={
            pool_name: component.node_group.resources.apply(lambda groups: groups[0].autoscaling_groups[0].name)
            for pool_name, component in pools.items()
        },
        nodes_ready=[component.node_group for component in pools.values()],
    )
    render_kubernetes(kubernetes_plan(plan), handle)
    pulumi.export("cluster_name", cluster.eks.name)
    pulumi.export("endpoint", cluster.eks.endpoint)
    pulumi.export("kubeconfig", pulumi.Output.secret(cluster.kubeconfig))
    pulumi.export("node_groups", {pool_name: component.node_group.node_group_name for pool_name, component in pools.items()})
    pulumi.export("buckets", {tier_name: tier.bucket.bucket for tier_name, tier in buckets.items()})
