"""``gpufleet check``: validate each stack file, preview it offline, run the pack on the result."""

from __future__ import annotations

import functools
import json
import subprocess
import tempfile
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Annotated, Any

from pydantic import AfterValidator, Field

from gpufleet.catalog import load_catalog
from gpufleet.documents import parse_document
from gpufleet.errors import UsageError
from gpufleet.findings import Finding, Location, declare
from gpufleet.inputs import InputFileError, InputInvalid, read_input
from gpufleet.model import FleetPlan, resolve
from gpufleet.model.cost import stale_prices
from gpufleet.policy.analyzer import (
    ENFORCEMENT_VALUES,
    Analysis,
    AnalyzedResource,
    PackRun,
    PolicyPackSession,
    StackIdentity,
)
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
IMPACT_BASE = "gpufleet:impact-base"
"""The config key the replacement gate reads its base from (``policy.pack.impact``)."""
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
    warnings: tuple[Finding, ...] = ()
    """What ``gpufleet validate`` warns about (and notes) for a valid stack: check reports them too."""

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
    base: FleetPlan | None = None
    """The same stack before the change (``--base``), whose resources the replacement gate compares with."""


def _prepare(path: Path, base: Path | None = None) -> _Prepared:
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
    return _Prepared(path, loaded, plan, config, base=_base_plan(base) if base is not None else None)


def _base_plan(path: Path) -> FleetPlan:
    try:
        return resolve(load_stack(path), load_catalog())
    except (StackInvalid, InputInvalid) as invalid:
        raise UsageError(
            f"--base: {display_path(path)} does not resolve, so there is nothing to compare with:\n"
            + "\n".join(f"  {finding}" for finding in invalid.findings)
        ) from None


def check_stacks(
    paths: Sequence[Path],
    policy_config: Mapping[str, Any],
    pack_dir: Path | None = None,
    *,
    base: str | None = None,
    priced_on: date | None = None,
    progress: Callable[[str], None] | None = None,
) -> list[StackCheck]:
    """Check each stack. A batch's pack processes all start first and load while this process
    previews; each stack's Analyzer calls run while it previews (as the engine analyzes each
    resource as it registers). ``progress`` hears what is being done, stack by stack.

    ``base``: the stacks before the change (a folder, one stack file, or a git commit), which
    the replacement gate compares each stack with; ``priced_on``: the day the price table's age
    is judged on (its staleness is one of validate's warnings)."""
    say = progress or (lambda _: None)
    checks: list[StackCheck] = []
    with tempfile.TemporaryDirectory(prefix="gpufleet-base-") as scratch:
        bases = {path: base_stack(path, base, Path(scratch), len(paths)) for path in paths} if base else {}
        for start in range(0, len(paths), PACKS_AT_ONCE):
            batch = []
            for number, path in enumerate(paths[start : start + PACKS_AT_ONCE], start + 1):
                say(f"resolving {display_path(path)} ({number}/{len(paths)})")
                batch.append(_prepare(path, bases.get(path)))
            checks.extend(
                _check_batch(batch, policy_config, pack_dir or default_pack(), say, (len(paths), start), Path(scratch), priced_on)
            )
    return checks


def base_stack(path: Path, base: str, scratch: Path, stacks: int) -> Path | None:
    """Where ``path`` was before the change: ``base/<name>`` of a folder, the file itself (one
    stack checked), or the file at git commit ``base`` (with its subnet record). None: the stack
    is new there, so nothing of it is replaced."""
    given = Path(base)
    if given.is_dir():
        found = given / path.name
        return found if found.is_file() else None
    if given.is_file():
        if stacks != 1:
            raise UsageError(f"--base {base} is one file; give a folder or a git commit to check {stacks} stacks")
        return given
    return _at_commit(path, base, scratch)


def _git(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", "-C", str(folder), *args], capture_output=True, text=True, check=False)


def _at_commit(path: Path, ref: str, scratch: Path) -> Path | None:
    folder = path.resolve().parent
    if _git(folder, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}").returncode != 0:
        raise UsageError(
            f"--base {ref}: not a folder, a stack file or a git commit of the repository holding {display_path(path)}"
        )
    top = Path(_git(folder, "rev-parse", "--show-toplevel").stdout.strip())
    target = scratch / ref.replace("/", "_")
    target.mkdir(parents=True, exist_ok=True)
    written = None
    for file in (path.resolve(), path.resolve().with_name(f"{path.stem}.subnets.lock")):
        shown = _git(folder, "show", f"{ref}:{file.relative_to(top).as_posix()}")
        if shown.returncode == 0:
            (target / file.name).write_text(shown.stdout, encoding="utf-8")
            written = written or target / file.name
        elif file.suffix != ".lock":
            return None
    return written


def _check_batch(
    batch: list[_Prepared],
    policy_config: Mapping[str, Any],
    pack_dir: Path,
    say: Callable[[str], None],
    counts: tuple[int, int],
    scratch: Path,
    priced_on: date | None,
) -> list[StackCheck]:
    from gpufleet import program
    from gpufleet.preview import render_resources_json, run_preview

    total, done = counts
    with ExitStack() as stack, ThreadPoolExecutor(max_workers=PACKS_AT_ONCE) as calls:
        sessions = {}
        for index, item in enumerate(batch, done):
            if item.plan is not None and item.config is not None:
                config, secret_keys = item.config
                if item.base is not None:  # written below, before the pack judges the stack
                    config[IMPACT_BASE] = str(scratch / f"{index}-{item.plan.stack}.resources.json")
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
            if item.base is not None:
                base = run_preview(
                    functools.partial(program.run_plan, item.base), project=PROJECT, stack=plan.stack, config=preview_config
                )
                Path(config[IMPACT_BASE]).write_text(render_resources_json(base), encoding="utf-8")
            analysis = session.begin(policy_config)
            result = run_preview(
                functools.partial(program.run_plan, plan),
                project=PROJECT,
                stack=plan.stack,
                config=preview_config,
                on_record=functools.partial(_submit, analysis),
            )
            resources = [analyzed(resource) for resource in result.resources]
            runs[item.path] = (resources, calls.submit(analysis.finish, resources))
        say("waiting for the policy pack")
        return [_outcome(item, runs.get(item.path), priced_on) for item in batch]


def _submit(analysis: Analysis, resource: RecordedResource) -> None:
    analysis.submit(analyzed(resource))


def _outcome(item: _Prepared, run: tuple[list[AnalyzedResource], Future[PackRun]] | None, priced_on: date | None) -> StackCheck:
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
        warnings=(*item.plan.findings, *_stale(item.plan, priced_on)),
    )


def _stale(plan: FleetPlan, priced_on: date | None) -> tuple[Finding, ...]:
    found = stale_prices(load_catalog().prices, priced_on) if priced_on is not None else None
    return (found.located(plan.cluster.location),) if found is not None else ()
