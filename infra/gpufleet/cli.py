"""The ``gpufleet`` command: one verb per module in ``gpufleet.commands``.

Exit codes are mapped in ``gpufleet.commands.handler`` and nowhere else. Heavy modules
(Pulumi, the preview) are imported inside the verbs that need them, so ``validate`` and
``mig`` start fast.
"""

from __future__ import annotations

import typer

from gpufleet.commands import catalog, check, diff, mig, new, preview, rules, schema, templates, validate, verify
from gpufleet.commands.handler import guarded

app = typer.Typer(
    name="gpufleet",
    help="Provision heterogeneous GPU clusters from typed stack specs.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
for verb in (validate, preview, check, rules, catalog, schema, templates, new, diff, verify):
    app.command(verb.NAME)(guarded(verb.command))
app.add_typer(mig.mig_app, name="mig", help=mig.HELP)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
