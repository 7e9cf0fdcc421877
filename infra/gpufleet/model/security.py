"""The security-group matrix: which group accepts what from whom, decided once with its reason.

Groups are named by role: ``nodes:<class>`` (one per workload class), ``control-plane`` (the
group EKS creates for the cluster), ``fabric:<name>`` (one per EFA fabric) and ``lustre:<tier>``
(one per FSx for Lustre tier). Each rule names the component that owns it, so the AWS backend
renders every rule verbatim under the same parent as before.

Classes do not reach each other except for DNS and the system class's own services: a lab pod
cannot open a port on a training or inference node. Nodes do not join the cluster security
group (which lets every member reach every other); the control plane reaches them only on
the ports EKS's security group guide lists.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

NETWORK = "network"
"""The network component's name: its rules' resource names start with it."""
CONTROL_PLANE = "control-plane"
SYSTEM_CLASS = "system"
"""The node class that hosts the cluster's own services (CoreDNS, controllers, monitoring)."""
ANYWHERE = "0.0.0.0/0"
DNS_PORT = 53
EPHEMERAL = (1025, 65535)
# What the control plane opens on nodes (EKS security group requirements): webhooks served on
# 443, the kubelet API, and webhooks and metrics on pods' own ports.
CONTROL_PLANE_TO_NODES = ((443, 443, "webhooks on 443"), (10250, 10250, "kubelet"), (*EPHEMERAL, "webhooks and metrics on pods"))


def nodes(node_class: str) -> str:
    """The role of a workload class's node group: every node of the class joins it."""
    return f"nodes:{node_class}"


def fabric(name: str) -> str:
    return f"fabric:{name}"


def lustre(tier: str) -> str:
    return f"lustre:{tier}"


def storage_owner(tier: str) -> str:
    return f"storage:{tier}"


@dataclass(frozen=True)
class SecurityRule:
    """One rule of one group: traffic ``direction`` of ``group`` with ``peer``'s members or ``cidr``."""

    owner: str
    """The component that renders it: ``network``, ``cluster``, ``fabric:<name>`` or ``storage:<tier>``."""
    name: str
    direction: Literal["ingress", "egress"]
    group: str
    description: str
    reason: str
    peer: str | None = None
    cidr: str | None = None
    protocol: str = "tcp"
    """``tcp``, ``udp`` or ``-1`` (all)."""
    ports: tuple[int, int] | None = None
    """None: every port."""
    retained: bool = False
    """Kept with its stateful tier: protected and retained on delete as the tier is."""

    def as_json(self) -> dict[str, object]:
        return {
            "rule": self.name,
            "group": self.group,
            "direction": self.direction,
            "peer": self.peer or self.cidr,
            "protocol": "all" if self.protocol == "-1" else self.protocol,
            "ports": "all" if self.ports is None else f"{self.ports[0]}-{self.ports[1]}",
            "why": self.reason,
        }


@dataclass(frozen=True)
class SecurityPlan:
    rules: tuple[SecurityRule, ...]

    def owned_by(self, owner: str) -> tuple[SecurityRule, ...]:
        return tuple(rule for rule in self.rules if rule.owner == owner)


def security_plan(
    cluster: str,
    vpc_cidr: str,
    node_classes: Sequence[str],
    efa_fabrics: Iterable[str],
    lustre_tiers: Iterable[tuple[str, tuple[tuple[int, int], ...], tuple[str, ...]]],
    api_cidrs: Sequence[str] = (),
) -> SecurityPlan:
    """``lustre_tiers``: each tier's name, LNet ports and the node classes that mount it;
    ``api_cidrs``: connected networks that reach the private API endpoint."""
    rules = [
        *_node_classes(vpc_cidr, node_classes),
        *_between_classes(node_classes),
        *_control_plane(cluster, node_classes),
        *_connected_networks(cluster, api_cidrs),
        *(rule for name in efa_fabrics for rule in _efa(name)),
        *(rule for tier, ports, clients in lustre_tiers for rule in _lustre(tier, ports, clients)),
    ]
    return SecurityPlan(tuple(rules))


def _node_classes(vpc_cidr: str, node_classes: Sequence[str]) -> Iterable[SecurityRule]:
    for node_class in node_classes:
        prefix, group = f"{NETWORK}-nodes-{node_class}", nodes(node_class)
        yield SecurityRule(
            NETWORK,
            f"{prefix}-self",
            "ingress",
            group,
            f"pod to pod among {node_class} nodes",
            "a class's pods reach each other on any port",
            peer=group,
            protocol="-1",
        )
        yield SecurityRule(
            NETWORK,
            f"{prefix}-vpc",
            "egress",
            group,
            "within the VPC: the receiving group decides what it accepts",
            "egress inside the VPC is open; each receiving group's ingress rules are the gate",
            cidr=vpc_cidr,
            protocol="-1",
        )
        yield SecurityRule(
            NETWORK,
            f"{prefix}-https",
            "egress",
            group,
            "HTTPS through NAT: container registries and AWS APIs",
            "outside the VPC, nodes need only HTTPS: images and AWS APIs",
            cidr=ANYWHERE,
            ports=(443, 443),
        )


def _between_classes(node_classes: Sequence[str]) -> Iterable[SecurityRule]:
    """DNS to wherever CoreDNS runs; the system class's services to and from every class."""
    for target in node_classes:
        for source in node_classes:
            if source == target:
                continue
            for protocol in ("udp", "tcp"):
                yield SecurityRule(
                    NETWORK,
                    f"{NETWORK}-nodes-{target}-dns-{protocol}-from-{source}",
                    "ingress",
                    nodes(target),
                    f"DNS from {source} nodes",
                    "CoreDNS pods may run on any untainted node: every class answers DNS to every other",
                    peer=nodes(source),
                    protocol=protocol,
                    ports=(DNS_PORT, DNS_PORT),
                )
            if SYSTEM_CLASS in (source, target):
                yield SecurityRule(
                    NETWORK,
                    f"{NETWORK}-nodes-{target}-services-from-{source}",
                    "ingress",
                    nodes(target),
                    f"cluster services: {source} to {target} nodes",
                    "the system class hosts the cluster's services (controllers, monitoring) that every class talks to",
                    peer=nodes(source),
                    ports=EPHEMERAL,
                )


def _control_plane(cluster: str, node_classes: Sequence[str]) -> Iterable[SecurityRule]:
    """What the control plane and nodes need of each other, and nothing more (EKS security group guide)."""
    for node_class in node_classes:
        yield SecurityRule(
            "cluster",
            f"{cluster}-api-from-{node_class}",
            "ingress",
            CONTROL_PLANE,
            f"Kubernetes API from {node_class} nodes",
            "kubelets and pods reach the Kubernetes API on 443",
            peer=nodes(node_class),
            ports=(443, 443),
        )
        for low, high, what in CONTROL_PLANE_TO_NODES:
            yield SecurityRule(
                "cluster",
                f"{cluster}-{node_class}-from-api-{low}",
                "ingress",
                nodes(node_class),
                f"control plane to {node_class} nodes: {what}",
                "nodes do not join the cluster security group: the control plane reaches them on the ports EKS lists",
                peer=CONTROL_PLANE,
                ports=(low, high),
            )


def _connected_networks(cluster: str, cidrs: Sequence[str]) -> Iterable[SecurityRule]:
    """EKS UG cluster-endpoint: from a connected network the control plane security group must
    allow ingress on 443; nothing else of the cluster is opened to it."""
    for cidr in cidrs:
        yield SecurityRule(
            "cluster",
            f"{cluster}-api-from-{cidr.replace('.', '-').replace('/', '-')}",
            "ingress",
            CONTROL_PLANE,
            f"Kubernetes API from the connected network {cidr}",
            "a connected network (cluster.endpoint.private_cidrs) reaches the private endpoint on 443",
            cidr=cidr,
            ports=(443, 443),
        )


def _efa(name: str) -> Iterable[SecurityRule]:
    """EFA's OS-bypass traffic only flows between members of one security group."""
    group = fabric(name)
    for direction, way in (("ingress", "from"), ("egress", "to")):
        yield SecurityRule(
            group,
            f"{name}-efa-{direction}-self",
            "ingress" if direction == "ingress" else "egress",
            group,
            f"EFA: all traffic {way} the fabric",
            "EFA traffic flows only between members of one security group, on every port",
            peer=group,
            protocol="-1",
        )


def _lustre(tier: str, ports: tuple[tuple[int, int], ...], clients: tuple[str, ...]) -> Iterable[SecurityRule]:
    """LNet flows both ways: clients accept it from the file system's group and the file system
    from its clients' groups (and between its own servers), on the ports FSx documents and no others."""
    owner, servers = storage_owner(tier), lustre(tier)
    why = "LNet between a Lustre file system's servers and its clients, on the ports FSx documents"
    for low, high in ports:
        for source in ("self", *clients):
            peer = servers if source == "self" else nodes(source)
            for direction in ("ingress", "egress"):
                yield SecurityRule(
                    owner,
                    f"{tier}-lustre-{direction}-{low}-{source}",
                    "ingress" if direction == "ingress" else "egress",
                    servers,
                    f"Lustre {low}-{high} {'from' if direction == 'ingress' else 'to'} {source}",
                    why,
                    peer=peer,
                    ports=(low, high),
                    retained=source == "self",
                )
        for node_class in clients:
            yield SecurityRule(
                owner,
                f"{tier}-client-{node_class}-{low}",
                "ingress",
                nodes(node_class),
                f"Lustre {low}-{high} from {tier} file servers",
                why,
                peer=servers,
                ports=(low, high),
            )
