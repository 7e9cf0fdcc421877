"""The one YAML writer: libyaml's emitter, set to quote every string a reader could take for
something else.

Everything gpufleet writes as YAML goes through here: Kubernetes manifests and Helm values,
mig-parted configs, the subnet record, a stamped stack's header values and its
``Pulumi.<stack>.yaml``. PyYAML's
resolver is YAML 1.1's, so ``on`` or ``12:30`` come out quoted; the go-yaml forks kubectl reads
through (sigs.k8s.io/yaml) and gpufleet's own reader (YAML 1.2's core schema) also take
1.2-style numbers (``1e3``, ``-.5``, ``0o17``), so those are quoted too: a label value ``1e3``
stays a string for every reader. The same values always give the same bytes.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import yaml
from yaml.representer import SafeRepresenter

# What a plain string must look like to be written bare in a one-line (flow) value; anything
# else is double-quoted, which every YAML reader takes as text.
_BARE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/-]*\Z")
_STR = "tag:yaml.org,2002:str"


class Quoted(str):
    """Text written in double quotes whatever it holds (mig-parted's profile names and PCI ids,
    as mig-parted's own examples write them)."""


class Flow(tuple[Any, ...]):
    """A list written on one line (``devices: [0, 1]``)."""


class _Dumper(yaml.CSafeDumper):
    """libyaml's emitter (ten times ruamel's pure one) with the extra implicit types below."""


class _DocumentDumper(yaml.SafeDumper):
    """PyYAML's own emitter, for the few small files whose lists sit indented under their key
    (mig-parted's layout); libyaml's emitter always writes them level with it."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)


def _block_strings(dumper: SafeRepresenter, text: str) -> yaml.ScalarNode:
    """Multi-line text (a ConfigMap's config file) stays readable as a literal block."""
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style="|" if "\n" in text else None)


def _quoted(dumper: SafeRepresenter, text: str) -> yaml.ScalarNode:
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style='"')


def _flow(dumper: SafeRepresenter, items: Sequence[Any]) -> yaml.SequenceNode:
    return dumper.represent_sequence("tag:yaml.org,2002:seq", items, flow_style=True)


for _kind in (_Dumper, _DocumentDumper):
    # Only what YAML 1.1's own float and int patterns (PyYAML's) miss: an exponent without a
    # dot, a leading dot, the 0o octal prefix.
    _kind.add_implicit_resolver(
        "tag:yaml.org,2002:float",
        re.compile(r"^[-+]?(\.[0-9]+|[0-9][0-9_]*(\.[0-9_]*)?)([eE][-+]?[0-9]+)?\Z"),
        list("-+.0123456789"),
    )
    _kind.add_implicit_resolver("tag:yaml.org,2002:int", re.compile(r"^[-+]?0o[0-7_]+\Z"), list("-+0"))
    _kind.add_representer(str, _block_strings)
    _kind.add_representer(Quoted, _quoted)
    _kind.add_representer(Flow, _flow)


class _RecordDumper(_Dumper):
    """Block mappings, with lists of plain values on one line (``zones: [a, b]``)."""


def _flow_lists(dumper: _RecordDumper, items: Sequence[Any]) -> yaml.SequenceNode:
    return dumper.represent_sequence("tag:yaml.org,2002:seq", items, flow_style=True)


_RecordDumper.add_representer(list, _flow_lists)
_RecordDumper.add_representer(tuple, _flow_lists)


class _FlowDumper(_Dumper):
    """One line: bare words where they are unambiguous, double quotes for any other text, and
    whole numbers written as such (``48``, not ``48.0``)."""


def _flow_string(dumper: _FlowDumper, text: str) -> yaml.ScalarNode:
    """Bare only when both YAML 1.1 (``yes``) and 1.2 (``1e3``) readers take the word for text."""
    bare = _BARE.match(text) is not None and _reads_as_text(text) and dumper.resolve(yaml.ScalarNode, text, (True, False)) == _STR
    return dumper.represent_scalar(_STR, text, style=None if bare else '"')


def _flow_float(dumper: _FlowDumper, number: float) -> yaml.ScalarNode:
    if number.is_integer():
        return dumper.represent_int(int(number))
    return dumper.represent_float(number)


_FlowDumper.add_representer(str, _flow_string)
_FlowDumper.add_representer(float, _flow_float)
_FlowDumper.add_representer(tuple, yaml.SafeDumper.represent_list)


def _reads_as_text(text: str) -> bool:
    """A bare word YAML 1.2's core schema (gpufleet's reader) would also read as this text."""
    from gpufleet.yamltree import parse_plain

    return bool(parse_plain(text, "") == text)


def dump(document: Any) -> str:
    """A document in block style, keys sorted at every level, text as written (manifests, values)."""
    return yaml.dump(document, Dumper=_Dumper, default_flow_style=False, sort_keys=True, allow_unicode=True)


def dump_document(document: dict[str, Any]) -> str:
    """A document in block style, in the order given, lists indented under their key."""
    return yaml.dump(
        document, Dumper=_DocumentDumper, default_flow_style=False, sort_keys=False, allow_unicode=True, width=2**31 - 1
    )


def dump_record(document: dict[str, Any]) -> str:
    """A small document kept in git: block mappings in the order given, lists on one line."""
    return yaml.dump(document, Dumper=_RecordDumper, default_flow_style=False, sort_keys=False, allow_unicode=True)


def dump_flow(value: Any) -> str:
    """A value on one line (a header comment's parameter), as gpufleet's reader reads it back."""
    text = yaml.dump(value, Dumper=_FlowDumper, default_flow_style=True, sort_keys=False, width=2**31 - 1, allow_unicode=False)
    return text.removesuffix("\n...\n").removesuffix("\n")
