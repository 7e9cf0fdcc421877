"""Rules about the cluster as a whole: its provider, its zones, its fabrics."""

from __future__ import annotations

import string

from gpufleet.model.aws import is_zone_id
from gpufleet.model.rules.registry import Problems, rule
from gpufleet.model.view import MAX_ZONES, StackView


@rule("GF-NET-001", "error", "An availability zone is listed twice.", "List each zone once.")
def zones_listed_once(view: StackView) -> Problems:
    network = view.spec.network
    if network is not None and len(set(network.availability_zones)) != len(network.availability_zones):
        yield ("network", "availability_zones"), "availability zones are listed more than once"


@rule("GF-NET-002", "error", f"More than {MAX_ZONES} availability zones.", "Keep the zones your pools use.")
def zones_at_most(view: StackView) -> Problems:
    network = view.spec.network
    if network is not None and len(network.availability_zones) > MAX_ZONES:
        yield ("network", "availability_zones"), f"at most {MAX_ZONES} availability zones"


@rule("GF-NET-003", "error", "A zone that is not in the cluster's region.", "Zones are the region plus a letter: us-east-1a.")
def zones_in_region(view: StackView) -> Problems:
    network, region = view.spec.network, view.spec.cluster.region
    if network is None or region is None:
        return
    for index, zone in enumerate(network.availability_zones):
        suffix = zone.removeprefix(region)
        if is_zone_id(zone):
            continue  # GF-AWS-013 checks zone ids
        if zone == region:
            yield ("network", "availability_zones", index), f"'{zone}' is the region; zones are '{region}a', '{region}b', ..."
        elif not (zone.startswith(region) and len(suffix) == 1 and suffix in string.ascii_lowercase):
            yield (
                ("network", "availability_zones", index),
                f"zone '{zone}' is not in region '{region}' (expected '{region}a', '{region}b', ...)",
            )


@rule("GF-FAB-001", "error", "An InfiniBand fabric on AWS, which offers none.", "Use kind: efa on AWS.")
def no_infiniband_on_aws(view: StackView) -> Problems:
    if not view.on_aws:
        return
    for name, fabric in view.spec.fabrics.items():
        if fabric.kind == "infiniband":
            yield ("fabrics", name, "kind"), "AWS offers no InfiniBand; its RDMA fabric is EFA (kind: efa)"
