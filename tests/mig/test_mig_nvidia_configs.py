"""NVIDIA's own mig-parted configs, judged entry by entry against an expected table.

What "correct" means: an entry with a device-filter is judged for each catalog GPU it
names (ids missing from the catalog are not judged); one without is judged for every
catalog GPU on which all its profiles exist. Every entry of today's config is valid on
the GPUs it reaches; the stale early-GB200 names reach no GPU. The 2021 GPU Operator
config asks 7 x 1g.10gb without a filter, which A100-40GB (whose 1g.10gb is the
2-memory-slice profile, max 4) cannot hold.
"""

from __future__ import annotations

import pytest

from gpufleet.catalog import load_catalog
from gpufleet.mig import judge_mig_parted_config
from tests.reference import reference_names, reference_path

CATALOG = load_catalog()

ALL = "*"
H80 = "A100-80GB,H100-80GB"
RTX = "RTX-PRO-6000-96GB"

# config, entry, GPUs (or * for every MIG GPU, pci:<id> for an id not in the catalog, - for none), status
CURRENT = f"""
all-disabled 0 {ALL} ok
all-enabled 0 {ALL} ok
all-1g.5gb 0 A100-40GB ok
all-1g.5gb.me 0 A100-40GB ok
all-2g.10gb 0 A100-40GB ok
all-3g.20gb 0 A100-40GB ok
all-4g.20gb 0 A100-40GB ok
all-7g.40gb 0 A100-40GB ok
all-1g.24gb.gfx 0 {RTX} ok
all-1g.24gb.me.all 0 {RTX} ok
all-1g.24gb-me 0 {RTX} ok
all-2g.48gb 0 {RTX} ok
all-2g.48gb.gfx 0 {RTX} ok
all-2g.48gb.me.all 0 {RTX} ok
all-2g.48gb-me 0 {RTX} ok
all-4g.96gb 0 {RTX} ok
all-4g.96gb.gfx 0 {RTX} ok
all-1g.10gb 0 {H80} ok
all-1g.10gb 1 A100-40GB ok
all-1g.10gb.me 0 {H80} ok
all-1g.20gb 0 {H80} ok
all-2g.20gb 0 {H80} ok
all-3g.40gb 0 {H80} ok
all-4g.40gb 0 {H80} ok
all-7g.80gb 0 {H80} ok
all-1g.6gb 0 A30-24GB ok
all-1g.6gb.me 0 A30-24GB ok
all-2g.12gb 0 A30-24GB ok
all-2g.12gb.me 0 A30-24GB ok
all-4g.24gb 0 A30-24GB ok
all-1g.12gb 0 GH200-96GB,H100-NVL-94GB ok
all-1g.12gb.me 0 GH200-96GB,H100-NVL-94GB ok
all-1g.24gb 0 GH200-96GB,H100-NVL-94GB,{RTX} ok
all-2g.24gb 0 GH200-96GB,H100-NVL-94GB ok
all-1g.24gb.me 0 {RTX} ok
all-1g.47gb 0 GB200-186GB ok
all-2g.47gb 0 GB200-186GB ok
all-3g.93gb 0 GB200-186GB ok
all-4g.93gb 0 GB200-186GB ok
all-7g.186gb 0 GB200-186GB ok
all-3g.47gb 0 H100-NVL-94GB ok
all-4g.47gb 0 H100-NVL-94GB ok
all-7g.94gb 0 H100-NVL-94GB ok
all-3g.48gb 0 GH200-96GB ok
all-4g.48gb 0 GH200-96GB ok
all-7g.96gb 0 GH200-96GB ok
all-balanced GB200 GB200-186GB ok
all-balanced GB300 GB300-288GB ok
all-balanced RTX {RTX} ok
all-balanced B200 B200-180GB ok
all-balanced B300 B300-288GB ok
all-balanced GH200-144 GH200-144GB ok
all-balanced H200 H200-141GB ok
all-balanced NVL H100-NVL-94GB ok
all-balanced 80GB {H80} ok
all-balanced 40GB A100-40GB ok
all-balanced A30 A30-24GB ok
all-balanced 96GB GH200-96GB ok
all-balanced 96GB pci:0x20B610DE not-judged
all-balanced 96GB pci:0x232910DE not-judged
all-1g.18gb 0 GH200-144GB,H200-141GB ok
all-1g.18gb.me 0 GH200-144GB,H200-141GB ok
all-1g.23gb 0 B200-180GB,GB200-186GB ok
all-1g.23gb.me 0 B200-180GB,GB200-186GB ok
all-1g.35gb 0 H200-141GB ok
all-1g.35gb 1 GB300-288GB ok
all-2g.35gb 0 H200-141GB ok
all-3g.71gb 0 H200-141GB ok
all-4g.71gb 0 H200-141GB ok
all-7g.141gb 0 H200-141GB ok
all-1g.34gb 0 B300-288GB ok
all-1g.34gb.me 0 B300-288GB ok
all-1g.35gb.me 0 GB300-288GB ok
all-1g.36gb 0 GH200-144GB ok
all-1g.45gb 0 B200-180GB ok
all-1g.67gb 0 B300-288GB ok
all-1g.70gb 0 GB300-288GB ok
all-2g.36gb 0 GH200-144GB ok
all-2g.45gb 0 B200-180GB ok
all-2g.67gb 0 B300-288GB ok
all-2g.70gb 0 GB300-288GB ok
all-3g.72gb 0 GH200-144GB ok
all-3g.90gb 0 B200-180GB ok
all-3g.95gb 0 - not-judged
all-3g.135gb 0 B300-288GB ok
all-3g.139gb 0 GB300-288GB ok
all-4g.72gb 0 GH200-144GB ok
all-4g.90gb 0 B200-180GB ok
all-4g.95gb 0 - not-judged
all-4g.135gb 0 B300-288GB ok
all-4g.139gb 0 GB300-288GB ok
all-7g.144gb 0 GH200-144GB ok
all-7g.180gb 0 B200-180GB ok
all-7g.189gb 0 - not-judged
all-7g.269gb 0 B300-288GB ok
all-7g.278gb 0 GB300-288GB ok
"""

FIRST_OPERATOR = """
all-disabled 0 * ok
all-1g.5gb 0 A100-40GB ok
all-2g.10gb 0 A100-40GB ok
all-3g.20gb 0 A100-40GB ok
all-7g.40gb 0 A100-40GB ok
all-1g.10gb 0 A100-40GB infeasible
all-1g.10gb 0 A100-80GB,H100-80GB ok
all-2g.20gb 0 A100-80GB,H100-80GB ok
all-3g.40gb 0 A100-80GB,H100-80GB ok
all-7g.80gb 0 A100-80GB,H100-80GB ok
all-1g.6gb 0 A30-24GB ok
all-2g.12gb 0 A30-24GB ok
all-4g.24gb 0 A30-24GB ok
all-balanced 0 A100-40GB ok
all-balanced 1 A100-80GB ok
all-balanced 2 A30-24GB ok
"""

EXAMPLE = """
all-disabled 0 * ok
all-enabled 0 * ok
all-1g.5gb 0 A100-40GB ok
all-1g.5gb.me 0 A100-40GB ok
all-1g.10gb 0 A100-40GB,A100-80GB,H100-80GB ok
all-2g.10gb 0 A100-40GB ok
all-3g.20gb 0 A100-40GB ok
all-balanced 0 A100-40GB ok
custom-config 0 * ok
custom-config 1 A100-40GB ok
custom-config 2 A100-40GB ok
custom-config 3 A100-40GB ok
custom-config 4 A100-40GB ok
"""

STATION = (
    "\n".join(
        f"{name}-dgx-station-80 0 A100-80GB ok\n{name}-dgx-station-80 1 pci:0x1FB010DE not-judged"
        for name in (
            "all-disabled",
            "all-enabled",
            "all-1g.10gb",
            "all-2g.20gb",
            "all-3g.40gb",
            "all-4g.40gb",
            "all-7g.80gb",
            "all-balanced",
        )
    )
    + """
balanced-k8s-dgx-station-80 0 A100-80GB ok
balanced-k8s-dgx-station-80 1 A100-80GB ok
balanced-k8s-dgx-station-80 2 A100-80GB ok
balanced-k8s-dgx-station-80 3 A100-80GB ok
balanced-k8s-dgx-station-80 4 pci:0x1FB010DE not-judged
"""
)

# Position of each all-balanced entry in the two current files (their order differs).
BALANCED_ORDER = {
    "mig-parted__deployments__systemd__config-default.yaml": [
        "GB200",
        "GB300",
        "RTX",
        "B200",
        "B300",
        "GH200-144",
        "H200",
        "NVL",
        "80GB",
        "40GB",
        "A30",
        "96GB",
    ],
}


def expected_rows(table: str, balanced_order: list[str] | None = None) -> list[tuple[str, int, str, str]]:
    rows = []
    for line in table.strip().splitlines():
        config, entry, targets, status = line.split()
        index = balanced_order.index(entry) if balanced_order and config == "all-balanced" else int(entry)
        names = sorted(CATALOG.mig) if targets == ALL else targets.split(",")
        rows.extend((config, index, name, status) for name in names)
    return sorted(rows)


def nvidia_config(name: str):
    return reference_path(f"nvidia-mig-configs/{name}")


def actual_rows(name: str) -> list[tuple[str, int, str, str]]:
    rows = []
    for verdict in judge_mig_parted_config(CATALOG, nvidia_config(name)):
        target = verdict.gpu or (f"pci:{verdict.pci_ids[0]}" if verdict.pci_ids else "-")
        rows.append((verdict.config, verdict.entry, target, verdict.status))
    return sorted(rows)


def test_current_mig_parted_default_config_entry_by_entry():
    name = "mig-parted__deployments__systemd__config-default.yaml"
    assert actual_rows(name) == expected_rows(CURRENT, BALANCED_ORDER[name])


def test_current_gpu_operator_configmap_holds_the_same_verdicts_in_another_order():
    operator = actual_rows("gpu-operator__assets__state-mig-manager__0400_configmap.yaml")
    expected = expected_rows(CURRENT, BALANCED_ORDER["mig-parted__deployments__systemd__config-default.yaml"])
    assert sorted((c, g, s) for c, _, g, s in operator) == sorted((c, g, s) for c, _, g, s in expected)


@pytest.mark.parametrize(
    ("name", "table"),
    [
        ("gpu-operator__assets__state-mig-manager__0400_configmap@2e41c6e2d.yaml", FIRST_OPERATOR),
        ("mig-parted__examples__config.yaml", EXAMPLE),
        ("mig-parted__examples__dgx-station-80gb-config.yaml", STATION),
    ],
)
def test_older_and_example_configs_entry_by_entry(name, table):
    assert actual_rows(name) == expected_rows(table)


def test_the_one_failing_entry_says_which_limit():
    verdicts = judge_mig_parted_config(
        CATALOG, nvidia_config("gpu-operator__assets__state-mig-manager__0400_configmap@2e41c6e2d.yaml")
    )
    (failed,) = [verdict for verdict in verdicts if verdict.fails]
    assert failed.reasons == (
        "Profile limit: 7 x 1g.10gb but A100-40GB allows at most 4.",
        "Memory slices: 7 x 1g.10gb (2 each) = 14 but A100-40GB has 8.",
    )


def test_stale_names_point_at_the_profile_they_became():
    verdicts = judge_mig_parted_config(CATALOG, nvidia_config("mig-parted__deployments__systemd__config-default.yaml"))
    (stale,) = [v for v in verdicts if v.config == "all-7g.189gb"]
    assert stale.reasons == (
        "No catalog GPU has all of 7g.189gb under current profile names. 7g.189gb is an earlier name of GB200-186GB 7g.186gb.",
    )


def test_every_reference_file_is_covered():
    assert reference_names("nvidia-mig-configs") == sorted(
        [
            "gpu-operator__assets__state-mig-manager__0400_configmap.yaml",
            "gpu-operator__assets__state-mig-manager__0400_configmap@2e41c6e2d.yaml",
            "mig-parted__deployments__systemd__config-default.yaml",
            "mig-parted__examples__config.yaml",
            "mig-parted__examples__dgx-station-80gb-config.yaml",
        ]
    )
