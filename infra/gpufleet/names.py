"""The one rule for every name gpufleet puts into a URN, a file name, a record or a shell line,
and the strings that name things across layers: label keys, type tokens, URN parts.

A name is lowercase ASCII letters, digits and '-', starting with a letter and ending with a
letter or digit, at most 40 characters: it fits AWS resource names, Kubernetes DNS labels and
Pulumi stack names, and it cannot carry a newline, a quote, ``$(...)`` or Pulumi's URN
separators (``::``, ``$``). Stack names (``--stack``, a stack file's stem), pool, fabric,
tier and MIG plan names and the cluster name are all held to it.

Patterns here and everywhere in gpufleet are anchored at the very end of the text (pydantic's
Rust engine reads ``$`` so; Python's ``re`` needs ``fullmatch`` or ``\\Z``, since its ``$`` also
matches before a final newline) and use ASCII classes (``[0-9]``, not ``\\d``, which both
engines let match any Unicode digit).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cache
from pathlib import PurePath
from typing import Annotated

from pydantic import StringConstraints, TypeAdapter, ValidationError

NAME_PATTERN = r"^[a-z]([a-z0-9-]{0,38}[a-z0-9])?$"
NAME_RULE = "use lowercase letters, digits and '-', starting with a letter (at most 40)"
_NAME = re.compile(r"[a-z](?:[a-z0-9-]{0,38}[a-z0-9])?", re.ASCII)
STACK_SUFFIXES = (".yaml", ".yml")

# Labels gpufleet sets on the nodes it launches and on the objects it renders.
LABEL_PREFIX = "gpufleet.io/"
POOL_LABEL = f"{LABEL_PREFIX}pool"
WORKLOAD_LABEL = f"{LABEL_PREFIX}workload"
ACCELERATOR_LABEL = f"{LABEL_PREFIX}accelerator"
STORAGE_LABEL = f"{LABEL_PREFIX}storage"
FABRIC_LABEL = f"{LABEL_PREFIX}fabric"
# On the validation jobs ``gpufleet verify`` runs: which check, which job, which pod's log holds the result.
CHECK_LABEL = f"{LABEL_PREFIX}check"
JOB_LABEL = f"{LABEL_PREFIX}job"
ROLE_LABEL = f"{LABEL_PREFIX}role"

# Type tokens the outputs and the policy pack look resources up by.
NODE_POOL_TYPE = "gpufleet:aws:NodePool"
LAUNCH_TEMPLATE_TYPE = "aws:ec2/launchTemplate:LaunchTemplate"
NODE_GROUP_TYPE = "aws:eks/nodeGroup:NodeGroup"
RESOURCE_FLAVOR_TYPE = "kubernetes:kueue.x-k8s.io/v1beta2:ResourceFlavor"
CLUSTER_QUEUE_TYPE = "kubernetes:kueue.x-k8s.io/v1beta2:ClusterQueue"

# Pulumi URNs: urn:pulumi:<stack>::<project>::<parent type>$<type>::<name>
URN_SEPARATOR = "::"
TYPE_SEPARATOR = "$"


def is_name(text: object) -> bool:
    return isinstance(text, str) and _NAME.fullmatch(text) is not None


def stack_name_problem(path: str | PurePath) -> str | None:
    """Why a stack file's name cannot name a stack (its stem is the Pulumi stack and part of
    every URN and of the subnet record's name), or None when it can."""
    file_name = PurePath(path).name
    stem, dot, suffix = file_name.rpartition(".")
    if not dot or f".{suffix}" not in STACK_SUFFIXES:
        return f"a stack file's name ends in {' or '.join(STACK_SUFFIXES)}, got {_shown(file_name)}"
    if not is_name(stem):
        return (
            f"the file name {_shown(file_name)} names the stack (its Pulumi stack, every URN, its subnet record): "
            f"{NAME_RULE}, then .yaml"
        )
    return None


def urn_type(urn: str) -> str:
    """The resource's own type token (``aws:eks/nodeGroup:NodeGroup``), without its parents'."""
    parts = urn.split(URN_SEPARATOR)
    return parts[2].split(TYPE_SEPARATOR)[-1] if len(parts) >= 4 else ""


def urn_name(urn: str) -> str:
    return urn.split(URN_SEPARATOR)[-1]


@cache
def linear_matcher(pattern: str, *, whole: bool) -> Callable[[str], bool]:
    """A pattern from user input (a template, a policy config) run by pydantic's Rust engine:
    linear in the text, where Python's ``re`` takes exponential time on ``(a+)+$``. No
    look-around or back-references; ``pydantic_core.SchemaError`` says so when it is compiled."""
    adapter = TypeAdapter(Annotated[str, StringConstraints(pattern=f"^(?:{pattern})$" if whole else pattern)])

    def matches(text: str) -> bool:
        try:
            adapter.validate_python(text)
        except ValidationError:
            return False
        return True

    return matches


def _shown(text: str) -> str:
    return repr(text) if len(text) <= 60 else repr(text[:60]) + f" (cut, {len(text)} characters)"
