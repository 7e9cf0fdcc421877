"""The VPC: private subnets for nodes, public subnets only to hold NAT gateways."""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from gpufleet.model.plan import NetworkLayout, Subnet
from gpufleet.render.aws.tags import tags


class FleetNetwork(pulumi.ComponentResource):
    """VPC, one NAT gateway per zone, and a node security group shared by every pool."""

    def __init__(self, name: str, plan: NetworkLayout, cluster_name: str, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("gpufleet:aws:Network", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.vpc = aws.ec2.Vpc(
            f"{name}-vpc",
            cidr_block=str(plan.vpc_cidr),
            enable_dns_hostnames=True,
            enable_dns_support=True,
            tags=tags(cluster_name, Name=f"{cluster_name}-vpc"),
            opts=child,
        )
        gateway = aws.ec2.InternetGateway(f"{name}-igw", vpc_id=self.vpc.id, tags=tags(cluster_name), opts=child)
        public_routes = aws.ec2.RouteTable(f"{name}-public", vpc_id=self.vpc.id, tags=tags(cluster_name, Name=f"{cluster_name}-public"), opts=child)
        aws.ec2.Route(f"{name}-public-default", route_table_id=public_routes.id, destination_cidr_block="0.0.0.0/0", gateway_id=gateway.id, opts=child)
        nat_by_zone: dict[str, aws.ec2.NatGateway] = {}
        for subnet in plan.public_subnets:
            public = self._subnet(name, subnet, cluster_name, public=True)
            aws.ec2.RouteTableAssociation(f"{name}-{subnet.name}", subnet_id=public.id, route_table_id=public_routes.id, opts=child)
            address = aws.ec2.Eip(f"{name}-{subnet.zone}-nat", domain="vpc", tags=tags(cluster_name), opts=child)
            nat_by_zone[subnet.zone] = aws.ec2.NatGateway(
                f"{name}-{subnet.zone}",
                allocation_id=address.id,
                subnet_id=public.id,
                tags=tags(cluster_name, Name=f"{cluster_name}-{subnet.zone}"),
                opts=child,
            )
        private_routes = {}
        for zone, nat in nat_by_zone.items():
            private_routes[zone] = aws.ec2.RouteTable(
                f"{name}-private-{zone}", vpc_id=self.vpc.id, tags=tags(cluster_name, Name=f"{cluster_name}-private-{zone}"), opts=child
            )
            aws.ec2.Route(f"{name}-private-{zone}-default", route_table_id=private_routes[zone].id, destination_cidr_block="0.0.0.0/0", nat_gateway_id=nat.id, opts=child)
        self.subnet_ids: dict[str, pulumi.Output[str]] = {}
        for subnet in (*plan.shared_private_subnets, *plan.pool_subnets):
            private = self._subnet(name, subnet, cluster_name, public=False)
            aws.ec2.RouteTableAssociation(f"{name}-{subnet.name}", subnet_id=private.id, route_table_id=private_routes[subnet.zone].id, opts=child)
            self.subnet_ids[subnet.name] = private.id
        self.node_security_group = aws.ec2.SecurityGroup(
            f"{name}-nodes",
            vpc_id=self.vpc.id,
            description=f"{cluster_name} nodes: node-to-node traffic and egress",
            tags=tags(cluster_name, Name=f"{cluster_name}-nodes"),
            opts=child,
        )
        aws.vpc.SecurityGroupIngressRule(
            f"{name}-nodes-from-nodes",
            security_group_id=self.node_security_group.id,
            referenced_security_group_id=self.node_security_group.id,
            ip_protocol="-1",
            description="node to node",
            opts=child,
        )
        aws.vpc.SecurityGroupEgressRule(
            f"{name}-nodes-egress",
            security_group_id=self.node_security_group.id,
            cidr_ipv4="0.0.0.0/0",
            ip_protocol="-1",
            description="egress through NAT",
            opts=child,
        )
        self.register_outputs({"vpc_id": self.vpc.id})

    def _subnet(self, name: str, subnet: Subnet, cluster_name: str, *, public: bool) -> aws.ec2.Subnet:
        role = "kubernetes.io/role/elb" if public else "kubernetes.io/role/internal-elb"
        return aws.ec2.Subnet(
            f"{name}-{subnet.name}",
            vpc_id=self.vpc.id,
            cidr_block=str(subnet.cidr),
            availability_zone=subnet.zone,
            map_public_ip_on_launch=False,
            tags=tags(cluster_name, **{"Name": f"{cluster_name}-{subnet.name}", role: "1", f"kubernetes.io/cluster/{cluster_name}": "shared"}),
            opts=pulumi.ResourceOptions(parent=self),
        )

    def subnet_id(self, subnet: Subnet) -> pulumi.Output[str]:
        return self.subnet_ids[subnet.name]
