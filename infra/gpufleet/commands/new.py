"""``gpufleet new``: stamp ``stacks/NAME.yaml`` and ``Pulumi.NAME.yaml`` out of a template."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from gpufleet.commands.console import err, out
from gpufleet.commands.templates import TemplatesDir
from gpufleet.errors import UsageError
from gpufleet.inputs import display_path, read_input

NAME = "new"


def command(
    template_name: Annotated[str, typer.Argument(metavar="TEMPLATE", help="A template from `gpufleet templates`.")],
    stack: Annotated[str, typer.Option("--stack", help="Stack name: writes stacks/NAME.yaml and Pulumi.NAME.yaml.")],
    assignments: Annotated[list[str] | None, typer.Option("--set", help="KEY=VALUE for one parameter; repeatable.")] = None,
    values_file: Annotated[Path | None, typer.Option("--values", help="YAML file of parameter: value.")] = None,
    from_stack: Annotated[
        Path | None, typer.Option("--from", help="Start from the parameters in this stamped stack's header.")
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite existing files.")] = False,
    templates_dir: TemplatesDir = None,
) -> None:
    """Render a template into a stack, check it like any stack, and write it only if it resolves.

    Values from --from, then --values, then --set: later ones win.

    Example: gpufleet new llm-training --stack team --set nodes=8 --set gpu=B200
    """
    from gpufleet.outputs import interruptible

    with interruptible():  # SIGTERM stops the template's child process and leaves no file half-written
        _new(template_name, stack, assignments, values_file, from_stack, force, templates_dir)


def _new(
    template_name: str,
    stack: str,
    assignments: list[str] | None,
    values_file: Path | None,
    from_stack: Path | None,
    force: bool,
    templates_dir: Path | None,
) -> None:
    from gpufleet.stack import StackInvalid
    from gpufleet.templating import ParametersInvalid, load_template, parse_assignments, read_values_file, stamp

    template = load_template(template_name, templates_dir)
    given = {}
    if from_stack is not None:
        given.update(_header_of(from_stack, template.name))
    if values_file is not None:
        given.update(read_values_file(values_file))
    assigned, problems = parse_assignments(assignments or [])
    if problems:
        raise ParametersInvalid(template.name, problems)
    given.update(assigned)
    try:
        rendered, written = stamp(template, stack, given, Path("."), force)
    except StackInvalid:
        err.print(
            f"gpufleet: template {template.name} renders a stack that does not resolve with these parameters; nothing written:"
        )
        raise
    pools = rendered.plan.pools
    gpus = sum(pool.gpus_max for pool in pools)
    shown = [display_path(path) for path in written]
    files = f"{', '.join(shown[:-1])} and {shown[-1]}" if len(shown) > 1 else shown[0]
    out.print(f"wrote {files}: {len(pools)} pools, up to {gpus} accelerators")


def _header_of(path: Path, template: str) -> dict:
    from gpufleet.documents import as_written
    from gpufleet.templating import header_values

    source = read_input(path, "stamped stack")
    try:
        made_by, given = header_values(source.text, source.shown)
    except ValueError:
        raise UsageError(f"--from {source.shown}: no `# template:` header; it was not made by `gpufleet new`") from None
    if made_by != template:
        raise UsageError(f"--from {source.shown} was made from template {as_written(made_by)}, not {template}")
    return given
