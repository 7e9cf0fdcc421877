"""What the installed provider SDKs declare, read from their typed classes, to hold recorded inputs to.

A resource registered without its typed class (a generic ``pulumi.CustomResource`` with the
provider's type token) sends whatever keys and values it is given; nothing but this check
stops a misspelt key or a string where the provider wants a number from reaching a real
``pulumi up``. The declaration is the SDK's own: the ``@pulumi.input_type`` Args class of the
resource's typed class (each property's wire name and type, read with the helpers the SDK
serialises with) plus the constants the typed class sets itself (``apiVersion``, ``kind``,
a Helm release's ``compat``), and the resource options it adds (version, aliases).
"""

from __future__ import annotations

import collections.abc
import enum
import inspect
import json
import sys
import types
import typing
from dataclasses import dataclass
from typing import Any

import pulumi
from pulumi import _types
from pulumi.runtime.rpc import get_resource_module, get_resource_package

_PROVIDER_PREFIX = "pulumi:providers:"
# The SDK packages whose typed classes declare each type token's inputs.
SDK_PACKAGES = {"aws": "pulumi_aws", "kubernetes": "pulumi_kubernetes"}


@dataclass(frozen=True)
class Declared:
    """One type token as its typed class declares it."""

    token: str
    typed_class: type
    args: type
    constants: dict[str, Any]
    """Inputs the typed class sets itself, whatever it is given (wire name -> value)."""
    defaults: dict[str, Any]
    """Inputs the typed class sends when it is given none (wire name -> value)."""
    options: dict[str, Any]
    """Resource options the typed class adds to every registration (version, aliases, ...)."""

    @property
    def required(self) -> frozenset[str]:
        """Wire names of the Args parameters that have no default."""
        names = _types.input_type_py_to_pulumi_names(self.args)
        parameters = inspect.signature(self.args.__init__).parameters.values()
        return frozenset(names[p.name] for p in parameters if p.default is inspect.Parameter.empty and p.name in names)


def typed_class(token: str) -> type | None:
    """The typed class the installed SDK publishes for ``token``, or None (a CRD's kind, a component)."""
    package, _, rest = token.partition(":")
    if token.startswith(_PROVIDER_PREFIX):
        package = token.removeprefix(_PROVIDER_PREFIX)
        if package not in SDK_PACKAGES:
            return None
        _module(SDK_PACKAGES[package])
        found = get_resource_package(package, "")
        info = getattr(found, "pkg_info", None)
        return getattr(_module(info["fqn"]), info["class"]) if info else None
    if package not in SDK_PACKAGES:
        return None
    _module(SDK_PACKAGES[package])  # importing the package registers its resource modules
    module, _, _ = rest.rpartition(":")
    found = get_resource_module(package, module, "")
    info = getattr(found, "mod_info", None)
    if info is None or token not in info["classes"]:
        return None
    return getattr(_module(info["fqn"]), info["classes"][token])


def declared(token: str) -> Declared | None:
    cls = typed_class(token)
    if cls is None:
        return None
    args = _args_class(cls)
    names = _types.input_type_py_to_pulumi_names(args)
    props, opts = _probe(cls)
    set_anyway = {key: value for key, value in props.items() if value is not None}
    # Given a value of its own for each of those, a default gives way and a constant stays.
    parameters = inspect.signature(cls._internal_init).parameters
    given, _ = _probe(cls, **{key: f"given-{key}" for key in set_anyway if key in parameters})
    constants = {names.get(key, key): value for key, value in set_anyway.items() if given[key] == value}
    defaults = {names.get(key, key): value for key, value in set_anyway.items() if given[key] != value}
    options = {
        "version": opts.version,
        "plugin_download_url": opts.plugin_download_url,
        "aliases": [alias.type_ if isinstance(alias, pulumi.Alias) else alias for alias in opts.aliases or ()],
        "additional_secret_outputs": list(opts.additional_secret_outputs or ()),
        "replace_on_changes": list(opts.replace_on_changes or ()),
    }
    return Declared(token, cls, args, constants, defaults, options)


def problems(token: str, inputs: dict[str, Any]) -> list[str]:
    """Every way ``inputs`` (wire names, as the engine receives them) departs from ``token``'s declaration."""
    found = declared(token)
    if found is None:
        return [f"{token}: the installed SDKs publish no typed class for this type"]
    errors = [f"{token}: required input {key!r} is missing" for key in sorted(found.required - set(inputs))]
    for key, value in found.constants.items():
        if inputs.get(key) != value:
            errors.append(f"{token}: {key!r} must be {value!r}, as the typed class sets it; got {inputs.get(key)!r}")
    for key, value in found.defaults.items():
        if key not in inputs:
            errors.append(f"{token}: {key!r} is missing; given none, the typed class sends {value!r}")
    if token.startswith(_PROVIDER_PREFIX):
        inputs = _provider_settings(found.args, inputs)
    errors += _object_problems(found.args, inputs, token, exempt=set(found.constants))
    return errors


def _provider_settings(args: type, inputs: dict[str, Any]) -> dict[str, Any]:
    """A typed provider class sends each setting that is not a string JSON-encoded; decode those."""
    declared_types = _types.input_type_types(args)
    return {
        key: json.loads(value)
        if isinstance(value, str) and _types.unwrap_type(declared_types.get(key, str)) is not str
        else value
        for key, value in inputs.items()
    }


def _object_problems(args: type, value: Any, path: str, exempt: set[str] = frozenset()) -> list[str]:
    if not isinstance(value, dict):
        return [f"{path}: expected an object ({args.__name__}), got {type(value).__name__}"]
    declared_types = _types.input_type_types(args)
    errors = []
    for key, item in sorted(value.items()):
        if key in exempt:
            continue
        if key not in declared_types:
            close = [name for name in declared_types if name.lower() == key.lower()]
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            errors.append(f"{path}.{key}: not an input of {args.__name__}{hint}")
            continue
        errors += _value_problems(declared_types[key], item, f"{path}.{key}")
    return errors


def _value_problems(declared_type: Any, value: Any, path: str) -> list[str]:
    typ = _types.unwrap_type(declared_type)
    origin = typing.get_origin(typ)
    if typ is Any or typ is object:
        return []
    if isinstance(typ, type) and _types.is_input_type(typ):
        return _object_problems(typ, value, path)
    if origin in (typing.Union, types.UnionType):
        members = [member for member in typing.get_args(typ) if member is not type(None)]
        attempts = [_value_problems(member, value, path) for member in members]
        if any(not attempt for attempt in attempts):
            return []
        return min(attempts, key=len)
    if origin is typing.Literal:
        allowed = typing.get_args(typ)
        return [] if value in allowed else [f"{path}: expected one of {list(allowed)}, got {value!r}"]
    if origin in (list, collections.abc.Sequence):
        if not isinstance(value, list):
            return [f"{path}: expected a list, got {type(value).__name__}"]
        (item_type,) = typing.get_args(typ) or (Any,)
        return [error for index, item in enumerate(value) for error in _value_problems(item_type, item, f"{path}[{index}]")]
    if origin in (dict, collections.abc.Mapping):
        if not isinstance(value, dict):
            return [f"{path}: expected a map, got {type(value).__name__}"]
        _key_type, item_type = typing.get_args(typ) or (str, Any)
        errors = [f"{path}: map key {key!r} is not a string" for key in value if not isinstance(key, str)]
        return errors + [
            error for key, item in sorted(value.items()) for error in _value_problems(item_type, item, f"{path}[{key!r}]")
        ]
    if isinstance(typ, type) and issubclass(typ, enum.Enum):
        allowed = [member.value for member in typ]
        return [] if value in allowed else [f"{path}: expected one of {allowed}, got {value!r}"]
    if typ is bool:
        return [] if isinstance(value, bool) else [f"{path}: expected a boolean, got {value!r}"]
    if typ is int:
        return [] if isinstance(value, int) and not isinstance(value, bool) else [f"{path}: expected an integer, got {value!r}"]
    if typ is float:
        return (
            []
            if isinstance(value, (int, float)) and not isinstance(value, bool)
            else [f"{path}: expected a number, got {value!r}"]
        )
    if typ is str:
        return [] if isinstance(value, str) else [f"{path}: expected a string, got {value!r}"]
    return [f"{path}: the check does not know the declared type {typ!r}"]


def _args_class(cls: type) -> type:
    """The one ``@pulumi.input_type`` class beside the typed class in its module (``XArgs``, ``XInitArgs``)."""
    module = sys.modules[cls.__module__]
    candidates = [
        getattr(module, name)
        for name in getattr(module, "__all__", ())
        if name != cls.__name__ and isinstance(getattr(module, name), type) and _types.is_input_type(getattr(module, name))
    ]
    assert len(candidates) == 1, f"{cls.__module__}: expected one Args class beside {cls.__name__}, found {candidates}"
    return candidates[0]


def _probe(cls: type, **given: Any) -> tuple[dict[str, Any], pulumi.ResourceOptions]:
    """What the typed class hands the SDK when given only ``given``: its own constants, defaults and options.

    ``opts.urn`` lets the generated code skip its required-argument checks; the base class's
    constructor is replaced for the call, so nothing is registered.
    """
    captured: dict[str, Any] = {}

    def capture(self, t, name, props=None, opts=None, *args, **kwargs):
        captured["props"], captured["opts"] = props, opts

    base = pulumi.ProviderResource if issubclass(cls, pulumi.ProviderResource) else pulumi.CustomResource
    original = base.__init__
    base.__init__ = capture
    try:
        cls("probe", opts=pulumi.ResourceOptions(urn="urn:pulumi:probe::probe::probe::probe"), **given)
    finally:
        base.__init__ = original
    props = captured["props"]
    values = props.__dict__ if not isinstance(props, dict) else props
    return dict(values.items()), captured["opts"]


def _module(name: str) -> types.ModuleType:
    __import__(name)
    return sys.modules[name]
