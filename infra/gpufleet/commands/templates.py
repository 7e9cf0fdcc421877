"""``gpufleet templates``: the stack templates, their parameters and defaults."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from gpufleet.commands.console import JsonFlag, new_table, out, print_json

if TYPE_CHECKING:  # templating brings in Jinja; only this verb and `new` need it
    from rich.table import Table

    from gpufleet.templating import Template

NAME = "templates"

TemplatesDir = Annotated[
    Path | None, typer.Option("--templates", help="Folder of templates (default: ./templates, else the ones gpufleet ships).")
]


def template_row(template: Template) -> dict[str, Any]:
    return {
        "template": template.name,
        "description": template.description,
        "parameters": [
            {"name": name, **parameter.model_dump(mode="json", exclude_none=True)}
            for name, parameter in template.parameters.items()
        ],
    }


def _table(row: dict[str, Any]) -> Table:
    from gpufleet.yamldump import dump_flow

    table = new_table(title=f"{row['template']}: {row['description']}", title_justify="left")
    for column in ("parameter", "type", "default", "allowed", "description"):
        table.add_column(column)
    for parameter in row["parameters"]:
        allowed = parameter.get("choices") or list(parameter.get("instances", {}))
        if "minimum" in parameter:
            allowed = [f"{parameter['minimum']}-{parameter['maximum']}"]
        elif "pattern" in parameter:
            allowed = [f"like {parameter['example']}"]
        default = dump_flow(parameter["default"]) if parameter.get("default") is not None else "-"
        table.add_row(parameter["name"], parameter["type"], default, ", ".join(map(str, allowed)), parameter["description"])
    return table


def command(as_json: JsonFlag = False, templates_dir: TemplatesDir = None) -> None:
    """List the stack templates with their parameters and defaults.

    Example: gpufleet templates --json
    """
    from gpufleet.templating import default_templates_dir, load_template, template_names

    directory = templates_dir or default_templates_dir()
    rows = [template_row(load_template(name, directory)) for name in template_names(directory)]
    if as_json:
        print_json({"templates": rows})
        return
    for row in rows:
        out.print(_table(row))
