"""The VPC: private subnets for nodes, public subnets only to hold NAT gateways, flow logs on."""

from __future__ import annotations

from collections.abc import Sequence

import pulumi
import pulumi_aws as aws

from gpufleet.model.aws import is_zone_id
from gpufleet.model.plan import NetworkLayout, Subnet
from gpufleet.render.aws.policies import flow_log_delivery, trust_policy
from gpufleet.render.aws.tags import tags

FLOW_LOG_RETENTION_DAYS = 365
# Node classes that host the cluster's own services (CoreDNS, controllers, monitoring).
SYSTEM_CLASS = "system"


class FleetNetwork(pulumi.ComponentResource):
    """VPC, one NAT gateway per zone, flow logs, and one security group per node class.

    Classes (training, inference, lab, system) do not reach each other except for DNS and the
    system class's own services: a lab pod cannot open a port on a training or inference node.
    """

    def __init__(self, name: str, plan: NetworkLayout, cluster_name: str, node_classes: Sequence[str], opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("gpufleet:aws:Network", name, None, opts)
        self._name = name
        child = pulumi.ResourceOptions(parent=self)
        self.vpc = aws.ec2.Vpc(
            f"{name}-vpc",
            cidr_block=str(plan.vpc_cidr),
            enable_dns_hostnames=True,
            enable_dns_support=True,
            tags=tags(cluster_name, Name=f"{cluster_name}-vpc"),
            opts=child,
        )
        # Managed with no rules at all: nothing that lands in the default group by mistake talks to anything.
        aws.ec2.DefaultSecurityGroup(f"{name}-default", vpc_id=self.vpc.id, tags=tags(cluster_name, Name=f"{cluster_name}-default-closed"), opts=child)
        self._flow_logs(cluster_name)
        gateway = aws.ec2.InternetGateway(f"{name}-igw", vpc_id=self.vpc.id, tags=tags(cluster_name), opts=child)
        public_routes = aws.ec2.RouteTable(f"{name}-public", vpc_id=self.vpc.id, tags=tags(cluster_name, Name=f"{cluster_name}-public"), opts=child)
        aws.ec2.Route(f"{name}-public-default", route_table_id=public_routes.id, destination_cidr_block="0.0.0.0/0", gateway_id=gateway.id, opts=child)
        nat_by_zone: dict[str, aws.ec2.NatGateway] = {}
        for subnet in plan.public_subnets:
            public = self._subnet(subnet, cluster_name, public=True)
            aws.ec2.RouteTableAssociation(f"{name}-{subnet.name}", subnet_id=public.id, route_table_id=public_routes.id, opts=child)
            address = aws.ec2.Eip(f"{name}-{subnet.zone}-nat", domain="vpc", tags=tags(cluster_name), opts=child)
            nat_by_zone[subnet.zone] = aws.ec2.NatGateway(
                f"{name}-{subnet.zone}",
                allocation_id=address.id,
                subnet_id=public.id,
                tags=tags(cluster_name, Name=f"{cluster_name}-{subnet.zone}"),
                # A NAT gateway needs the VPC's internet gateway attached before it can route.
                opts=pulumi.ResourceOptions(parent=self, depends_on=[gateway]),
            )
        private_routes = {}
        for zone, nat in nat_by_zone.items():
            private_routes[zone] = aws.ec2.RouteTable(
                f"{name}-private-{zone}", vpc_id=self.vpc.id, tags=tags(cluster_name, Name=f"{cluster_name}-private-{zone}"), opts=child
            )
            aws.ec2.Route(f"{name}-private-{zone}-default", route_table_id=private_routes[zone].id, destination_cidr_block="0.0.0.0/0", nat_gateway_id=nat.id, opts=child)
        self.subnet_ids: dict[str, pulumi.Output[str]] = {}
        for subnet in (*plan.shared_private_subnets, *plan.pool_subnets):
            private = self._subnet(subnet, cluster_name, public=False)
            aws.ec2.RouteTableAssociation(f"{name}-{subnet.name}", subnet_id=private.id, route_table_id=private_routes[subnet.zone].id, opts=child)
            self.subnet_ids[subnet.name] = private.id
        self.node_security_groups = {node_class: self._node_class_group(node_class, cluster_name, str(plan.vpc_cidr)) for node_class in node_classes}
        self._between_classes()
        self.register_outputs({"vpc_id": self.vpc.id})

    def _flow_logs(self, cluster_name: str) -> None:
        child = pulumi.ResourceOptions(parent=self)
        group = aws.cloudwatch.LogGroup(
            f"{self._name}-flow-logs", name=f"/gpufleet/{cluster_name}/vpc-flow-logs", retention_in_days=FLOW_LOG_RETENTION_DAYS, tags=tags(cluster_name), opts=child
        )
        role = aws.iam.Role(
            f"{self._name}-flow-logs",
            assume_role_policy=trust_policy("vpc-flow-logs.amazonaws.com"),
            tags=tags(cluster_name),
            opts=child,
        )
        aws.iam.RolePolicy(f"{self._name}-flow-logs", role=role.id, policy=flow_log_delivery(group.arn), opts=child)
        aws.ec2.FlowLog(
            f"{self._name}-flow-logs",
            vpc_id=self.vpc.id,
            traffic_type="ALL",
            log_destination_type="cloud-watch-logs",
            log_destination=group.arn,
            iam_role_arn=role.arn,
            tags=tags(cluster_name),
            opts=child,
        )

    def _node_class_group(self, node_class: str, cluster_name: str, vpc_cidr: str) -> aws.ec2.SecurityGroup:
        child = pulumi.ResourceOptions(parent=self)
        group = aws.ec2.SecurityGroup(
            f"{self._name}-nodes-{node_class}",
            vpc_id=self.vpc.id,
            description=f"{cluster_name} {node_class} nodes",
            tags=tags(cluster_name, Name=f"{cluster_name}-nodes-{node_class}", **{"gpufleet:workload": node_class}),
            opts=child,
        )
        aws.vpc.SecurityGroupIngressRule(
            f"{self._name}-nodes-{node_class}-self",
            security_group_id=group.id,
            referenced_security_group_id=group.id,
            ip_protocol="-1",
            description=f"pod to pod among {node_class} nodes",
            opts=child,
        )
        aws.vpc.SecurityGroupEgressRule(
            f"{self._name}-nodes-{node_class}-vpc",
            security_group_id=group.id,
            cidr_ipv4=vpc_cidr,
            ip_protocol="-1",
            description="within the VPC: the receiving group decides what it accepts",
            opts=child,
        )
        aws.vpc.SecurityGroupEgressRule(
            f"{self._name}-nodes-{node_class}-https",
            security_group_id=group.id,
            cidr_ipv4="0.0.0.0/0",
            ip_protocol="tcp",
            from_port=443,
            to_port=443,
            description="HTTPS through NAT: container registries and AWS APIs",
            opts=child,
        )
        return group

    def _between_classes(self) -> None:
        """DNS to wherever CoreDNS runs; the system class's services to and from every class."""
        child = pulumi.ResourceOptions(parent=self)
        groups = self.node_security_groups
        for target, group in groups.items():
            for source, peer in groups.items():
                if source == target:
                    continue
                for protocol in ("udp", "tcp"):
                    aws.vpc.SecurityGroupIngressRule(
                        f"{self._name}-nodes-{target}-dns-{protocol}-from-{source}",
                        security_group_id=group.id,
                        referenced_security_group_id=peer.id,
                        ip_protocol=protocol,
                        from_port=53,
                        to_port=53,
                        description=f"DNS from {source} nodes",
                        opts=child,
                    )
                if SYSTEM_CLASS in (source, target):
                    aws.vpc.SecurityGroupIngressRule(
                        f"{self._name}-nodes-{target}-services-from-{source}",
                        security_group_id=group.id,
                        referenced_security_group_id=peer.id,
                        ip_protocol="tcp",
                        from_port=1025,
                        to_port=65535,
                        description=f"cluster services: {source} to {target} nodes",
                        opts=child,
                    )

    def _subnet(self, subnet: Subnet, cluster_name: str, *, public: bool) -> aws.ec2.Subnet:
        extra = {f"kubernetes.io/cluster/{cluster_name}": "shared", "Name": f"{cluster_name}-{subnet.name}"}
        if public:
            extra["kubernetes.io/role/elb"] = "1"
        elif subnet.internal_load_balancers:
            extra["kubernetes.io/role/internal-elb"] = "1"
        return aws.ec2.Subnet(
            f"{self._name}-{subnet.name}",
            vpc_id=self.vpc.id,
            cidr_block=str(subnet.cidr),
            availability_zone_id=subnet.zone if is_zone_id(subnet.zone) else None,
            availability_zone=None if is_zone_id(subnet.zone) else subnet.zone,
            map_public_ip_on_launch=False,
            tags=tags(cluster_name, **extra),
            opts=pulumi.ResourceOptions(parent=self),
        )

    def subnet_id(self, subnet: Subnet) -> pulumi.Output[str]:
        return self.subnet_ids[subnet.name]
