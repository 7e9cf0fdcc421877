"""Plain-data summaries of a plan, shared by the human tables and the ``--json`` output."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from gpufleet.catalog import Catalog
from gpufleet.commands.console import TABLE_ROWS, new_table, shown_rows
from gpufleet.model.aws import AwsCluster
from gpufleet.model.facts import PoolFacts
from gpufleet.model.plan import AwsCloud, FleetPlan, NetworkLayout

if TYPE_CHECKING:
    from rich.table import Table

__all__ = [
    "TABLE_ROWS",
    "aws_pins_table",
    "catalog_rows",
    "catalog_table",
    "plan_summary",
    "pool_subnets_table",
    "pools_table",
    "preview_pools_table",
]


def plan_summary(plan: FleetPlan) -> dict[str, Any]:
    """``validate --json``'s record of one stack: every pool and tier as its facts, and every
    decision with its reason (AWS pins, security-group rules, the Kubernetes side)."""
    cloud = plan.cluster.cloud
    return {
        "stack": plan.stack,
        "file": plan.source,
        "cluster": plan.cluster.name,
        "provider": plan.cluster.provider,
        "region": plan.cluster.region,
        "valid": True,
        "problems": [finding.as_json() for finding in plan.findings],
        "aws": cloud.eks.summary() if isinstance(cloud, AwsCloud) else None,
        "security_group_rules": [rule.as_json() for rule in cloud.security.rules] if isinstance(cloud, AwsCloud) else None,
        "network": plan.network.summary() if plan.network else None,
        "pools": [facts.as_json() for facts in plan.pool_facts()],
        "storage": [tier.facts().as_json() for tier in plan.storage],
        "kubernetes": plan.kubernetes.summary(),
    }


def pool_subnets_table(network: NetworkLayout) -> Table:
    """Each pool's own subnet: how big, what its nodes need, what is left, why it sits there."""
    table = new_table(title=f"pool subnets (control plane in {', '.join(network.control_plane_zones)})")
    for column in ("subnet", "zone", "CIDR", "usable", "needed", "headroom", "placed"):
        table.add_column(column, justify="right" if column in ("usable", "needed", "headroom") else "left")
    for subnet in network.pool_subnets:
        sizing = subnet.sizing
        assert sizing is not None, "a pool's own subnet is always sized"
        table.add_row(
            subnet.name,
            subnet.zone,
            str(subnet.cidr),
            str(sizing.usable),
            str(sizing.ips_needed),
            str(sizing.headroom),
            subnet.placed,
        )
    return table


def aws_pins_table(aws: AwsCluster) -> Table:
    """What this stack holds fixed until someone edits it: an AWS release changes none of it."""
    table = new_table(title="cluster pins and choices")
    for column in ("what", "value", "why"):
        table.add_column(column)
    table.add_row("AMI release", aws.ami_release.value, aws.ami_release.reason)
    for pin in aws.addons:
        table.add_row(
            f"add-on {pin.name}",
            pin.version,
            "catalog pin (eks.yaml)" + ("; created after the node groups" if pin.needs_nodes else ""),
        )
    table.add_row("service CIDR", aws.service_cidr.value, aws.service_cidr.reason)
    table.add_row("API endpoint", aws.endpoint, "cluster.endpoint.public_cidrs, private_cidrs")
    table.add_row("deploy path", aws.deploy_path.value, aws.deploy_path.reason)
    table.add_row("control-plane logs", ", ".join(aws.log_types), "cluster.log_types")
    table.add_row("IMDS hop limit", aws.imds_hop_limit.value, aws.imds_hop_limit.reason)
    return table


def pools_table(plan: FleetPlan) -> Table:
    """One row per pool, one column per fact the pool projection marks for the table."""
    table = new_table(
        title=f"{plan.source}: {plan.cluster.name} ({plan.cluster.provider}, {plan.cluster.region or 'existing cluster'})"
    )
    rows = plan.pool_facts()
    for _, title in (type(rows[0]) if rows else PoolFacts).columns():
        table.add_column(title, justify="right" if title in ("per node", "GPUs total", "EFA") else "left")
    for facts in shown_rows(table, rows, "pools"):
        table.add_row(*facts.cells())
    return table


def catalog_rows(catalog: Catalog) -> list[dict[str, Any]]:
    rows = []
    for instance in sorted(catalog.instance_types.values(), key=lambda i: i.name):
        accelerator = catalog.accelerator_of(instance)
        rows.append(
            {
                "instance_type": instance.name,
                "accelerator": accelerator.name if accelerator else None,
                "accelerator_kind": accelerator.kind if accelerator else None,
                "accelerator_count": instance.accelerator_count,
                "accelerator_memory_mib": accelerator.memory_mib if accelerator else None,
                "vcpus": instance.vcpus,
                "memory_mib": instance.memory_mib,
                "architecture": instance.architecture,
                "network_cards": instance.max_network_cards,
                "max_efa_interfaces": instance.max_efa_interfaces,
                "local_nvme_gb": instance.local_nvme.total_gb if instance.local_nvme else 0,
                "capacity_block": instance.capacity_block,
                "mig": bool(accelerator and accelerator.name in catalog.mig),
                "sources": [catalog.sources[key] for key in instance.sources],
            }
        )
    return rows


def catalog_table(rows: list[dict[str, Any]]) -> Table:
    table = new_table(title="gpufleet hardware catalog: AWS instance types")
    for column in ("instance", "accelerator", "count", "GiB each", "vCPU", "arch", "cards", "EFA", "NVMe GB", "CB", "MIG"):
        table.add_column(column)
    for row in rows:
        memory = row["accelerator_memory_mib"]
        table.add_row(
            row["instance_type"],
            row["accelerator"] or "-",
            str(row["accelerator_count"]),
            f"{memory / 1024:.1f}" if memory else "-",
            str(row["vcpus"]),
            row["architecture"],
            str(row["network_cards"]),
            str(row["max_efa_interfaces"]),
            str(row["local_nvme_gb"]),
            "yes" if row["capacity_block"] else "no",
            "yes" if row["mig"] else "no",
        )
    return table


def preview_pools_table(rows: list[dict[str, Any]]) -> Table:
    """Cloud columns show "-" for existing nodes (provider kubernetes), which gpufleet does not launch."""
    table = new_table(title="node pools as rendered")
    columns = (
        "pool",
        "instance",
        "accelerators",
        "EFA",
        "zones",
        "subnets",
        "placement group",
        "capacity",
        "MIG config",
        "pods may request (per node)",
        "Kueue flavor / queues",
    )
    for column in columns:
        table.add_column(column)
    for row in shown_rows(table, rows, "pools"):
        reservation = row.get("reservation")
        table.add_row(
            row["pool"],
            row["instance_type"],
            row["accelerators"],
            str(row.get("efa_interfaces", "-")),
            ", ".join(row.get("zones", ())) or "-",
            ", ".join(row.get("subnets", ())) or "-",
            row.get("placement_group") or "-",
            row.get("capacity", "-") + (f" {reservation}" if reservation else ""),
            row.get("mig_config") or "-",
            "\n".join(f"{name}: {amount}" for name, amount in row["pod_resources"].items()) or "-",
            f"{row['flavor']} / {', '.join(row['queues'])}" if row["flavor"] else "-",
        )
    return table
