"""SDK fixes proposed upstream, as patches the benches can switch on to measure what each buys.

Not used by gpufleet itself: the program and the offline preview run on the SDK as released.

``cached_source_positions``: on every registration the SDK's ``_get_stack_trace`` (in
``pulumi/runtime/resource.py``) turns each frame below the resource's constructor into a
``file://`` URI with ``pathlib.Path(filename).as_uri()``. A program of a few thousand resources
built a few components deep sends tens of thousands of frames from a few dozen files, so almost
all of that work converts the same file names again. The patch keeps one URI per file name;
what the engine receives is unchanged (``tests/preview/test_bench_upstream.py``).
"""

from __future__ import annotations

import functools
import pathlib
import traceback
from collections.abc import Iterator
from contextlib import contextmanager

from pulumi.runtime import resource as sdk_resource
from pulumi.runtime.proto import source_pb2


@functools.cache
def _file_uri(filename: str) -> str | None:
    try:
        return pathlib.Path(filename).as_uri()
    except BaseException:
        return None


def source_position_cached(frame: traceback.FrameSummary) -> source_pb2.SourcePosition | None:
    """The SDK's ``_get_source_position_for_frame`` with the URI looked up once per file name."""
    if frame.filename == "" or frame.lineno is None:
        return None
    uri = _file_uri(frame.filename)
    return None if uri is None else source_pb2.SourcePosition(uri=uri, line=frame.lineno)


@contextmanager
def cached_source_positions() -> Iterator[None]:
    """Swap in ``source_position_cached`` for the SDK's function while the block runs."""
    released = sdk_resource._get_source_position_for_frame
    sdk_resource._get_source_position_for_frame = source_position_cached
    try:
        yield
    finally:
        sdk_resource._get_source_position_for_frame = released
