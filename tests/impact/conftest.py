"""Stack pairs for impact tests: prod as the base, one ordinary edit each, both previewed offline.

Each side runs the real program under the preview's mocks as stack ``prod`` (the edit is applied
to that stack), and is kept as ``resources.json`` too, so a test can check the classification
against what the file actually changes, not against bytes pinned here.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from gpufleet import program
from gpufleet.catalog import load_catalog
from gpufleet.impact import ImpactReport, Rendered, classify, pool_disruptions, queue_removals
from gpufleet.model import FleetPlan, resolve
from gpufleet.preview import render_resources_json, run_preview
from gpufleet.stack import load_stack

REPO = Path(__file__).resolve().parents[2]
PROD = (REPO / "stacks" / "prod.yaml").read_text(encoding="utf-8")


@dataclass(frozen=True)
class Side:
    plan: FleetPlan
    resources: list[Rendered]
    resources_json: list[dict[str, Any]]


@dataclass(frozen=True)
class Edit:
    before: Side
    after: Side
    report: ImpactReport

    def impact(self, type_suffix: str, name: str) -> str:
        """The class of one resource, by the end of its type token and its name ("no_change" if absent)."""
        found = [r.impact for r in self.report.resources if r.type.endswith(type_suffix) and r.name == name]
        assert len(found) <= 1
        return found[0] if found else "no_change"

    def change(self, type_suffix: str, name: str) -> str | None:
        return next((r.change for r in self.report.resources if r.type.endswith(type_suffix) and r.name == name), None)

    def pools(self) -> dict[str, str | None]:
        return {pool.pool: pool.impact for pool in self.report.pools}


def side(folder: Path, text: str) -> Side:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "prod.yaml").write_text(text, encoding="utf-8")
    shutil.copy(REPO / "stacks" / "prod.subnets.lock", folder / "prod.subnets.lock")
    plan = resolve(load_stack(folder / "prod.yaml"), load_catalog())
    result = run_preview(lambda: program.run_plan(plan), project="gpufleet", stack="prod", config={"aws:region": "us-east-1"})
    rendered = [Rendered.from_recorded(r) for r in result.resources]
    return Side(plan, rendered, json.loads(render_resources_json(result))["resources"])


@pytest.fixture(scope="session")
def prod_side(tmp_path_factory: pytest.TempPathFactory) -> Side:
    return side(tmp_path_factory.mktemp("base"), PROD)


@pytest.fixture(scope="session")
def edit(tmp_path_factory: pytest.TempPathFactory, prod_side: Side) -> Callable[..., Edit]:
    """``edit(new_text, old_text=PROD)``: the impact of going from the old text to the new one."""

    def make(new: str, old: str = PROD) -> Edit:
        assert new != old, "the edit changed nothing"
        before = prod_side if old == PROD else side(tmp_path_factory.mktemp("old"), old)
        after = side(tmp_path_factory.mktemp("new"), new)
        catalog = load_catalog()
        resources = classify(before.resources, after.resources, catalog.impact)
        report = ImpactReport(
            "old/prod.yaml",
            "new/prod.yaml",
            resources,
            pool_disruptions(resources, before.plan, after.plan, catalog),
            catalog.impact.provider_versions,
            queue_removals(before.resources, after.resources),
        )
        return Edit(before, after, report)

    return make
