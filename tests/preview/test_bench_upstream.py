"""bench/upstream.py's URI cache must change nothing the SDK sends, only how often it converts."""

from __future__ import annotations

import contextlib
import importlib.util
import sys
import traceback
from pathlib import Path

import pytest
from pulumi.runtime import resource as sdk_resource

UPSTREAM_PATH = Path(__file__).resolve().parents[2] / "bench" / "upstream.py"
RELEASED = sdk_resource._get_source_position_for_frame


@pytest.fixture(scope="module")
def upstream():
    spec = importlib.util.spec_from_file_location("bench_upstream", UPSTREAM_PATH)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    yield module
    del sys.modules[spec.name]


def frames() -> list[traceback.FrameSummary]:
    odd = [
        traceback.FrameSummary("", 3, "anonymous"),
        traceback.FrameSummary("<string>", 1, "exec"),  # not absolute: as_uri refuses it
        traceback.FrameSummary("/srv/with space/and%percent.py", 7, "quoted"),
        traceback.FrameSummary(__file__, None, "no line"),
    ]
    return [*traceback.extract_stack(), *odd]


def test_cached_positions_equal_the_sdk_positions(upstream):
    for frame in frames() * 2:  # the second pass reads from the cache
        assert upstream.source_position_cached(frame) == RELEASED(frame), frame


def test_stack_traces_are_the_same_inside_the_patch_and_it_is_undone(upstream):
    class Concrete:  # the SDK looks for the third __init__ frame from the top
        def __init__(self):
            self.trace = Middle()

    class Middle:
        def __init__(self):
            self.trace = Base().trace

    class Base:
        def __init__(self):
            self.trace = sdk_resource._get_stack_trace()

    def positions():  # one call site, so both traces can be equal
        return [(frame.pc.uri, frame.pc.line) for frame in Concrete().trace.trace.frames]

    traces, used = [], []
    for patch in (contextlib.nullcontext, upstream.cached_source_positions):
        with patch():
            used.append(sdk_resource._get_source_position_for_frame)
            traces.append(positions())
    released, patched = traces
    assert used == [RELEASED, upstream.source_position_cached]
    assert sdk_resource._get_source_position_for_frame is RELEASED
    assert len(released) > 3 and released[0][0] == Path(__file__).as_uri()
    assert patched == released


def test_the_patch_is_undone_when_the_block_fails(upstream):
    with pytest.raises(RuntimeError), upstream.cached_source_positions():
        raise RuntimeError("preview failed")
    assert sdk_resource._get_source_position_for_frame is RELEASED
