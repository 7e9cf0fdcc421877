"""Typed EKS and zone facts: pinned add-ons and AMI releases, control-plane limits, zone offerings."""

from __future__ import annotations

from ipaddress import IPv4Network

from pydantic import Field

from gpufleet.catalog.models import Fact

CORE_ADDONS = ("vpc-cni", "kube-proxy", "coredns", "eks-pod-identity-agent")


def addon_version_numbers(version: str) -> tuple[int, ...]:
    """EKS add-on versions read ``v1.19.2-eksbuild.1``; compare them by their numeric part."""
    return tuple(int(part) for part in version.lstrip("v").split("-", 1)[0].split("."))


class KubernetesVersionPins(Fact):
    ami_release: str = Field(pattern=r"^v[0-9]{8}$")
    addons: dict[str, str]
    cluster_autoscaler: str = Field(
        pattern=r"^v[0-9]+\.[0-9]+\.[0-9]+$",
        description="The Cluster Autoscaler release of this Kubernetes minor (its image tag).",
    )
    sources: tuple[str, ...] = Field(min_length=1)


class ControlPlaneFacts(Fact):
    min_zones: int = Field(ge=1)
    unsupported_zone_ids: tuple[str, ...]
    service_cidrs: tuple[IPv4Network, ...] = Field(min_length=1)
    sources: tuple[str, ...] = Field(min_length=1)


class VpcCniFacts(Fact):
    warm_ip_target: int = Field(ge=0)
    minimum_ip_target: int = Field(ge=0)
    sources: tuple[str, ...] = Field(min_length=1)


class NodeAddressFacts(Fact):
    surge_nodes_per_zone: int = Field(ge=0)
    """A DEFAULT node group update adds the larger of this times its zones and maxUnavailable."""
    host_network_pods: int = Field(ge=0)
    """Pods in nodeadm's default maxPods that run on the host network and claim no IP."""
    reserved_per_subnet: int = Field(ge=0)
    smallest_subnet_prefix: int = Field(ge=16, le=28)
    sources: tuple[str, ...] = Field(min_length=1)


class ImageRegistries(Fact):
    sources: tuple[str, ...] = Field(min_length=1)
    by_region: dict[str, str]


class EksFacts(Fact):
    sources: dict[str, str]
    image_registries: ImageRegistries
    kubernetes_versions: dict[str, KubernetesVersionPins]
    control_plane: ControlPlaneFacts
    vpc_cni: VpcCniFacts
    node_addresses: NodeAddressFacts


class ZoneOffering(Fact):
    names: tuple[str, ...]
    ids: tuple[str, ...]


class ZoneOfferings(Fact):
    sources: dict[str, str]
    offering_sources: tuple[str, ...]
    regions: dict[str, dict[str, ZoneOffering]]

    def zones_offering(self, region: str, instance_type: str) -> ZoneOffering | None:
        """None when the catalog has no data for the region; empty when the region lacks the type."""
        if region not in self.regions:
            return None
        return self.regions[region].get(instance_type, ZoneOffering(names=(), ids=()))
