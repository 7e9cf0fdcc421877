"""A choice and why it was made: the shape every decision of the plan keeps its reason in."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Decision:
    """A value gpufleet chose, with the reason ``validate --json`` and the preview print."""

    value: str
    reason: str


@dataclass(frozen=True)
class Reason:
    """Why one setting (``subject``: a Helm value's path, a pool, a queue) is what it is."""

    subject: str
    why: str
