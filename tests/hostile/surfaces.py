"""How each kind of hostile input reaches gpufleet: where its file goes and which command reads it.

A case is a file of ``tests/data/hostile/`` named ``<case>.<kind>.<ext>``; ``place`` puts its
text where the kind's command looks (a stamped stack for ``--from``, a template folder's
``template.yaml`` or ``stack.yaml.j2``, the ``Pulumi.dev.yaml`` or subnet record beside an
example stack) and ``command`` is what a user would run. ``shown`` is how gpufleet names the
file in its messages.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
TEMPLATES = REPO / "infra" / "gpufleet" / "templates"
# The one-parameter template a hostile stack.yaml.j2 is tried in, and the body a hostile
# template.yaml is tried with.
SCHEMA = "description: a template under test\nparameters:\n  nodes: {type: integer, minimum: 1, maximum: 4, default: 1, description: n}\n"
BODY = "cluster:\n  name: t\n"


@dataclass(frozen=True)
class Surface:
    target: str
    """Where the case's text goes, relative to the working folder."""
    command: Callable[[str, bytes], list[str]]
    """The command line for the case, given the file's name and text."""
    needs: Callable[[Path], None] = lambda folder: None
    """What else the working folder holds (an example stack, a template folder)."""


def _example(stack: str) -> Callable[[Path], None]:
    def copy(folder: Path) -> None:
        for suffix in (".yaml", ".subnets.lock"):
            shutil.copy(REPO / "stacks" / f"{stack}{suffix}", folder / f"{stack}{suffix}")

    return copy


def _template_folder(schema: str | None, body: str | None) -> Callable[[Path], None]:
    def make(folder: Path) -> None:
        template = folder / "templates" / "t"
        template.mkdir(parents=True)
        if schema is not None:
            (template / "template.yaml").write_text(schema, encoding="utf-8")
        if body is not None:
            (template / "stack.yaml.j2").write_text(body, encoding="utf-8")

    return make


NEW = ["new", "llm-training", "--stack", "t", "--templates", str(TEMPLATES)]
SURFACES: dict[str, Surface] = {
    "stack": Surface("{case}.yaml", lambda name, text: ["validate", name]),
    "demand": Surface("{case}.demand.yaml", lambda name, text: ["mig", "plan", "--gpu", "H100-80GB", "--demand", name]),
    "migparted": Surface("{case}.migparted.yaml", lambda name, text: ["mig", "check-config", name]),
    "header": Surface("{case}.header.yaml", lambda name, text: [*NEW, "--from", name]),
    "values": Surface("{case}.values.yaml", lambda name, text: [*NEW, "--values", name]),
    "schema": Surface(
        "templates/t/template.yaml",
        lambda name, text: ["new", "t", "--stack", "x", "--templates", "templates"],
        _template_folder(None, BODY),
    ),
    "template": Surface(
        "templates/t/stack.yaml.j2",
        lambda name, text: ["new", "t", "--stack", "x", "--templates", "templates"],
        _template_folder(SCHEMA, None),
    ),
    "pulumi": Surface("Pulumi.dev.yaml", lambda name, text: ["check", "dev.yaml", "--format", "sarif"], _example("dev")),
    "record": Surface(
        "prod.subnets.lock", lambda name, text: ["validate", "prod.yaml"], lambda folder: _copy_stack(folder, "prod")
    ),
    "set": Surface("{case}.set.txt", lambda name, text: [*NEW, "--set", text.decode("utf-8").removesuffix("\n")]),
    "policy": Surface("{case}.policy.json", lambda name, text: ["check", "dev.yaml", "--policy-config", name], _example("dev")),
}


def _copy_stack(folder: Path, stack: str) -> None:
    shutil.copy(REPO / "stacks" / f"{stack}.yaml", folder / f"{stack}.yaml")


def kind_of(name: str) -> str:
    return name.rsplit(".", 2)[1]


def case_of(name: str) -> str:
    return name.rsplit(".", 2)[0]


def place(name: str, text: bytes, folder: Path) -> tuple[list[str], str]:
    """Lay out the working folder for corpus file ``name``: (command line, the file as gpufleet shows it)."""
    surface = SURFACES[kind_of(name)]
    surface.needs(folder)
    target = surface.target.format(case=case_of(name))
    path = folder / target
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text)
    return surface.command(target, text), target


def place_special(kind: str, make: Callable[[Path], None], folder: Path) -> tuple[list[str], str]:
    """The same layout with ``make`` creating the input itself (a FIFO, a folder, a symlink loop)."""
    surface = SURFACES[kind]
    surface.needs(folder)
    target = surface.target.format(case="special")
    path = folder / target
    path.parent.mkdir(parents=True, exist_ok=True)
    make(path)
    return surface.command(target, b""), target
