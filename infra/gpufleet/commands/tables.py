"""Plain-data summaries of a plan, shared by the human tables and the ``--json`` output."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from gpufleet.catalog import Catalog
from gpufleet.commands.console import TABLE_ROWS, Column, fitted_table, new_table
from gpufleet.model.aws import AwsCluster
from gpufleet.model.facts import PoolFacts, preview_row
from gpufleet.model.plan import AwsCloud, FleetPlan, LaunchedNodes, NetworkLayout

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
        "storage": [facts.as_json() for facts in plan.tier_facts()],
        "kubernetes": plan.kubernetes.summary(),
        "placement": plan.placement.summary(),
        "validation": plan.validation.summary(),
        "monitoring": plan.monitoring.summary() if plan.monitoring else None,
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


POOL_DROP_ORDER = ("placement", "EFA", "fabric", "per node", "workload", "instance", "capacity")
"""The pool table's columns a narrow terminal leaves out, first to last; the others always show."""


def pools_table(plan: FleetPlan, *, width: int | None = None, wide: bool = False) -> Table:
    """One row per pool, one column per fact the pool projection marks for the table."""
    rows = plan.pool_facts()
    columns = [
        Column(
            title, _drop_rank(title, POOL_DROP_ORDER), "right" if title in ("per node", "GPUs total", "EFA", "$/hour") else "left"
        )
        for _, title in (type(rows[0]) if rows else PoolFacts).columns()
    ]
    shown = rows[:TABLE_ROWS]
    title = f"{plan.source}: {plan.cluster.name} ({plan.cluster.provider}, {plan.cluster.region or 'existing cluster'})"
    table = fitted_table(columns, [facts.cells() for facts in shown], width=width, wide=wide, title=title)
    _count_left_out(table, len(rows), "pools")
    return table


def _drop_rank(title: str, order: tuple[str, ...]) -> int | None:
    return order.index(title) + 1 if title in order else None


def _count_left_out(table: Table, rows: int, what: str) -> None:
    """Say how many rows the table left out (it shows ``TABLE_ROWS``), beside any other caption."""
    if rows > TABLE_ROWS:
        more = f"{rows - TABLE_ROWS} more {what} not shown; --json lists them all"
        table.caption = f"{more}; {table.caption}" if table.caption else more


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


PREVIEW_COLUMNS = (
    Column("pool"),
    Column("instance"),
    Column("GPUs per node"),
    Column("nodes", justify="right"),
    Column("GPUs at max", justify="right"),
    Column("$/h at max", justify="right"),
    Column("capacity", drop=8),
    Column("MIG config", drop=7),
    Column("zones", drop=6),
    Column("placement group", drop=5),
    Column("EFA", drop=4, justify="right"),
    Column("pods may request (per node)", drop=3),
    Column("Kueue flavor / queues", drop=2),
    Column("subnets", drop=1),
)
"""The preview's pool table. A narrow terminal leaves out columns in ``drop`` order: subnets,
Kueue flavor / queues, pods may request, EFA, placement group, zones, MIG config, capacity; pool,
instance, GPUs, nodes, GPUs at max and cost always show."""


def pool_preview_rows(plan: FleetPlan) -> list[dict[str, Any]]:
    """Per pool, the preview's fields of its one projection (``PoolFacts``): what its launch
    template and node group carry, and the Kueue flavor and queues that reach it."""
    return [
        preview_row(facts, launched=isinstance(pool.source, LaunchedNodes))
        for pool, facts in zip(plan.pools, plan.pool_facts(), strict=True)
    ]


def preview_pools_table(plan: FleetPlan, *, width: int | None = None, wide: bool = False) -> Table:
    """Cloud columns show "-" for existing nodes (provider kubernetes), which gpufleet does not launch."""
    cells = []
    rows = pool_preview_rows(plan)
    for row, facts in zip(rows[:TABLE_ROWS], plan.pool_facts(), strict=False):
        reservation = row.get("reservation")
        ceiling = facts.usd_per_hour["max"]
        cells.append(
            [
                row["pool"],
                row["instance_type"],
                row["accelerators"],
                f"{facts.nodes['min']}-{facts.nodes['max']}",
                str(facts.accelerators_max) if facts.accelerator else "-",
                f"${ceiling:,}" if ceiling is not None else "-",
                (facts.capacity or "-") + (f"\n{reservation}" if reservation else ""),
                row.get("mig_config") or "-",
                "\n".join(row.get("zones", ())) or "-",
                row.get("placement_group") or "-",
                str(row.get("efa_interfaces", "-")),
                "\n".join(f"{name}: {amount}" for name, amount in row["pod_resources"].items()) or "-",
                "\n".join((row["flavor"], *row["queues"])) if row["flavor"] else "-",
                "\n".join(row.get("subnets", ())) or "-",
            ]
        )
    table = fitted_table(PREVIEW_COLUMNS, cells, width=width, wide=wide, title="node pools as rendered")
    _count_left_out(table, len(rows), "pools")
    return table
