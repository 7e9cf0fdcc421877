"""``gpufleet check``: validate each stack file, preview it offline, run the pack on the result."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from pydantic import AfterValidator, Field

from gpufleet.catalog import load_catalog
from gpufleet.documents import parse_document
from gpufleet.findings import Finding, Location, declare
from gpufleet.inputs import InputFileError, InputInvalid, read_input
from gpufleet.model import FleetPlan, resolve
from gpufleet.policy.analyzer import ENFORCEMENT_VALUES, AnalyzedResource, PackRun, PolicyPackSession, StackIdentity
from gpufleet.policy.results import PolicyFinding, policy_findings
from gpufleet.policy.sizing import PoolFeed, training_feeds
from gpufleet.preview.result import RecordedResource
from gpufleet.stack import LoadedStack, StackInvalid, load_stack
from gpufleet.stack.config import read_stack_config
from gpufleet.stack.loader import display_path
from gpufleet.yamltree import Locator, MapNode, plain

PROJECT = "gpufleet"
PROGRAM_CONFIG = ("gpufleet:spec", "aws:region")  # the keys the program reads
PACKS_AT_ONCE = 4
FEED_POLICY = "hot-storage-feeds-training"
PROJECT_PACK = Path(__file__).resolve().parents[3] / "policies"


def default_pack() -> Path:
    """This project's policies/ in a source checkout, else the pack installed with gpufleet."""
    from gpufleet.policy.pack import INSTALLED_PACK

    return PROJECT_PACK if (PROJECT_PACK / "PulumiPolicy.yaml").is_file() else INSTALLED_PACK


@dataclass(frozen=True)
class StackCheck:
    file: str
    stack: str
    invalid: tuple[Finding, ...] = ()
    findings: tuple[PolicyFinding, ...] = ()
    feeds: tuple[PoolFeed, ...] = ()
    run: PackRun | None = None
    unreadable: bool = False
    """An input of the stack could not be read at all (or the file cannot name a stack): exit 2."""
    plan: FleetPlan | None = None
    """The resolved plan the pack judged; None for an invalid stack."""

    @property
    def mandatory(self) -> int:
        return len(self.invalid) + sum(1 for finding in self.findings if finding.mandatory)

    @property
    def advisory(self) -> int:
        return sum(1 for finding in self.findings if not finding.mandatory)


NOT_A_POLICY_CONFIG = declare(
    "GF-CFG-001",
    "error",
    "The policy config is not a JSON object of policy name: enforcement level or settings.",
    'Write it as `pulumi preview --policy-pack-config` reads it, e.g. {"all": "advisory"}.',
)


class PolicyConfigInvalid(InputInvalid):
    """The policy config file is not one Pulumi would read: a usage problem, exit 2."""

    exit_code = 2


def _policy_entry(entry: Any) -> Any:
    if isinstance(entry, str) and entry in ENFORCEMENT_VALUES:
        return entry
    if isinstance(entry, dict):
        level = entry.get("enforcementLevel")
        if level is not None and level not in ENFORCEMENT_VALUES:
            raise ValueError(f"enforcementLevel must be one of {', '.join(sorted(ENFORCEMENT_VALUES))}")
        return entry
    raise ValueError(f"must be an enforcement level ({', '.join(sorted(ENFORCEMENT_VALUES))}) or a mapping of settings")


PolicyEntry = Annotated[Any, AfterValidator(_policy_entry)]
PolicyName = Annotated[str, Field(min_length=1, max_length=128)]


@dataclass(frozen=True)
class PolicyConfig:
    """The policy config file's entries, and where each was written (for the pack's own refusals)."""

    values: dict[str, Any]
    locator: Locator | None = None

    def located(self, path: tuple[str, ...], message: str) -> PolicyConfigInvalid | None:
        """The pack's refusal of an entry (an unknown policy, a setting its schema refuses), at its line."""
        if self.locator is None:
            return None
        finding = NOT_A_POLICY_CONFIG.finding(path, message, at_key=len(path) == 1)
        return PolicyConfigInvalid(self.locator.locate([finding]))


def read_policy_config(path: Path | None) -> PolicyConfig:
    """The file ``pulumi preview --policy-pack-config`` reads (JSON: policy name to level or
    settings), through the one reader: a FIFO, a file past 1 MiB, non-UTF-8, nesting past 32
    levels or anything but an object of entries is refused at its line (exit 2)."""
    if path is None:
        return PolicyConfig({})
    source = read_input(path, "policy config")
    _require_json(source.text, source.shown)
    document = parse_document(
        source.text,
        source.path,
        source.shown,
        {MapNode: dict[PolicyName, PolicyEntry]},
        invalid=PolicyConfigInvalid,
        root_rule=NOT_A_POLICY_CONFIG,
        root_message="a policy config must be a JSON object of policy names",
    )
    return PolicyConfig(plain(document.value), document.locator)


def _require_json(text: str, shown: str) -> None:
    """Pulumi reads the file as JSON, so gpufleet takes only JSON (YAML, which the reader then
    parses it as for positions, would take more). The reader bounded its size; the json module
    stops deep nesting itself with a ``RecursionError``."""

    def refuse_constant(name: str) -> None:
        raise ValueError(f"{name} is not a JSON number")

    try:
        json.loads(text, parse_constant=refuse_constant)
    except json.JSONDecodeError as error:
        finding = NOT_A_POLICY_CONFIG.finding((), f"policy config is not valid JSON: {error.msg}")
        raise PolicyConfigInvalid([finding.located(Location(shown, error.lineno, error.colno))]) from None
    except (ValueError, RecursionError) as error:
        reason = "it nests too deeply" if isinstance(error, RecursionError) else str(error)
        finding = NOT_A_POLICY_CONFIG.finding((), f"policy config is not valid JSON: {reason}")
        raise PolicyConfigInvalid([finding.located(Location(shown, 1, 1))]) from None


def stack_config(stack: str, spec: Path, region: str | None, project_dir: Path) -> tuple[dict[str, str], tuple[str, ...]]:
    """The config the engine would hand the pack: ``Pulumi.<stack>.yaml`` plus what the
    preview sets; secure values are passed as secret keys, never decrypted. The file is read by
    the one reader (a FIFO is refused, never waited on; aliases cannot expand past its bounds)."""
    config: dict[str, str] = {}
    secret: list[str] = []
    for key, value in read_stack_config(stack, project_dir).items():
        if isinstance(value, Mapping) and "secure" in value:
            secret.append(key)
            config[key] = "[secret]"
        else:
            config[key] = value if isinstance(value, str) else json.dumps(value)
    config["gpufleet:spec"] = str(spec.resolve())
    if region:
        config["aws:region"] = region
    return config, tuple(sorted(secret))


def analyzed(resource: RecordedResource) -> AnalyzedResource:
    return AnalyzedResource(
        urn=resource.urn,
        type=resource.type,
        name=resource.name,
        inputs=resource.inputs,
        parent=resource.parent,
        dependencies=resource.depends_on,
        property_dependencies=resource.property_dependencies,
        protect=resource.protect,
        custom=resource.custom,
    )


@dataclass(frozen=True)
class _Prepared:
    path: Path
    loaded: LoadedStack | None
    plan: FleetPlan | None
    config: tuple[dict[str, str], tuple[str, ...]] | None = None
    invalid: tuple[Finding, ...] = ()
    unreadable: bool = False


def _prepare(path: Path) -> _Prepared:
    """Load, resolve and read the stack's Pulumi config; a stack that fails any of it is a
    result (its located findings), so the other stacks are still checked and reported."""
    try:
        loaded = load_stack(path)
    except InputFileError as unreadable:
        return _Prepared(path, None, None, invalid=(unreadable.finding,), unreadable=True)
    except InputInvalid as invalid:  # the stack, its subnet record or its name
        return _Prepared(path, None, None, invalid=invalid.findings, unreadable=invalid.exit_code == 2)
    try:
        plan = resolve(loaded, load_catalog())
    except StackInvalid as invalid:
        return _Prepared(path, loaded, None, invalid=invalid.findings)
    try:
        config = stack_config(plan.stack, path, plan.cluster.region, Path.cwd())
    except InputFileError as unreadable:
        return _Prepared(path, loaded, None, invalid=(unreadable.finding,), unreadable=True)
    except InputInvalid as invalid:
        return _Prepared(path, loaded, None, invalid=invalid.findings)
    return _Prepared(path, loaded, plan, config)


def check_stacks(
    paths: Sequence[Path],
    policy_config: Mapping[str, Any],
    pack_dir: Path | None = None,
    *,
    progress: Callable[[str], None] | None = None,
) -> list[StackCheck]:
    """Check each stack. A batch's pack processes all start first and load while this process
    previews; each stack's Analyzer calls then run while the next stack previews. ``progress``
    hears what is being done, stack by stack."""
    say = progress or (lambda _: None)
    checks: list[StackCheck] = []
    for start in range(0, len(paths), PACKS_AT_ONCE):
        batch = []
        for number, path in enumerate(paths[start : start + PACKS_AT_ONCE], start + 1):
            say(f"resolving {display_path(path)} ({number}/{len(paths)})")
            batch.append(_prepare(path))
        checks.extend(_check_batch(batch, policy_config, pack_dir or default_pack(), say, len(paths), start))
    return checks


def _check_batch(
    batch: list[_Prepared],
    policy_config: Mapping[str, Any],
    pack_dir: Path,
    say: Callable[[str], None],
    total: int,
    done: int,
) -> list[StackCheck]:
    from gpufleet import program
    from gpufleet.preview import run_preview

    with ExitStack() as stack, ThreadPoolExecutor(max_workers=PACKS_AT_ONCE) as calls:
        sessions = {}
        for item in batch:
            if item.plan is not None and item.config is not None:
                config, secret_keys = item.config
                identity = StackIdentity(project=PROJECT, stack=item.plan.stack, config=config, secret_keys=secret_keys)
                sessions[item.path] = (stack.enter_context(PolicyPackSession(pack_dir, identity)), config)
        runs = {}
        for number, item in enumerate(batch, done + 1):
            if item.plan is None:
                continue
            say(f"previewing and checking {display_path(item.path)} ({number}/{total})")
            session, config = sessions[item.path]
            preview_config = {key: value for key, value in config.items() if key in PROGRAM_CONFIG}
            plan = item.plan
            result = run_preview(
                functools.partial(program.run_plan, plan), project=PROJECT, stack=plan.stack, config=preview_config
            )
            resources = [analyzed(resource) for resource in result.resources]
            runs[item.path] = (resources, calls.submit(session.analyze, resources, policy_config))
        say("waiting for the policy pack")
        return [_outcome(item, runs.get(item.path)) for item in batch]


def _outcome(item: _Prepared, run: tuple[list[AnalyzedResource], Future[PackRun]] | None) -> StackCheck:
    file = display_path(item.path)
    if item.plan is None or item.loaded is None or run is None:
        return StackCheck(file=file, stack=item.path.stem, invalid=item.invalid, unreadable=item.unreadable)
    resources, pending = run
    pack_run = pending.result()
    per_gpu = pack_run.config.get(FEED_POLICY, {}).get("read_mbs_per_gpu")
    return StackCheck(
        file=file,
        stack=item.plan.stack,
        findings=tuple(policy_findings(pack_run, resources, item.loaded.locator)),
        feeds=tuple(training_feeds(item.plan, per_gpu)),
        run=pack_run,
        plan=item.plan,
    )
