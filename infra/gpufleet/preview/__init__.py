"""Offline preview: run the real Pulumi program under recording mocks and report it."""

from .mocks import ACCOUNT_ID, FleetMocks
from .report import (
    ComponentSummary,
    PreviewSummary,
    render_resources_json,
    render_tree,
    summarize,
)
from .result import Diagnostic, PreviewResult, RecordedResource
from .runner import run_preview

__all__ = [
    "ACCOUNT_ID",
    "ComponentSummary",
    "Diagnostic",
    "FleetMocks",
    "PreviewResult",
    "PreviewSummary",
    "RecordedResource",
    "render_resources_json",
    "render_tree",
    "run_preview",
    "summarize",
]
