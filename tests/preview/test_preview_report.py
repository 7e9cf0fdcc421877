"""resources.json and the component summary."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from preview_programs import gpu_cluster_program
from rich.console import Console

from gpufleet.preview import (
    PreviewResult,
    render_resources_json,
    render_tree,
    run_preview,
    summarize,
)

CONFIG = {"aws:region": "us-west-2", "gpufleet:spec": "fleet.yaml"}
HERE = Path(__file__).parent

RENDER_IN_SUBPROCESS = """
import sys
from gpufleet.preview import render_resources_json, run_preview
from preview_programs import gpu_cluster_program
result = run_preview(gpu_cluster_program, project="gpufleet", stack="dev", config={config!r})
sys.stdout.write(render_resources_json(result))
"""


@pytest.fixture(scope="module")
def preview() -> PreviewResult:
    return run_preview(gpu_cluster_program, project="gpufleet", stack="dev", config=CONFIG)


def test_resources_json_is_canonical(preview):
    text = render_resources_json(preview)
    document = json.loads(text)

    assert text.endswith("}\n")
    assert text == json.dumps(document, indent=2, sort_keys=True) + "\n"
    assert [entry["urn"] for entry in document["resources"]] == [r.urn for r in preview.resources]
    assert (document["project"], document["stack"]) == ("gpufleet", "dev")


def test_resources_json_entries_carry_identity_options_and_inputs(preview):
    entries = {entry["urn"]: entry for entry in json.loads(render_resources_json(preview))["resources"]}
    vpc = preview.named("aws:ec2/vpc:Vpc", "toy-vpc")
    lustre = preview.named("aws:fsx/lustreFileSystem:LustreFileSystem", "toy-scratch")

    assert entries[vpc.urn] == {
        "urn": vpc.urn,
        "type": "aws:ec2/vpc:Vpc",
        "name": "toy-vpc",
        "parent": vpc.parent,
        "custom": True,
        "external": False,
        "provider": None,
        "protect": True,
        "retainOnDelete": False,
        "dependsOn": [],
        "inputs": {"cidrBlock": "10.0.0.0/16", "enableDnsHostnames": True},
    }
    assert entries[lustre.urn]["retainOnDelete"] is True
    assert "outputs" not in entries[vpc.urn]


def test_secret_inputs_are_redacted_in_the_file_only(preview):
    entries = {entry["name"]: entry for entry in json.loads(render_resources_json(preview))["resources"]}
    assert entries["fleet-spec"]["inputs"]["data"] == {"spec": "fleet.yaml", "token": "[secret]"}
    assert entries["kube"]["inputs"]["kubeconfig"] == "[secret]"
    assert preview.named("kubernetes:core/v1:ConfigMap", "fleet-spec").inputs["data"]["token"] == "hunter2"
    assert "hunter2" not in render_resources_json(preview)


def test_resources_json_is_identical_across_runs_in_process(preview):
    again = run_preview(gpu_cluster_program, project="gpufleet", stack="dev", config=CONFIG)
    assert render_resources_json(again) == render_resources_json(preview)


def test_resources_json_is_identical_in_a_fresh_interpreter(preview):
    env = {**os.environ, "PYTHONHASHSEED": "4242", "PYTHONPATH": str(HERE)}
    fresh = subprocess.run(
        [sys.executable, "-c", RENDER_IN_SUBPROCESS.format(config=CONFIG)],
        check=True,
        env=env,
        capture_output=True,
        text=True,
    )
    assert fresh.stdout == render_resources_json(preview)


def test_summary_counts_resources_under_their_nearest_component(preview):
    summary = summarize(preview)
    root = summary.root
    (cluster,) = root.children
    (pool,) = cluster.children

    assert root.type == "pulumi:pulumi:Stack"
    assert root.counts["pulumi:providers:kubernetes"] == 1
    assert root.counts["aws:s3/bucket:Bucket"] == 1
    assert (cluster.name, cluster.counts["aws:ec2/subnet:Subnet"]) == ("toy", 2)
    assert pool.counts == {
        "aws:ec2/launchTemplate:LaunchTemplate": 1,
        "aws:ec2/placementGroup:PlacementGroup": 1,
        "aws:eks/nodeGroup:NodeGroup": 1,
    }
    assert pool.total == 3
    assert cluster.total == cluster.direct_total + 3
    assert summary.total == sum(1 for r in preview.resources if r.custom)
    assert summary.counts_by_type()["aws:s3/bucket:Bucket"] == 2


def test_render_tree_shows_components_and_counts(preview):
    console = Console(width=200, record=True, color_system=None)
    console.print(render_tree(summarize(preview)))
    lines = [line.rstrip() for line in console.export_text().splitlines()]

    custom_count = sum(1 for r in preview.resources if r.custom)
    assert lines[0] == f"gpufleet-dev pulumi:pulumi:Stack ({custom_count} resources)"
    assert any(line.endswith("toy toy:fleet:Cluster (16 resources)") for line in lines)
    assert any(line.endswith("toy-h100 toy:fleet:NodePool (3 resources)") for line in lines)
    assert any(line.endswith("2 × aws:ec2/subnet:Subnet") for line in lines)
