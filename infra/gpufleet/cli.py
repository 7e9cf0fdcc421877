"""The ``gpufleet`` command: one verb per module in ``gpufleet.commands``.

Exit codes are mapped in ``gpufleet.commands.handler`` and nowhere else. Heavy modules
(Pulumi, the preview) are imported inside the verbs that need them, so ``validate`` and
``mig`` start fast.
"""

from __future__ import annotations

from typing import Annotated

import typer

from gpufleet.commands import catalog, check, diff, mig, new, preview, rules, schema, templates, validate, verify
from gpufleet.commands.handler import guarded
from gpufleet.commands.help import Command, Group

app = typer.Typer(
    name="gpufleet",
    cls=Group,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
for verb in (validate, preview, check, rules, catalog, schema, templates, new, diff, verify):
    app.command(verb.NAME, cls=Command)(guarded(verb.command))
app.add_typer(mig.mig_app, name="mig")


def _print_version(asked: bool) -> None:
    if asked:
        from importlib.metadata import version

        typer.echo(f"gpufleet {version('gpufleet')}")
        raise typer.Exit()


@app.callback()
def root(
    version: Annotated[
        bool, typer.Option("--version", callback=_print_version, is_eager=True, help="Print gpufleet's version and exit.")
    ] = False,
) -> None:
    """Provision heterogeneous GPU clusters from typed stack specs.

    Example: gpufleet preview stacks/prod.yaml
    """


def main() -> None:
    app()


if __name__ == "__main__":
    main()
