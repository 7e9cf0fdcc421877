"""gpufleet: heterogeneous GPU clusters from typed stack files.

``gpufleet.Fleet`` is the whole fleet as one Pulumi component for your own programs; it is
imported on first use so that commands which never touch Pulumi do not load it.
"""

from __future__ import annotations

from typing import Any


def __getattr__(name: str) -> Any:
    if name == "Fleet":
        from gpufleet.program import Fleet

        return Fleet
    raise AttributeError(f"module 'gpufleet' has no attribute {name!r}")
