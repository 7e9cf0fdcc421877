"""The runner's two settings: registrations drained one by one, fewer young collections."""

from __future__ import annotations

import asyncio
import gc

import pulumi
import pytest

from gpufleet.preview import run_preview, runner

CONFIG = {"aws:region": "us-west-2"}
REGISTERED = 120


def many_components() -> None:
    for index in range(REGISTERED):
        pulumi.ComponentResource("toy:index:Part", f"part-{index}", None)


def test_registrations_are_drained_without_rounds_of_asyncio_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without the yield, every registration completes inside `wait_for_rpcs`' second loop,
    one `asyncio.wait` round per batch of completions; with it, that loop finds the
    outputs all done."""
    rounds = []
    real_wait = asyncio.wait

    async def counted_wait(*args, **kwargs):
        rounds.append(len(args[0]))
        return await real_wait(*args, **kwargs)

    monkeypatch.setattr(asyncio, "wait", counted_wait)
    result = run_preview(many_components, project="gpufleet", stack="dev", config=CONFIG)
    assert sum(1 for r in result.resources if r.type == "toy:index:Part") == REGISTERED
    drained = list(rounds)

    rounds.clear()
    monkeypatch.setattr(runner, "_drained", _undrained)
    run_preview(many_components, project="gpufleet", stack="dev", config=CONFIG)
    assert len(drained) <= 1
    assert len(rounds) >= 3


async def _undrained(program) -> None:
    program()


def test_an_async_program_is_awaited_before_the_drain() -> None:
    async def later() -> None:
        await asyncio.sleep(0)
        many_components()

    result = run_preview(later, project="gpufleet", stack="dev", config=CONFIG)
    assert sum(1 for r in result.resources if r.type == "toy:index:Part") == REGISTERED


def test_gc_threshold_is_raised_while_the_preview_runs_and_restored_after() -> None:
    before = gc.get_threshold()
    seen = []
    run_preview(lambda: seen.append(gc.get_threshold()), project="gpufleet", stack="dev", config=CONFIG)
    assert seen == [(runner.PREVIEW_GC_THRESHOLD, *before[1:])]
    assert gc.get_threshold() == before


def test_gc_threshold_is_restored_when_the_program_fails() -> None:
    before = gc.get_threshold()

    def failing() -> None:
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        run_preview(failing, project="gpufleet", stack="dev", config=CONFIG)
    assert gc.get_threshold() == before


def test_automatic_collection_turned_off_by_the_caller_stays_off() -> None:
    before = gc.get_threshold()
    gc.set_threshold(0)
    try:
        seen = []
        run_preview(lambda: seen.append(gc.get_threshold()[0]), project="gpufleet", stack="dev", config=CONFIG)
        assert seen == [0]
    finally:
        gc.set_threshold(*before)
