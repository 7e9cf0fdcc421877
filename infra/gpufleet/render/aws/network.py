"""The VPC: private subnets for nodes, public subnets only to hold NAT gateways, flow logs on."""

from __future__ import annotations

from collections.abc import Sequence

import pulumi

from gpufleet.model.aws import is_zone_id
from gpufleet.model.plan import NetworkLayout, Subnet
from gpufleet.render.aws.iam import inline_policy, role
from gpufleet.render.aws.policies import flow_log_delivery, trust_policy
from gpufleet.render.aws.security import allow_from_group, rule, security_group
from gpufleet.render.aws.tags import tags
from gpufleet.render.resources import Registered

FLOW_LOG_RETENTION_DAYS = 365
# Node classes that host the cluster's own services (CoreDNS, controllers, monitoring).
SYSTEM_CLASS = "system"


class FleetNetwork(pulumi.ComponentResource):
    """VPC, one NAT gateway per zone, flow logs, and one security group per node class.

    Classes (training, inference, lab, system) do not reach each other except for DNS and the
    system class's own services: a lab pod cannot open a port on a training or inference node.
    """

    def __init__(
        self,
        name: str,
        plan: NetworkLayout,
        cluster_name: str,
        node_classes: Sequence[str],
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
        self._flow_logs(cluster_name)
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
        self.node_security_groups = {
            node_class: self._node_class_group(node_class, cluster_name, str(plan.vpc_cidr)) for node_class in node_classes
        }
        self._between_classes()
        self.register_outputs({"vpc_id": self.vpc.id})

    def _flow_logs(self, cluster_name: str) -> None:
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
        delivery = role(f"{self._name}-flow-logs", trust_policy("vpc-flow-logs.amazonaws.com"), tags(cluster_name), child)
        inline_policy(f"{self._name}-flow-logs", delivery, flow_log_delivery(group.output("arn")), child)
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

    def _node_class_group(self, node_class: str, cluster_name: str, vpc_cidr: str) -> Registered:
        child = pulumi.ResourceOptions(parent=self)
        group = security_group(
            f"{self._name}-nodes-{node_class}",
            self.vpc.id,
            f"{cluster_name} {node_class} nodes",
            tags(cluster_name, Name=f"{cluster_name}-nodes-{node_class}", **{"gpufleet:workload": node_class}),
            child,
        )
        prefix = f"{self._name}-nodes-{node_class}"
        rule("ingress", f"{prefix}-self", group.id, f"pod to pod among {node_class} nodes", child, peer=group.id, protocol="-1")
        rule(
            "egress",
            f"{prefix}-vpc",
            group.id,
            "within the VPC: the receiving group decides what it accepts",
            child,
            cidr=vpc_cidr,
            protocol="-1",
        )
        rule(
            "egress",
            f"{prefix}-https",
            group.id,
            "HTTPS through NAT: container registries and AWS APIs",
            child,
            cidr="0.0.0.0/0",
            ports=(443, 443),
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
                    allow_from_group(
                        f"{self._name}-nodes-{target}-dns-{protocol}-from-{source}",
                        group.id,
                        peer.id,
                        f"DNS from {source} nodes",
                        child,
                        protocol=protocol,
                        ports=(53, 53),
                    )
                if SYSTEM_CLASS in (source, target):
                    allow_from_group(
                        f"{self._name}-nodes-{target}-services-from-{source}",
                        group.id,
                        peer.id,
                        f"cluster services: {source} to {target} nodes",
                        child,
                        ports=(1025, 65535),
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
