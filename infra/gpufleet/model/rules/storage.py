"""Rules about storage tiers: FSx for Lustre's allowed sizes and throughputs, S3 links."""

from __future__ import annotations

from gpufleet.model.rules.registry import Problems, rule, unknown
from gpufleet.model.view import StackView
from gpufleet.stack.models import FsxLustreTierSpec


def _lustre_tiers(view: StackView) -> list[tuple[str, FsxLustreTierSpec]]:
    return [(name, tier) for name, tier in sorted(view.spec.storage.items()) if isinstance(tier, FsxLustreTierSpec)]


@rule(
    "GF-FSX-001",
    "error",
    "A per-TiB throughput the FSx for Lustre deployment type does not offer.",
    "Pick one of the throughputs the message lists.",
)
def lustre_throughput_offered(view: StackView) -> Problems:
    for name, tier in _lustre_tiers(view):
        facts = view.catalog.storage.fsx_lustre.deployments[tier.deployment]
        if tier.throughput_per_tib not in facts.per_unit_throughputs:
            allowed = ", ".join(str(v) for v in facts.per_unit_throughputs)
            yield (
                ("storage", name, "throughput_per_tib"),
                f"{tier.deployment} accepts {allowed} MB/s per TiB, not {tier.throughput_per_tib}",
            )


@rule(
    "GF-FSX-002",
    "error",
    "A capacity the FSx for Lustre deployment type cannot be created with.",
    "Round the capacity to a size the message names.",
)
def lustre_capacity_allowed(view: StackView) -> Problems:
    lustre = view.catalog.storage.fsx_lustre
    for name, tier in _lustre_tiers(view):
        facts = lustre.deployments[tier.deployment]
        if not facts.capacity_gib.allows(lustre.capacity_gib(tier.capacity_tib)):
            yield (
                ("storage", name, "capacity_tib"),
                f"FSx for Lustre {tier.deployment} takes {facts.capacity_gib.describe(lustre.capacity_gib_per_tib)}, not {tier.capacity_tib:g}",
            )


@rule("GF-REF-004", "error", "import_from does not name an s3 tier of the stack.", "Name an s3 tier.")
def lustre_imports_from_s3(view: StackView) -> Problems:
    for name, tier in _lustre_tiers(view):
        if tier.import_from is None:
            continue
        source = view.spec.storage.get(tier.import_from)
        if source is None:
            buckets = {n: t for n, t in view.spec.storage.items() if t.kind == "s3"}
            yield ("storage", name, "import_from"), unknown("s3 tier", tier.import_from, buckets)
        elif source.kind != "s3":
            yield ("storage", name, "import_from"), f"import_from must name an s3 tier; '{tier.import_from}' is {source.kind}"
