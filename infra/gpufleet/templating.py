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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

import jinja2
import jinja2.sandbox
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, model_validator
from pydantic_core import SchemaError

from gpufleet.bounded import Limits, WorkFailed, run_bounded
from gpufleet.catalog import Catalog, load_catalog
from gpufleet.catalog.storage import LustreDeployment
from gpufleet.documents import as_written, excerpt, findings_from_validation
from gpufleet.errors import GpufleetError, UsageError
from gpufleet.findings import Finding, Location, closest_name, declare
from gpufleet.inputs import MAX_FILE_BYTES, InputInvalid, display_path, read_input
from gpufleet.model import FleetPlan, resolve
from gpufleet.names import NAME_RULE, is_name, linear_matcher
from gpufleet.outputs import commit
from gpufleet.stack.loader import load_stack_text
from gpufleet.stack.models import ServiceDemand
from gpufleet.stack.record import load_record, record_path, record_text
from gpufleet.yamldump import dump_flow, dump_record
from gpufleet.yamltree import Locator, MapNode, SeqNode, parse_yaml, plain

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
NOT_PARAMETERS = declare(
    "GF-TPL-006",
    "error",
    "A values file or a stamped stack's header that is not a mapping of parameter: value.",
    "Write one `name: value` line per parameter.",
)

# A template renders in a child process with these ceilings (ours take a few milliseconds and
# a few MiB); what it renders must be a stack gpufleet can read back, so at most MAX_FILE_BYTES.
RENDER_LIMITS = Limits(cpu_seconds=5, memory_mib=512, wall_seconds=15, output_bytes=MAX_FILE_BYTES)


class TemplateError(GpufleetError):
    """A template that cannot be used as written (its schema or Jinja is broken): exit 1."""


class TemplateInputInvalid(InputInvalid):
    """A values file, a stamped header or a --set value that is not readable YAML: exit 2."""

    exit_code = 2


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
        return read_value(text)

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
        if not _matches(self.pattern, value):
            raise ValueError(self.expected)
        return value

    @model_validator(mode="after")
    def _example_fits(self) -> StringParameter:
        _check_pattern(self.pattern, self.example)
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
        if not isinstance(value, list | tuple) or not all(_matches(self.pattern, v) for v in value):
            raise ValueError(self.expected)
        return list(value)

    @model_validator(mode="after")
    def _example_fits(self) -> StringListParameter:
        _check_pattern(self.pattern, self.example)
        return self


def _matches(pattern: str, value: Any) -> bool:
    """A template's pattern against the whole value, in linear time (a third-party template's
    ``(a+)+$`` cannot stall ``--set``)."""
    return isinstance(value, str) and linear_matcher(pattern, whole=True)(value)


def _check_pattern(pattern: str, example: str) -> None:
    try:
        linear_matcher(pattern, whole=True)
    except SchemaError as error:
        reason = str(error).strip().splitlines()[-1]
        raise ValueError(f"pattern {excerpt(pattern)} is not a regular expression gpufleet reads: {reason}") from None
    if not _matches(pattern, example):
        raise ValueError(f"example {excerpt(example)} does not match pattern {excerpt(pattern)}")


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


ParameterName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)]
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
            problems.append(BAD_ASSIGNMENT.finding((), f"--set {excerpt(assignment)}: expected KEY=VALUE, e.g. --set nodes=4"))
            continue
        given[key.strip()] = Given(text, f"--set {as_written(assignment)}", as_text=True)
    return given, problems


def read_values_file(path: Path) -> dict[str, Given]:
    """A YAML mapping of parameter values, each remembering its line and column: the same
    reader, parser and scalar rules as a stack file (``1_000`` is text in both)."""
    source = read_input(path, "values file")
    return _given_from(parse_yaml(source.text, source.shown, TemplateInputInvalid), source.shown, "a values file")


def read_value(text: str) -> Any:
    """A --set value read as YAML by the same parser and scalar rules as every file.

    ``TemplateInputInvalid`` when it is not YAML (a syntax error, aliases that expand past the
    reader's bounds, a line past its length); the caller reports that against the parameter.
    """
    return plain(parse_yaml(text, "--set", TemplateInputInvalid))


def _given_from(root: Any, shown: str, what: str) -> dict[str, Given]:
    if root is None:
        return {}
    if not isinstance(root, MapNode):
        at = Location(shown, *(_first_position(root)))
        raise TemplateInputInvalid([NOT_PARAMETERS.finding((), f"{what} must be a mapping of parameter: value").located(at)])
    locator = Locator(shown, root)
    return {
        str(key): Given(plain(value), shown, locator.location((key,)), key_location=locator.location((key,), at_key=True))
        for key, value in root.items()
    }


def _first_position(root: Any) -> tuple[int, int]:
    line, column = root.at if isinstance(root, MapNode | SeqNode) else (0, 0)
    return line + 1, column + 1


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
        """Jinja's immutable sandbox: a template reaches no attribute that starts with ``_``
        (so not ``__globals__``, ``__subclasses__``, ``os``) and changes no value it is given."""
        environment = jinja2.sandbox.ImmutableSandboxedEnvironment(
            loader=_TemplateFiles([self.directory, self.directory.parent / SHARED_DIR], self.directory.parent),
            undefined=jinja2.StrictUndefined,
            keep_trailing_newline=True,
            trim_blocks=True,
            lstrip_blocks=True,
            autoescape=False,
        )
        environment.filters["number"] = lambda value: f"{value:g}"
        environment.filters["flow"] = dump_flow
        environment.globals["zone_names"] = zone_names
        return environment

    def _render_body(self, stack: str, values: Mapping[str, Any], catalog: Catalog) -> str:
        """The stack body as the template renders it; every failure a ``TemplateError`` at its line."""
        try:
            sizing = functools.partial(lustre_capacity_tib, catalog)
            return self._jinja.get_template(STACK_FILE).render(stack=stack, lustre_capacity_tib=sizing, **values)
        except GpufleetError:  # a template file gpufleet cannot read: its own message and exit code
            raise
        except jinja2.TemplateNotFound as exc:
            file, line = _template_position(exc, self.directory / STACK_FILE)
            raise TemplateError(
                f"{display_path(Path(file))}:{line}: template {self.name} does not render: no template file {excerpt(exc.name)} "
                f"in {self.name}/ or {SHARED_DIR}/ (names never lead above them)"
            ) from None
        except jinja2.TemplateError as exc:
            file, line = _template_position(exc, self.directory / STACK_FILE)
            raise TemplateError(
                f"{display_path(Path(file))}:{line}: template {self.name} does not render: {exc.message}"
            ) from None
        except (MemoryError, RecursionError):
            raise
        except Exception as exc:  # the template's own runtime error (1/0, a bad call): located, never a traceback
            file, line = _template_position(exc, self.directory / STACK_FILE)
            raise TemplateError(
                f"{display_path(Path(file))}:{line}: template {self.name} does not render: {type(exc).__name__}: {excerpt(str(exc))}"
            ) from None

    def values(self, given: Mapping[str, Given], catalog: Catalog) -> dict[str, Any]:
        """Every parameter's value (given or default), each checked; ``ParametersInvalid`` lists all problems."""
        problems = []
        for name, value in given.items():
            if name not in self.parameters:
                cut = name[:60]  # a name is never longer; a hostile one is only quoted in part
                guess = closest_name(cut, self.parameters)
                hint = f" (did you mean '{guess}'?)" if guess else f" (parameters: {', '.join(self.parameters)})"
                problems.append(
                    _at(
                        UNKNOWN_PARAMETER.finding((cut,), f"template {self.name} has no parameter {excerpt(name)}{hint}"),
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
                try:
                    value = parameter.from_text(value)
                except TemplateInputInvalid as unreadable:
                    reason = unreadable.findings[0]
                    message = f"cannot read the value as YAML (at its {reason.line}:{reason.column}): {reason.message}"
                    problems.append(_at(BAD_PARAMETER.finding((name,), message), supplied))
                    continue
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
            body = run_bounded(lambda: self._render_body(stack, values, catalog), RENDER_LIMITS, f"template {self.name}")
        except WorkFailed as failed:
            error = TemplateError(str(failed))
            error.exit_code = failed.exit_code
            raise error from None
        text = header(self.name, stack, {name: _as_data(value) for name, value in values.items()}) + body
        path = root / "stacks" / f"{stack}.yaml"
        # Stamped over an existing stack (--force), its subnets stay where its record put them.
        loaded = replace(load_stack_text(text, path, display_path(path)), record=load_record(path))
        plan = resolve(loaded, catalog)
        return Rendered(text, pulumi_stack_config(self.name, stack, plan), plan)


def _template_position(exc: BaseException, default: Path) -> tuple[str, int | str]:
    """Where in a template Jinja failed: syntax errors carry it, runtime errors only in the traceback
    (Jinja rewrites its frames to point at template lines, named by the files it loaded)."""
    if isinstance(exc, jinja2.TemplateSyntaxError):
        return exc.filename or str(default), exc.lineno
    frames, traceback = [], exc.__traceback__
    while traceback is not None:
        if traceback.tb_frame.f_code.co_filename in _TemplateFiles.loaded:
            frames.append((traceback.tb_frame.f_code.co_filename, traceback.tb_lineno))
        traceback = traceback.tb_next
    return frames[-1] if frames else (str(default), "?")


class _TemplateFiles(jinja2.BaseLoader):
    """Template files read like every other input (regular files of at most 1 MiB, UTF-8, never
    a FIFO that would block), and only from inside the templates folder: a symbolic link out of
    it would copy a file the template's author cannot see (``~/.aws/credentials``) into the stack."""

    loaded: ClassVar[set[str]] = set()

    def __init__(self, folders: Sequence[Path], root: Path) -> None:
        self.folders = list(folders)
        self.root = os.path.realpath(root)

    def get_source(self, environment: jinja2.Environment, template: str) -> tuple[str, str, Any]:
        pieces = jinja2.loaders.split_template_path(template)  # refuses '..'
        for folder in self.folders:
            path = folder.joinpath(*pieces)
            if not os.path.lexists(path):
                continue
            if os.path.commonpath([self.root, os.path.realpath(path)]) != self.root:
                raise TemplateError(f"{display_path(path)} leads outside the templates folder {display_path(Path(self.root))}")
            source = read_input(path, "template file")
            self.loaded.add(str(path))
            return source.text, str(path), lambda: True
        raise jinja2.TemplateNotFound(template)


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
    """A value as a message quotes it: at most ``excerpt``'s 60 characters of it."""
    if isinstance(value, str):
        return excerpt(value)
    shown = json.dumps(value, sort_keys=True, default=str)
    return shown if len(shown) <= 60 else shown[:60] + f"... (cut, {len(shown)} characters)"


def default_templates_dir() -> Path:
    """``templates/`` of the project in the working directory, else the ones shipped in the package."""
    here = Path("templates")
    if (here / "README.md").is_file() or any(here.glob(f"*/{SCHEMA_FILE}")):
        return here
    return Path(__file__).resolve().parent / "templates"


def template_names(directory: Path) -> list[str]:
    """Folders holding a schema file, whatever it is: one gpufleet cannot read is refused by name, not skipped."""
    if not directory.is_dir():
        return []
    return sorted(entry.name for entry in directory.iterdir() if entry.is_dir() and os.path.lexists(entry / SCHEMA_FILE))


def load_template(name: str, directory: Path | None = None, catalog: Catalog | None = None) -> Template:
    directory = directory or default_templates_dir()
    known = template_names(directory)
    if name not in known:
        guess = closest_name(name[:60], known)
        hint = f"did you mean '{guess}'?" if guess else f"templates in {display_path(directory)}: {', '.join(known) or 'none'}"
        raise UsageError(f"unknown template {excerpt(name)} ({hint})")
    if not is_name(name):  # it is written into the stamped stack's header and its Pulumi config
        raise UsageError(f"template folder {excerpt(name)} cannot name a template: {NAME_RULE}")
    folder = directory / name
    schema = _read_schema(folder / SCHEMA_FILE, TemplateSchema)
    shared_path = directory / SHARED_DIR / SHARED_PARAMETERS
    shared = _read_schema(shared_path, SharedGroups) if os.path.lexists(shared_path) else {}
    try:
        parameters = schema.merged(shared)
    except ValueError as exc:
        raise TemplateError(f"template {name}: {display_path(folder / SCHEMA_FILE)} {exc}") from None
    template = Template(name, folder, schema, parameters)
    _check_defaults(template, catalog or load_catalog())
    return template


def _read_schema(path: Path, schema: Any) -> Any:
    """A template's (or the shared groups') schema file, read by the one reader, its problems located in the file."""
    source = read_input(path, "template schema")
    shown = source.shown
    try:
        root = parse_yaml(source.text, shown)
    except InputInvalid as invalid:
        raise TemplateError(
            f"{shown} is not a valid template schema:\n" + "\n".join(f"  {p}" for p in invalid.findings)
        ) from None
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
        *(f"{HEADER_INDENT}{name}: {dump_flow(value)}" for name, value in sorted(values.items())),
    ]
    return "\n".join(lines) + "\n"


def read_header(text: str, shown: str = "the stack's header") -> tuple[str, dict[str, Any]]:
    """Template and parameters from a stamped stack's header (``ValueError`` if it has none)."""
    template, given = header_values(text, shown)
    return template, {name: value.value for name, value in given.items()}


def header_values(text: str, shown: str = "the stack's header") -> tuple[str, dict[str, Given]]:
    """The header's parameters as values to render with again, each at its line and column.

    The comment block is parsed as the YAML it holds by the one reader, with the file's other
    lines blanked and the ``#`` turned into a space, so every position is the file's own;
    ``TemplateInputInvalid`` (exit 2) when it is not a mapping of readable YAML values.
    """
    lines = text.split("\n")
    template = next((line.removeprefix(HEADER_TEMPLATE) for line in lines if line.startswith(HEADER_TEMPLATE)), None)
    if template is None or HEADER_PARAMETERS not in lines:
        raise ValueError("no gpufleet template header")
    start = lines.index(HEADER_PARAMETERS) + 1
    end = start
    while end < len(lines) and lines[end].startswith(HEADER_INDENT):
        end += 1
    blank = " " * len(HEADER_INDENT)
    block = "\n" * start + "\n".join(blank + line[len(HEADER_INDENT) :] for line in lines[start:end])
    return template, _given_from(parse_yaml(block, shown, TemplateInputInvalid), shown, "the header's parameters")


def pulumi_stack_config(template: str, stack: str, plan: FleetPlan) -> str:
    made_by = f"# Made by `gpufleet new {template} --stack {stack}`; the region is stacks/{stack}.yaml's cluster.region.\n"
    return made_by + dump_record({"config": {"aws:region": plan.cluster.region} if plan.cluster.region else {}})


def write_all_or_nothing(files: Mapping[Path, str], force: bool) -> list[Path]:
    """Write every file or none (``outputs.commit``): a stack never ends up with a stack file
    from one run and a Pulumi config or a record from another."""
    existing = [path for path in files if os.path.lexists(path)]
    if existing and not force:
        shown = ", ".join(display_path(path) for path in existing)
        raise UsageError(f"{shown} already exist(s); pass --force to overwrite (nothing written)")
    commit(files=files)
    return list(files)


def stamp(template: Template, stack: str, given: Mapping[str, Given], root: Path, force: bool) -> tuple[Rendered, list[Path]]:
    """Render, resolve and write ``stacks/<stack>.yaml`` and ``Pulumi.<stack>.yaml`` under ``root``."""
    if not is_name(stack):
        raise UsageError(f"--stack {excerpt(stack)}: {NAME_RULE} (it names files and the Pulumi stack)")
    rendered = template.render(stack, given, root=root)
    stack_file = root / "stacks" / f"{stack}.yaml"
    files = {stack_file: rendered.stack_text, root / f"Pulumi.{stack}.yaml": rendered.pulumi_text}
    if rendered.plan.network is not None:  # pulumi up finds the record current from the start
        files[record_path(stack_file)] = record_text(rendered.plan.network.record, stack_file.name)
    written = write_all_or_nothing(files, force)
    return rendered, written
