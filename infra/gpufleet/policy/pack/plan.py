"""The resolved plan of the stack under analysis, for what resources do not carry.

Which pools mount which tier, the models a pool serves and the stack's MIG plans are decisions
of the model, not inputs of any AWS resource. The program reads its spec from the config key
``gpufleet:spec`` (else ``stacks/<stack>.yaml`` beside the project); the pack reads the same
file through the same loader and resolver.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Any

from gpufleet.catalog import load_catalog
from gpufleet.model import FleetPlan, resolve
from gpufleet.policy.pack.graph import is_production, stack_config
from gpufleet.stack import LoadedStack, StackSpec, load_stack


def project_root() -> Path:
    """The engine starts a pack in its own directory, which sits in the project (policies/)."""
    here = Path.cwd()
    return here.parent if (here / "PulumiPolicy.yaml").is_file() else here


def spec_path() -> Path:
    configured = stack_config().get("gpufleet:spec") or f"stacks/{os.environ.get('PULUMI_STACK', '')}.yaml"
    path = Path(configured)
    return path if path.is_absolute() else project_root() / path


def stack_plan(args: Any) -> FleetPlan:
    """The plan, or ``not_applicable`` when the stack has no gpufleet spec to read."""
    return _stack(args)[1]


def stack_spec(args: Any) -> StackSpec:
    """The stack file as written, for what only the user's words say (acknowledgements, flags)."""
    return _stack(args)[0].spec


def _stack(args: Any) -> tuple[LoadedStack, FleetPlan]:
    path = spec_path()
    if not path.is_file():
        args.not_applicable(f"no gpufleet stack file at {path}")
    return _resolved(str(path), path.stat().st_mtime_ns)


@lru_cache(maxsize=4)
def _resolved(path: str, _mtime: int) -> tuple[LoadedStack, FleetPlan]:
    loaded = load_stack(path)
    return loaded, resolve(loaded, load_catalog())


def production(args: Any) -> bool:
    """Production is what the stack says (``cluster.production``); a stack that says nothing is
    production when its name is one of the policy config's ``production_stacks``."""
    path = spec_path()
    declared = _resolved(str(path), path.stat().st_mtime_ns)[1].cluster.production if path.is_file() else None
    return is_production(args.get_config(), declared)
