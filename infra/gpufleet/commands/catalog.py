"""``gpufleet catalog``: the hardware catalog's instance types and their accelerators."""

from __future__ import annotations

from gpufleet.commands.console import JsonFlag, out, print_json

NAME = "catalog"


def command(as_json: JsonFlag = False) -> None:
    """List the hardware catalog's instance types and their accelerators.

    Example: gpufleet catalog --json
    """
    from gpufleet.catalog import load_catalog
    from gpufleet.commands.tables import catalog_rows, catalog_table

    rows = catalog_rows(load_catalog())
    if as_json:
        print_json({"instance_types": rows})
    else:
        out.print(catalog_table(rows))
