"""Run a Pulumi program in-process against the recording monitor.

Each run happens on a fresh thread. The SDK keeps its runtime state (settings,
config, root stack, pending outputs) in context variables and the asyncio loop
is per thread, so a new thread starts from an empty context with no event
loop: nothing leaks from one run into the next or into the caller, and the
caller may itself be inside a running event loop.
"""

from __future__ import annotations

import asyncio
import gc
import os
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from inspect import isawaitable

from pulumi.runtime import run_in_stack, set_all_config
from pulumi.runtime.settings import ROOT, Settings, configure

from .mocks import DEFAULT_REGION, FleetMocks
from .monitor import RecordingEngine, RecordingMonitor
from .result import Diagnostic, PreviewResult, RecordedResource

# A Pulumi program: a function, synchronous or a coroutine function.
Program = Callable[[], object]

# Objects the young generation may gain before CPython collects it (its default is 700). A
# preview allocates a few hundred thousand long-lived SDK objects (Outputs, Futures, Tasks);
# at the default each one is traversed again by every later collection that reaches its
# generation, and the full collections this cascades into grow with the heap.
PREVIEW_GC_THRESHOLD = 100_000

_gc_lock = threading.Lock()
_gc_raised_by = 0
_gc_restore: tuple[int, ...] = ()


def run_preview(
    program: Program,
    *,
    project: str,
    stack: str,
    config: Mapping[str, str] = {},
    root_directory: str | os.PathLike | None = None,
    on_record: Callable[[RecordedResource], None] | None = None,
) -> PreviewResult:
    """Run `program` as `pulumi up` would, with mocked providers, and record every resource.

    `config` holds fully qualified keys (`aws:region`, `gpufleet:spec`);
    `root_directory` is what `pulumi.get_root_directory()` returns (the folder of
    Pulumi.yaml under the CLI); `on_record` is told of each resource as it registers
    (with its final inputs, before its stack outputs). Exceptions raised by the program,
    inside an `apply`, or by a registration are re-raised here.
    """
    root = os.fspath(root_directory) if root_directory is not None else None
    outcome: dict[str, object] = {}

    def run_isolated() -> None:
        try:
            outcome["result"] = _run_in_fresh_runtime(program, project, stack, root, dict(config), on_record)
        except BaseException as error:
            outcome["error"] = error

    worker = threading.Thread(target=run_isolated, name=f"gpufleet-preview-{stack}", daemon=True)
    with _fewer_collections():
        worker.start()
        worker.join()
    if "error" in outcome:
        raise outcome["error"]  # type: ignore[misc]
    return outcome["result"]  # type: ignore[return-value]


def _run_in_fresh_runtime(
    program: Program,
    project: str,
    stack: str,
    root_directory: str | None,
    config: dict[str, str],
    on_record: Callable[[RecordedResource], None] | None = None,
) -> PreviewResult:
    mocks = FleetMocks(region=config.get("aws:region", DEFAULT_REGION))
    monitor = RecordingMonitor(mocks, on_record)
    engine = RecordingEngine()
    loop = asyncio.new_event_loop()
    loop.set_exception_handler(_ignore_unretrieved_failures)
    asyncio.set_event_loop(loop)
    try:
        _install_runtime(project, stack, root_directory, config, monitor, engine)
        loop.run_until_complete(run_in_stack(lambda: _drained(program)))
    finally:
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.run_until_complete(loop.shutdown_default_executor())
        asyncio.set_event_loop(None)
        loop.close()
    return PreviewResult(
        project=project,
        stack=stack,
        resources=tuple(monitor.recorded[urn] for urn in sorted(monitor.recorded)),
        stack_outputs=monitor.stack_outputs,
        unknown_invokes=mocks.unknown_invokes,
        diagnostics=tuple(engine.diagnostics) + tuple(sorted(monitor.warnings, key=_by_urn_then_message)),
    )


async def _drained(program: Program) -> None:
    """Run `program`, then yield to the loop once so the SDK drains registrations one by one.

    The SDK's `wait_for_rpcs` awaits its list of registration RPCs one at a time, but it
    checks that list before yielding: when a synchronous program returns, no registration
    task has started yet, the list is empty, and every registration completes inside the
    second loop instead, `asyncio.wait(FIRST_COMPLETED)` over all pending outputs, which
    re-subscribes every pending output on each round. One yield lets each registration
    task reach its RPC, so the first loop finds them all.
    """
    result = program()
    if isawaitable(result):
        await result
    await asyncio.sleep(0)


@contextmanager
def _fewer_collections() -> Iterator[None]:
    """Raise the young-generation threshold while any preview runs; restore it after the last.

    The threshold is process-wide, so overlapping previews on several threads share one
    raise and the caller's own setting comes back when the last of them ends.
    """
    global _gc_raised_by, _gc_restore
    with _gc_lock:
        if _gc_raised_by == 0:
            _gc_restore = gc.get_threshold()
            if _gc_restore[0]:  # 0 means the caller turned automatic collection off: leave it
                gc.set_threshold(max(PREVIEW_GC_THRESHOLD, _gc_restore[0]), *_gc_restore[1:])
        _gc_raised_by += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_raised_by -= 1
            if _gc_raised_by == 0:
                gc.set_threshold(*_gc_restore)


def _install_runtime(
    project: str,
    stack: str,
    root_directory: str | None,
    config: dict[str, str],
    monitor: RecordingMonitor,
    engine: RecordingEngine,
) -> None:
    """Point the SDK's ambient state (this thread's context) at a fresh deployment.

    A full `Settings` (unlike the SDK's `MockSettings`) also replaces the
    pending-output set, lock and package caches. `dry_run=False` mirrors
    `pulumi up`, so every `apply` runs on known values. The SDK stores settings
    in context variables, so this must run on the worker thread.
    """
    ROOT.set(None)
    set_all_config(config, secret_keys=[])
    configure(
        Settings(
            project=project,
            stack=stack,
            monitor=monitor,
            engine=engine,
            dry_run=False,
            organization="organization",
            root_directory=root_directory,
        )
    )


def _ignore_unretrieved_failures(loop: asyncio.AbstractEventLoop, context: dict) -> None:
    """Silence asyncio's "exception was never retrieved" reports.

    When a program fails, the SDK copies the error into the pending output
    futures of every resource it touched; the first error is already re-raised
    by `run_preview`, so these copies are noise printed at garbage collection.
    """
    if "never retrieved" not in context.get("message", ""):
        loop.default_exception_handler(context)


def _by_urn_then_message(diagnostic: Diagnostic) -> tuple[str, str]:
    return diagnostic.urn or "", diagnostic.message
