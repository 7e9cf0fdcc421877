"""Stack templates: a Jinja2 stack file and a typed parameter schema, stamped into a stack.

A template is a folder ``templates/<name>/`` holding ``template.yaml`` (what it is for and its
parameters, each with a type, default, range and description) and ``stack.yaml.j2``. Values
come from ``--set key=value`` and ``--values FILE``; each is checked against its parameter
before anything renders, so a mistake names the parameter, where it was given and what was
expected instead of surfacing as some unrelated stack field. The rendered text then goes
through the same loader and resolver as a hand-written stack, and only a stack that resolves
is written, with its ``Pulumi.<stack>.yaml``, both or neither.

GPU parameters list the catalog GPUs they allow and the instance type each one means, so a
template never names hardware the catalog does not know, and the header of every stamped
stack records template and parameters so it can be re-rendered byte for byte.
"""

from __future__ import annotations

import functools
import json
import math
import os
import re
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

import jinja2
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, model_validator
from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from gpufleet.catalog import Catalog, load_catalog
from gpufleet.catalog.storage import LustreDeployment
from gpufleet.documents import findings_from_validation
from gpufleet.errors import GpufleetError, UsageError
from gpufleet.findings import Finding, Location, closest_name, declare
from gpufleet.inputs import display_path, read_input
from gpufleet.model import FleetPlan, resolve
from gpufleet.stack.loader import load_stack_text
from gpufleet.stack.models import NAME_PATTERN, ServiceDemand
from gpufleet.stack.record import load_record, record_path, record_text
from gpufleet.yamltree import Locator, parse_yaml

SCHEMA_FILE = "template.yaml"
STACK_FILE = "stack.yaml.j2"
# Parameter groups and Jinja pieces several templates share (cluster and network, system pool, queues).
SHARED_DIR = "_shared"
SHARED_PARAMETERS = "parameters.yaml"
HEADER_TEMPLATE = "# template: "
HEADER_PARAMETERS = "# parameters:"
HEADER_INDENT = "#   "
ZONE_LETTERS = "abcdefgh"

UNKNOWN_PARAMETER = declare(
    "GF-TPL-001",
    "error",
    "A value for a parameter the template does not have.",
    "Run `gpufleet templates` for the template's parameters.",
)
BAD_PARAMETER = declare(
    "GF-TPL-002",
    "error",
    "A parameter value of the wrong type, outside its range or not one it allows.",
    "Give a value of the kind the message names.",
)
PARAMETERS_OUT_OF_ORDER = declare(
    "GF-TPL-003",
    "error",
    "A parameter exceeds the one it must not exceed (a minimum above its maximum).",
    "Lower the first or raise the second.",
)
PARAMETER_REQUIRED = declare(
    "GF-TPL-004",
    "error",
    "A parameter another parameter's value makes necessary is not given.",
    "Give the parameter, or change the value that needs it.",
)
BAD_ASSIGNMENT = declare("GF-TPL-005", "error", "A --set argument that is not KEY=VALUE.", "Write --set name=value.")


class TemplateError(GpufleetError):
    """A template that cannot be used as written (its schema or Jinja is broken): exit 1."""


class ParametersInvalid(UsageError):
    """The values given do not fit the template's parameters: a usage problem, exit 2."""

    def __init__(self, template: str, findings: Sequence[Finding]) -> None:
        lines = "\n".join(f"  {finding}" for finding in findings)
        super().__init__(f"parameters for template {template} do not fit (nothing written):\n{lines}")
        self.findings = tuple(findings)


# -- the parameter schema ---------------------------------------------------------------------


TextReading = Literal["yaml", "text", "list"]


class ParameterModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Parameter(ParameterModel):
    description: str = Field(min_length=1)
    # How a value given as text (--set) is read: as YAML (numbers, booleans, mappings), kept as
    # text (names, where `007` must stay `007`), or as a comma-separated list (or a YAML one).
    reads: ClassVar[TextReading] = "yaml"

    @property
    def expected(self) -> str:
        raise NotImplementedError

    def check(self, value: Any, catalog: Catalog) -> Any:
        """The value as the template sees it; ``ValueError`` when it does not fit."""
        raise NotImplementedError

    def from_text(self, text: str) -> Any:
        if self.reads == "text":
            return text
        if self.reads == "list" and not text.lstrip().startswith("["):
            return [item.strip() for item in text.split(",") if item.strip()]
        return _read_yaml_scalar(text)

    def check_catalog(self, catalog: Catalog) -> list[str]:
        """What in the schema itself names hardware the catalog does not have."""
        return []


class _RangeParameter(_Parameter):
    kinds: ClassVar[tuple[type[int] | type[float], ...]]
    words: ClassVar[str]
    minimum: float
    maximum: float

    @property
    def expected(self) -> str:
        return f"{self.words} from {self.minimum:g} to {self.maximum:g}"

    def check(self, value: Any, catalog: Catalog) -> Any:
        if isinstance(value, bool) or not isinstance(value, self.kinds) or not self.minimum <= value <= self.maximum:
            raise ValueError(self.expected)
        return value


class IntegerParameter(_RangeParameter):
    kinds: ClassVar[tuple[type[int] | type[float], ...]] = (int,)
    words: ClassVar[str] = "a whole number"
    type: Literal["integer"]
    default: int
    minimum: int
    maximum: int
    not_above: str | None = Field(default=None, description="Another integer parameter this one may not exceed.")


class NumberParameter(_RangeParameter):
    kinds: ClassVar[tuple[type[int] | type[float], ...]] = (int, float)
    words: ClassVar[str] = "a number"
    type: Literal["number"]
    default: float | None = Field(description="None leaves the value out of the stack (a price only the user knows).")
    required_when: dict[str, tuple[str, ...]] = Field(default={}, description="Parameter -> values that make this one necessary.")

    def check(self, value: Any, catalog: Catalog) -> Any:
        if value is None and self.default is None:
            return None
        return super().check(value, catalog)


class StringParameter(_Parameter):
    type: Literal["string"]
    pattern: str
    example: str
    default: str | None = Field(default=None, description="None leaves the value out of the stack.")
    required_when: dict[str, tuple[str, ...]] = Field(default={}, description="Parameter -> values that make this one necessary.")
    reads: ClassVar[TextReading] = "text"

    @property
    def expected(self) -> str:
        return f"text like '{self.example}' (matching {self.pattern})"

    def check(self, value: Any, catalog: Catalog) -> Any:
        if value is None and self.default is None:
            return None
        if not isinstance(value, str) or re.fullmatch(self.pattern, value) is None:
            raise ValueError(self.expected)
        return value

    @model_validator(mode="after")
    def _example_fits(self) -> StringParameter:
        if re.fullmatch(self.pattern, self.example) is None:
            raise ValueError(f"example '{self.example}' does not match pattern {self.pattern}")
        return self


class StringListParameter(_Parameter):
    type: Literal["string-list"]
    pattern: str
    example: str
    default: tuple[str, ...] = ()

    reads: ClassVar[TextReading] = "list"

    @property
    def expected(self) -> str:
        return f"a list of text like '{self.example}' (comma-separated after --set)"

    def check(self, value: Any, catalog: Catalog) -> Any:
        if not isinstance(value, list | tuple) or not all(isinstance(v, str) and re.fullmatch(self.pattern, v) for v in value):
            raise ValueError(self.expected)
        return list(value)


class BooleanParameter(_Parameter):
    type: Literal["boolean"]
    default: bool

    @property
    def expected(self) -> str:
        return "true or false"

    def check(self, value: Any, catalog: Catalog) -> Any:
        if not isinstance(value, bool):
            raise ValueError(self.expected)
        return value


class ChoiceParameter(_Parameter):
    type: Literal["choice"]
    choices: tuple[str, ...] = Field(min_length=1)
    default: str
    reads: ClassVar[TextReading] = "text"

    @property
    def expected(self) -> str:
        return "one of " + ", ".join(self.choices)

    def check(self, value: Any, catalog: Catalog) -> Any:
        if value not in self.choices:
            raise ValueError(self.expected)
        return value


class InstanceTypeParameter(ChoiceParameter):
    """A choice of catalog instance types (system pools: no GPU to choose by)."""

    type: Literal["instance-type"]  # type: ignore[assignment]

    def check_catalog(self, catalog: Catalog) -> list[str]:
        return [f"unknown instance type '{name}'" for name in self.choices if catalog.instance_type(name) is None]


@dataclass(frozen=True)
class GpuChoice:
    """A GPU as a template uses it: the catalog name, the instance type it means, a name part."""

    name: str
    instance_type: str
    gpus_per_node: int

    @property
    def slug(self) -> str:
        """Lowercase name without the memory size (``H200-141GB`` -> ``h200``), for pool names."""
        return re.sub(r"-\d+GB$", "", self.name).lower()

    def __str__(self) -> str:
        return self.name


class _GpuParameter(_Parameter):
    instances: dict[str, str] = Field(min_length=1, description="Allowed catalog GPU -> the instance type it means.")

    @property
    def expected(self) -> str:
        return "a GPU of " + ", ".join(self.instances)

    def check_catalog(self, catalog: Catalog) -> list[str]:
        problems = []
        for gpu, instance_name in self.instances.items():
            instance = catalog.instance_type(instance_name)
            carried = catalog.accelerator_of(instance) if instance else None
            named = catalog.accelerator(gpu)
            if named is None or named.name != gpu:
                problems.append(f"'{gpu}' is not a catalog GPU name")
            elif carried is None or carried.name != gpu:
                problems.append(f"instance type '{instance_name}' does not carry {gpu}")
        return problems

    def choose(self, value: Any, catalog: Catalog) -> GpuChoice:
        accelerator = catalog.accelerator(value) if isinstance(value, str) else None
        if accelerator is None or accelerator.name not in self.instances:
            raise ValueError(self.expected)
        instance_name = self.instances[accelerator.name]
        instance = catalog.instance_type(instance_name)
        return GpuChoice(accelerator.name, instance_name, instance.accelerator_count if instance else 0)


class GpuParameter(_GpuParameter):
    type: Literal["gpu"]
    default: str
    reads: ClassVar[TextReading] = "text"

    def check(self, value: Any, catalog: Catalog) -> Any:
        return self.choose(value, catalog)


class GpuListParameter(_GpuParameter):
    type: Literal["gpu-list"]
    default: tuple[str, ...]
    min_items: int = Field(default=0, ge=0)
    reads: ClassVar[TextReading] = "list"

    @property
    def expected(self) -> str:
        least = f"at least {self.min_items} " if self.min_items else ""
        return f"a list of {least}different GPUs of " + ", ".join(self.instances)

    def check(self, value: Any, catalog: Catalog) -> Any:
        if not isinstance(value, list | tuple):
            raise ValueError(self.expected)
        unknown = [
            item
            for item in value
            if not isinstance(item, str) or getattr(catalog.accelerator(item), "name", None) not in self.instances
        ]
        if unknown:
            raise ValueError(f"{self.expected} ({_shown(unknown[0])} is not one of them)")
        chosen = [self.choose(item, catalog) for item in value]
        if len(chosen) < self.min_items or len({gpu.name for gpu in chosen}) != len(chosen):
            raise ValueError(self.expected)
        return chosen


_SERVICES = TypeAdapter(tuple[ServiceDemand, ...])


class ServicesParameter(_Parameter):
    """Inference services to pack with MIG: the stack's own ``demand`` entries."""

    type: Literal["services"]
    default: tuple[ServiceDemand, ...] = Field(min_length=1)

    @property
    def expected(self) -> str:
        return "a list of services, each {name, memory_gib, replicas, optional compute_share}"

    def check(self, value: Any, catalog: Catalog) -> Any:
        try:
            services = _SERVICES.validate_python(value)
        except ValidationError:
            raise ValueError(self.expected) from None
        if not services or len({s.name for s in services}) != len(services):
            raise ValueError(self.expected + ", with distinct names")
        return list(_SERVICES.dump_python(services, exclude_none=True))


Parameter = Annotated[
    IntegerParameter
    | NumberParameter
    | StringParameter
    | StringListParameter
    | BooleanParameter
    | ChoiceParameter
    | InstanceTypeParameter
    | GpuParameter
    | GpuListParameter
    | ServicesParameter,
    Field(discriminator="type"),
]


ParameterName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")]
SharedGroups = TypeAdapter(dict[ParameterName, dict[ParameterName, Parameter]])


class TemplateSchema(ParameterModel):
    description: str = Field(min_length=1)
    uses: tuple[str, ...] = Field(default=(), description=f"Parameter groups from {SHARED_DIR}/{SHARED_PARAMETERS}.")
    defaults: dict[ParameterName, Any] = Field(default={}, description="This template's defaults for shared parameters.")
    parameters: dict[ParameterName, Parameter] = {}

    def merged(self, shared: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
        """The shared groups it uses, with its own defaults, then its own parameters."""
        merged: dict[str, Any] = {}
        for group in self.uses:
            if group not in shared:
                raise ValueError(f"uses unknown parameter group '{group}' (groups: {', '.join(shared) or 'none'})")
            merged.update(shared[group])
        for name, default in self.defaults.items():
            if name not in merged:
                raise ValueError(f"defaults name '{name}', which no group it uses has")
            merged[name] = merged[name].model_copy(update={"default": default})
        merged.update(self.parameters)
        for name, parameter in merged.items():
            referenced = [getattr(parameter, "not_above", None), *getattr(parameter, "required_when", {})]
            for other in filter(None, referenced):
                if other not in merged:
                    raise ValueError(f"parameter {name} refers to unknown parameter {other}")
        return merged


# -- values given for parameters --------------------------------------------------------------


@dataclass(frozen=True)
class Given:
    """A value for a parameter and where it was given: a values file position, or a --set
    whose text the parameter's type reads (``nodes=4`` is a number, ``name=007`` stays text)."""

    value: Any
    origin: str
    location: Location | None = None
    as_text: bool = False
    key_location: Location | None = None


def parse_assignments(assignments: Sequence[str]) -> tuple[dict[str, Given], list[Finding]]:
    """``--set key=value`` arguments, kept as text: the parameter's type decides how to read it."""
    given, problems = {}, []
    for assignment in assignments:
        key, sign, text = assignment.partition("=")
        if not sign or not key.strip():
            problems.append(BAD_ASSIGNMENT.finding((), f"--set {assignment!r}: expected KEY=VALUE, e.g. --set nodes=4"))
            continue
        given[key.strip()] = Given(text, f"--set {assignment}", as_text=True)
    return given, problems


def read_values_file(path: Path) -> dict[str, Given]:
    """A YAML mapping of parameter values, each remembering its line and column."""
    source = read_input(path, "values file")
    shown = source.shown
    root = parse_yaml(source.text, shown)
    if root is None:
        return {}
    if not isinstance(root, dict):
        raise UsageError(f"{shown}: a values file must be a YAML mapping of parameter: value")
    locator = Locator(shown, root)
    return {
        str(key): Given(_plain(value), shown, locator.location((key,)), key_location=locator.location((key,), at_key=True))
        for key, value in root.items()
    }


def _plain(value: Any) -> Any:
    """ruamel's round-trip containers and scalars as plain Python values."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, bool) or value is None:
        return value
    for kind in (int, float, str):
        if isinstance(value, kind):
            return kind(value)
    return value


def _read_yaml_scalar(text: str) -> Any:
    try:
        return _plain(YAML(typ="safe", pure=True).load(text))
    except YAMLError:  # not YAML at all: the parameter check reports the text as given
        return text


# -- templates --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rendered:
    """A stamped stack that resolved: the two files' text and the plan they make."""

    stack_text: str
    pulumi_text: str
    plan: FleetPlan


@dataclass(frozen=True)
class Template:
    name: str
    directory: Path
    schema: TemplateSchema
    parameters: dict[str, Any]

    @property
    def description(self) -> str:
        return self.schema.description

    @cached_property
    def _jinja(self) -> jinja2.Environment:
        environment = jinja2.Environment(
            loader=jinja2.FileSystemLoader([self.directory, self.directory.parent / SHARED_DIR]),
            undefined=jinja2.StrictUndefined,
            keep_trailing_newline=True,
            trim_blocks=True,
            lstrip_blocks=True,
            autoescape=False,
        )
        environment.filters["number"] = lambda value: f"{value:g}"
        environment.filters["flow"] = flow_yaml
        environment.globals["zone_names"] = zone_names
        return environment

    def values(self, given: Mapping[str, Given], catalog: Catalog) -> dict[str, Any]:
        """Every parameter's value (given or default), each checked; ``ParametersInvalid`` lists all problems."""
        problems = []
        for name, value in given.items():
            if name not in self.parameters:
                guess = closest_name(name, self.parameters)
                hint = f" (did you mean '{guess}'?)" if guess else f" (parameters: {', '.join(self.parameters)})"
                problems.append(
                    _at(
                        UNKNOWN_PARAMETER.finding((name,), f"template {self.name} has no parameter '{name}'{hint}"),
                        value,
                        at_key=True,
                    )
                )
        raw: dict[str, Any] = {}
        checked: dict[str, Any] = {}
        for name, parameter in self.parameters.items():
            supplied = given.get(name)
            value = parameter.default if supplied is None else supplied.value
            if supplied is not None and supplied.as_text:
                value = parameter.from_text(value)
            raw[name] = value
            try:
                checked[name] = parameter.check(value, catalog)
            except ValueError as reason:
                message = f"expected {reason}, got {_shown(value)}"
                problems.append(_at(BAD_PARAMETER.finding((name,), message), supplied))
        problems += self._relations(raw, checked, given)
        if problems:
            raise ParametersInvalid(self.name, problems)
        return checked

    def _relations(self, raw: dict[str, Any], checked: dict[str, Any], given: Mapping[str, Given]) -> list[Finding]:
        problems = []
        for name, parameter in self.parameters.items():
            ceiling = getattr(parameter, "not_above", None)
            if ceiling and name in checked and ceiling in checked and checked[name] > checked[ceiling]:
                message = f"{checked[name]} is above {ceiling} ({checked[ceiling]})"
                problems.append(_at(PARAMETERS_OUT_OF_ORDER.finding((name,), message), given.get(name) or given.get(ceiling)))
            for other, values in getattr(parameter, "required_when", {}).items():
                if raw.get(other) in values and name in checked and checked[name] is None:
                    message = f"needed when {other} is {raw[other]}: expected {parameter.expected}"
                    problems.append(_at(PARAMETER_REQUIRED.finding((name,), message), given.get(other)))
        return problems

    def render(self, stack: str, given: Mapping[str, Given], catalog: Catalog | None = None, root: Path = Path(".")) -> Rendered:
        """Check the values, render, and resolve the result as ``stacks/<stack>.yaml`` would be."""
        catalog = catalog or load_catalog()
        values = self.values(given, catalog)
        try:
            sizing = functools.partial(lustre_capacity_tib, catalog)
            body = self._jinja.get_template(STACK_FILE).render(stack=stack, lustre_capacity_tib=sizing, **values)
        except jinja2.TemplateError as exc:
            file, line = _template_position(exc, self.directory / STACK_FILE)
            raise TemplateError(
                f"{display_path(Path(file))}:{line}: template {self.name} does not render: {exc.message}"
            ) from None
        text = header(self.name, stack, {name: _as_data(value) for name, value in values.items()}) + body
        path = root / "stacks" / f"{stack}.yaml"
        # Stamped over an existing stack (--force), its subnets stay where its record put them.
        loaded = replace(load_stack_text(text, path, display_path(path)), record=load_record(path))
        plan = resolve(loaded, catalog)
        return Rendered(text, pulumi_stack_config(self.name, stack, plan), plan)


def _template_position(exc: jinja2.TemplateError, default: Path) -> tuple[str, int | str]:
    """Where in a template Jinja failed: syntax errors carry it, runtime errors only in the traceback
    (Jinja rewrites its frames to point at template lines)."""
    if isinstance(exc, jinja2.TemplateSyntaxError):
        return exc.filename or str(default), exc.lineno
    frames, traceback = [], exc.__traceback__
    while traceback is not None:
        if traceback.tb_frame.f_code.co_filename.endswith(".j2"):
            frames.append((traceback.tb_frame.f_code.co_filename, traceback.tb_lineno))
        traceback = traceback.tb_next
    return frames[-1] if frames else (str(default), "?")


def _at(finding: Finding, given: Given | None, at_key: bool = False) -> Finding:
    """Place a parameter problem where its value (or key) was given: a file position, or the --set."""
    if given is None:
        return finding
    location = given.key_location if at_key else given.location
    if location is not None:
        return finding.located(location)
    return Finding(finding.rule_id, finding.severity, finding.path, f"{finding.message} (from {given.origin})", finding.fix)


def _as_data(value: Any) -> Any:
    """A checked value as the header records it: GPUs by catalog name."""
    if isinstance(value, GpuChoice):
        return value.name
    if isinstance(value, list):
        return [_as_data(item) for item in value]
    return value


def _shown(value: Any) -> str:
    if isinstance(value, str):
        return f"'{value}'"
    return json.dumps(value, sort_keys=True, default=str)


def default_templates_dir() -> Path:
    """``templates/`` of the project in the working directory, else the ones shipped in the package."""
    here = Path("templates")
    if (here / "README.md").is_file() or any(here.glob(f"*/{SCHEMA_FILE}")):
        return here
    return Path(__file__).resolve().parent / "templates"


def template_names(directory: Path) -> list[str]:
    return sorted(entry.parent.name for entry in directory.glob(f"*/{SCHEMA_FILE}"))


def load_template(name: str, directory: Path | None = None, catalog: Catalog | None = None) -> Template:
    directory = directory or default_templates_dir()
    known = template_names(directory)
    if name not in known:
        guess = closest_name(name, known)
        hint = f"did you mean '{guess}'?" if guess else f"templates in {display_path(directory)}: {', '.join(known) or 'none'}"
        raise UsageError(f"unknown template '{name}' ({hint})")
    folder = directory / name
    schema = _read_schema(folder / SCHEMA_FILE, TemplateSchema)
    shared_path = directory / SHARED_DIR / SHARED_PARAMETERS
    shared = _read_schema(shared_path, SharedGroups) if shared_path.is_file() else {}
    try:
        parameters = schema.merged(shared)
    except ValueError as exc:
        raise TemplateError(f"template {name}: {display_path(folder / SCHEMA_FILE)} {exc}") from None
    template = Template(name, folder, schema, parameters)
    _check_defaults(template, catalog or load_catalog())
    return template


def _read_schema(path: Path, schema: Any) -> Any:
    """A template's (or the shared groups') schema file, its problems located in the file."""
    shown = display_path(path)
    root = parse_yaml(path.read_text(encoding="utf-8"), shown)
    validate = schema.validate_python if isinstance(schema, TypeAdapter) else schema.model_validate
    try:
        return validate(root)
    except ValidationError as exc:
        problems = Locator(shown, root).locate(findings_from_validation(exc, root))
        raise TemplateError(f"{shown} is not a valid template schema:\n" + "\n".join(f"  {p}" for p in problems)) from None


def _check_defaults(template: Template, catalog: Catalog) -> None:
    """A template whose own defaults or GPU lists do not fit is the template's bug, not the user's."""
    problems = []
    for name, parameter in template.parameters.items():
        problems += [f"{name}: {problem}" for problem in parameter.check_catalog(catalog)]
        try:
            parameter.check(parameter.default, catalog)
        except ValueError as reason:
            problems.append(f"{name}: default {_shown(parameter.default)} is not {reason}")
    if problems:
        raise TemplateError(f"template {template.name} has a broken {SCHEMA_FILE}:\n" + "\n".join(f"  {p}" for p in problems))


# -- what a template's Jinja may call -----------------------------------------------------------


def zone_names(region: str, count: int) -> list[str]:
    """A region's first ``count`` zones, the way AWS names them (``us-east-1a``, ``us-east-1b``)."""
    return [f"{region}{letter}" for letter in ZONE_LETTERS[:count]]


def lustre_capacity_tib(
    catalog: Catalog, deployment: LustreDeployment, per_unit_throughput: int, at_least_tib: float, throughput_mbs: float
) -> float:
    """The smallest FSx for Lustre size FSx accepts that holds the data and delivers the throughput.

    Throughput scales with size: the disks sustain ``per_unit_throughput`` MB/s per TiB (the
    figure a training set larger than the file servers' cache is read at, and the one
    ``gpufleet check`` judges), so a file system that must feed many GPUs can need more TiB
    than the data set itself.
    """
    lustre = catalog.storage.fsx_lustre
    facts = lustre.deployments[deployment]
    needed_gib = (
        max(at_least_tib, throughput_mbs / lustre.disk_throughput_mbs(1, per_unit_throughput)) * lustre.capacity_gib_per_tib
    )
    rule = facts.capacity_gib
    fitting = [gib for gib in sorted(rule.first) if gib >= needed_gib]
    gib = fitting[0] if fitting else math.ceil(needed_gib / rule.increment) * rule.increment
    return gib / lustre.capacity_gib_per_tib


# -- the stamped files --------------------------------------------------------------------------


def header(template: str, stack: str, values: Mapping[str, Any]) -> str:
    """The comment block that says which template and parameters made a stack."""
    lines = [
        f"# Made by `gpufleet new {template}` from the parameters below. Change them, not this file:",
        f"# gpufleet new {template} --stack {stack} --from stacks/{stack}.yaml --set KEY=VALUE --force",
        f"{HEADER_TEMPLATE}{template}",
        HEADER_PARAMETERS,
        *(f"{HEADER_INDENT}{name}: {flow_yaml(value)}" for name, value in sorted(values.items())),
    ]
    return "\n".join(lines) + "\n"


def read_header(text: str) -> tuple[str, dict[str, Any]]:
    """Template and parameters from a stamped stack's header (``ValueError`` if it has none)."""
    lines = text.splitlines()
    template = next((line.removeprefix(HEADER_TEMPLATE) for line in lines if line.startswith(HEADER_TEMPLATE)), None)
    if template is None or HEADER_PARAMETERS not in lines:
        raise ValueError("no gpufleet template header")
    start = lines.index(HEADER_PARAMETERS) + 1
    block = []
    for line in lines[start:]:
        if not line.startswith(HEADER_INDENT):
            break
        block.append(line.removeprefix(HEADER_INDENT))
    return template, _plain(YAML(typ="safe", pure=True).load("\n".join(block)) or {})


def header_values(text: str) -> tuple[str, dict[str, Given]]:
    """The header's parameters as values to render with again."""
    template, values = read_header(text)
    return template, {name: Given(value, "the stack's header") for name, value in values.items()}


def flow_yaml(value: Any) -> str:
    """A value on one line, as YAML reads it back unchanged."""
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{key}: {flow_yaml(item)}" for key, item in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(flow_yaml(item) for item in value) + "]"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, str):
        plain = re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._/-]*", value) and _read_yaml_scalar(value) == value
        return value if plain else json.dumps(value)
    return json.dumps(value)


def pulumi_stack_config(template: str, stack: str, plan: FleetPlan) -> str:
    lines = [
        f"# Made by `gpufleet new {template} --stack {stack}`; the region is stacks/{stack}.yaml's cluster.region.",
        "config:",
    ]
    if plan.cluster.region:
        lines.append(f"  aws:region: {plan.cluster.region}")
    else:
        lines[-1] += " {}"
    return "\n".join(lines) + "\n"


def write_all_or_nothing(files: Mapping[Path, str], force: bool) -> list[Path]:
    """Write every file or none: all are staged beside their targets, then swapped in.

    A failure part way restores the files already swapped, so a stack never ends up with a
    stack file from one run and a Pulumi config from another.
    """
    existing = [path for path in files if path.exists()]
    if existing and not force:
        shown = ", ".join(display_path(path) for path in existing)
        raise UsageError(f"{shown} already exist(s); pass --force to overwrite (nothing written)")
    staged: dict[Path, str] = {}
    previous = {path: path.read_bytes() for path in existing}
    swapped: list[Path] = []
    try:
        for path, text in files.items():
            path.parent.mkdir(parents=True, exist_ok=True)
            descriptor, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
            staged[path] = temp_name
            with os.fdopen(descriptor, "w", encoding="utf-8", newline="\n") as handle:
                handle.write(text)
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(temp_name, 0o644)
        for path, temp_name in staged.items():
            os.replace(temp_name, path)
            swapped.append(path)
    except BaseException as exc:  # a signal between two swaps must not leave a mixed pair either
        for path in swapped:
            if path in previous:
                path.write_bytes(previous[path])
            else:
                path.unlink(missing_ok=True)
        for temp_name in staged.values():
            Path(temp_name).unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise UsageError(
                f"cannot write {display_path(Path(exc.filename or '.'))}: {exc.strerror or exc} (nothing written)"
            ) from None
        raise
    return list(files)


def stamp(template: Template, stack: str, given: Mapping[str, Given], root: Path, force: bool) -> tuple[Rendered, list[Path]]:
    """Render, resolve and write ``stacks/<stack>.yaml`` and ``Pulumi.<stack>.yaml`` under ``root``."""
    if re.fullmatch(NAME_PATTERN, stack) is None:
        raise UsageError(
            f"--stack {stack!r}: use lowercase letters, digits and '-', starting with a letter (it names files and the Pulumi stack)"
        )
    rendered = template.render(stack, given, root=root)
    stack_file = root / "stacks" / f"{stack}.yaml"
    files = {stack_file: rendered.stack_text, root / f"Pulumi.{stack}.yaml": rendered.pulumi_text}
    if rendered.plan.network is not None:  # pulumi up finds the record current from the start
        files[record_path(stack_file)] = record_text(rendered.plan.network.record, stack_file.name)
    written = write_all_or_nothing(files, force)
    return rendered, written
