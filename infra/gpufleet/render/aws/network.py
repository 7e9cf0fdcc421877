"""The VPC: private subnets for nodes, public subnets only to hold NAT gateways, flow logs on."""

from __future__ import annotations

from collections.abc import Sequence

import pulumi

from gpufleet.model import security
from gpufleet.model.aws import is_zone_id
from gpufleet.model.iam import RolePlan
from gpufleet.model.plan import NetworkLayout, Subnet
from gpufleet.model.security import SecurityRule
from gpufleet.render.aws.iam import role_of
from gpufleet.render.aws.security import rules_of, security_group
from gpufleet.render.aws.tags import tags
from gpufleet.render.resources import Registered

FLOW_LOG_RETENTION_DAYS = 365


class FleetNetwork(pulumi.ComponentResource):
    """VPC, one NAT gateway per zone, flow logs, and one security group per node class with the
    rules the plan gives the network (``model.security``)."""

    def __init__(
        self,
        name: str,
        plan: NetworkLayout,
        cluster_name: str,
        node_classes: Sequence[str],
        rules: Sequence[SecurityRule],
        flow_logs: RolePlan,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("gpufleet:aws:Network", name, None, opts)
        self._name = name
        child = pulumi.ResourceOptions(parent=self)
        self.vpc = Registered(
            "aws:ec2/vpc:Vpc",
            f"{name}-vpc",
            {
                "cidrBlock": str(plan.vpc_cidr),
                "enableDnsHostnames": True,
                "enableDnsSupport": True,
                "tags": tags(cluster_name, Name=f"{cluster_name}-vpc"),
            },
            child,
        )
        vpc_id = self.vpc.id
        # Managed with no rules at all: nothing that lands in the default group by mistake talks to anything.
        Registered(
            "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup",
            f"{name}-default",
            {"vpcId": vpc_id, "tags": tags(cluster_name, Name=f"{cluster_name}-default-closed")},
            child,
        )
        self._flow_logs(cluster_name, flow_logs)
        gateway = Registered(
            "aws:ec2/internetGateway:InternetGateway", f"{name}-igw", {"vpcId": vpc_id, "tags": tags(cluster_name)}, child
        )
        public_routes = _route_table(f"{name}-public", vpc_id, tags(cluster_name, Name=f"{cluster_name}-public"), child)
        _default_route(f"{name}-public-default", public_routes, {"gatewayId": gateway.id}, child)
        nat_by_zone: dict[str, Registered] = {}
        for subnet in plan.public_subnets:
            public = self._subnet(subnet, cluster_name, public=True)
            _associate(f"{name}-{subnet.name}", public, public_routes, child)
            address = Registered(
                "aws:ec2/eip:Eip", f"{name}-{subnet.zone}-nat", {"domain": "vpc", "tags": tags(cluster_name)}, child
            )
            nat_by_zone[subnet.zone] = Registered(
                "aws:ec2/natGateway:NatGateway",
                f"{name}-{subnet.zone}",
                {
                    "allocationId": address.id,
                    "subnetId": public.id,
                    "tags": tags(cluster_name, Name=f"{cluster_name}-{subnet.zone}"),
                },
                # A NAT gateway needs the VPC's internet gateway attached before it can route.
                pulumi.ResourceOptions(parent=self, depends_on=[gateway]),
            )
        private_routes = {}
        for zone, nat in nat_by_zone.items():
            private_routes[zone] = _route_table(
                f"{name}-private-{zone}", vpc_id, tags(cluster_name, Name=f"{cluster_name}-private-{zone}"), child
            )
            _default_route(f"{name}-private-{zone}-default", private_routes[zone], {"natGatewayId": nat.id}, child)
        self.subnet_ids: dict[str, pulumi.Output[str]] = {}
        for subnet in (*plan.shared_private_subnets, *plan.pool_subnets):
            private = self._subnet(subnet, cluster_name, public=False)
            _associate(f"{name}-{subnet.name}", private, private_routes[subnet.zone], child)
            self.subnet_ids[subnet.name] = private.id
        self.node_security_groups = {node_class: self._node_class_group(node_class, cluster_name) for node_class in node_classes}
        groups = {security.nodes(node_class): group.id for node_class, group in self.node_security_groups.items()}
        rules_of(rules, groups, child)
        self.register_outputs({"vpc_id": self.vpc.id})

    def _flow_logs(self, cluster_name: str, delivery_role: RolePlan) -> None:
        child = pulumi.ResourceOptions(parent=self)
        group = Registered(
            "aws:cloudwatch/logGroup:LogGroup",
            f"{self._name}-flow-logs",
            {
                "name": f"/gpufleet/{cluster_name}/vpc-flow-logs",
                "retentionInDays": FLOW_LOG_RETENTION_DAYS,
                "tags": tags(cluster_name),
            },
            child,
            outputs=("arn",),
        )
        delivery, _ = role_of(delivery_role, tags(cluster_name), child, guarded_arn=group.output("arn"))
        Registered(
            "aws:ec2/flowLog:FlowLog",
            f"{self._name}-flow-logs",
            {
                "vpcId": self.vpc.id,
                "trafficType": "ALL",
                "logDestinationType": "cloud-watch-logs",
                "logDestination": group.output("arn"),
                "iamRoleArn": delivery.output("arn"),
                "tags": tags(cluster_name),
            },
            child,
        )

    def _node_class_group(self, node_class: str, cluster_name: str) -> Registered:
        return security_group(
            f"{self._name}-nodes-{node_class}",
            self.vpc.id,
            f"{cluster_name} {node_class} nodes",
            tags(cluster_name, Name=f"{cluster_name}-nodes-{node_class}", **{"gpufleet:workload": node_class}),
            pulumi.ResourceOptions(parent=self),
        )

    def _subnet(self, subnet: Subnet, cluster_name: str, *, public: bool) -> Registered:
        extra = {f"kubernetes.io/cluster/{cluster_name}": "shared", "Name": f"{cluster_name}-{subnet.name}"}
        if public:
            extra["kubernetes.io/role/elb"] = "1"
        elif subnet.internal_load_balancers:
            extra["kubernetes.io/role/internal-elb"] = "1"
        return Registered(
            "aws:ec2/subnet:Subnet",
            f"{self._name}-{subnet.name}",
            {
                "vpcId": self.vpc.id,
                "cidrBlock": str(subnet.cidr),
                "availabilityZoneId": subnet.zone if is_zone_id(subnet.zone) else None,
                "availabilityZone": None if is_zone_id(subnet.zone) else subnet.zone,
                "mapPublicIpOnLaunch": False,
                "tags": tags(cluster_name, **extra),
            },
            pulumi.ResourceOptions(parent=self),
        )

    def subnet_id(self, subnet: Subnet) -> pulumi.Output[str]:
        return self.subnet_ids[subnet.name]


def _route_table(name: str, vpc_id: pulumi.Input[str], tags: dict[str, str], opts: pulumi.ResourceOptions) -> Registered:
    return Registered("aws:ec2/routeTable:RouteTable", name, {"vpcId": vpc_id, "tags": tags}, opts)


def _default_route(
    name: str, table: Registered, target: dict[str, pulumi.Input[str]], opts: pulumi.ResourceOptions
) -> Registered:
    """Everything outside the VPC through ``target`` (``gatewayId`` or ``natGatewayId``)."""
    return Registered(
        "aws:ec2/route:Route", name, {"routeTableId": table.id, "destinationCidrBlock": "0.0.0.0/0", **target}, opts
    )


def _associate(name: str, subnet: Registered, table: Registered, opts: pulumi.ResourceOptions) -> Registered:
    return Registered(
        "aws:ec2/routeTableAssociation:RouteTableAssociation", name, {"subnetId": subnet.id, "routeTableId": table.id}, opts
    )
