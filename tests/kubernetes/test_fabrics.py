"""RDMA devices for pods: the EFA plugin from the cluster's own Region, InfiniBand verbs stated (issue 23: S3, #17)."""

from __future__ import annotations

from gpufleet.catalog import load_catalog
from tests.kubernetes.conftest import REPO, rendered
from tests.kubernetes.invariants import release_values


def test_the_efa_plugin_is_pulled_from_the_clusters_region() -> None:
    """EKS UG add-ons-images: "Amazon EKS replicates the images to a repository in each Amazon
    EKS supported AWS Region", one registry per Region (602401143452 in most, others such as
    877085696533 for af-south-1). The chart's default repository is us-west-2's; prod runs in
    us-east-1 and pulls from that Region's registry."""
    plan, result = rendered("prod", str(REPO / "stacks"))
    repository = release_values(result, "aws-efa-k8s-device-plugin")["image"]["repository"]
    registry = load_catalog().eks.image_registries.by_region[plan.cluster.region]
    assert repository == f"{registry}/eks/aws-efa-k8s-device-plugin"
    assert registry == "602401143452.dkr.ecr.us-east-1.amazonaws.com"
    assert load_catalog().eks.image_registries.by_region["af-south-1"].startswith("877085696533.")


def test_infiniband_is_verbs_only_and_says_so() -> None:
    """network-operator v26.4.1 example/README: a complete RDMA setup also needs "Deployment of
    Kubernetes secondary network"; gpufleet renders the shared RDMA device plugin only, so the
    NicClusterPolicy has no secondaryNetwork, nvIpam or IPoIB, and the plan states the mode."""
    plan, result = rendered("onprem", str(REPO / "stacks"))
    (policy,) = [r for r in result.resources if r.type.endswith(":NicClusterPolicy")]
    assert not {"secondaryNetwork", "nvIpam", "ofedDriver"} & set(policy.inputs["spec"])
    assert "rdmaSharedDevicePlugin" in policy.inputs["spec"]
    reasons = {d["what"]: d["why"] for d in plan.kubernetes.decisions()}
    assert (
        "no secondary network, IPAM or IPoIB" in reasons["network-operator: NicClusterPolicy nic-cluster-policy: RDMA verbs only"]
    )
