"""Run work gpufleet does not trust (a third-party template's Jinja) in a child process whose
CPU time and memory have a ceiling, so that nothing it does can hang or exhaust the command.

Jinja's sandbox keeps a template from reaching Python's internals (and so the shell), but
not from looping for hours or building a string of gigabytes in one C call (``'x' * 10**10``,
``'%999999999d' % 1``); a signal timer cannot interrupt a C call either. A forked child with
``RLIMIT_CPU`` and ``RLIMIT_AS`` set can be stopped whatever it does: the parent reads its
result through a pipe and kills it when the wall-clock deadline passes too. Only text comes
back (JSON), never objects the work made.
"""

from __future__ import annotations

import json
import os
import resource
import select
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass

from gpufleet.errors import GpufleetError


@dataclass(frozen=True)
class Limits:
    cpu_seconds: int
    memory_mib: int
    """On top of what the process already maps when the work starts."""
    wall_seconds: float
    output_bytes: int


class WorkFailed(GpufleetError):
    """The work raised a gpufleet error (carried across as its message and exit code) or ran out of bounds."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def run_bounded(work: Callable[[], str], limits: Limits, what: str) -> str:
    """``work()``'s text, computed in a child process within ``limits``; ``WorkFailed`` otherwise.

    ``work`` reports its own problems by raising ``GpufleetError`` (the message and exit code
    cross over); any other exception is reported as its type and message, never a traceback.
    Where ``fork`` does not exist the work runs here, unbounded.
    """
    if not hasattr(os, "fork"):
        return work()
    reading, writing = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - runs in the child, which leaves through os._exit
        os.close(reading)
        _child(work, limits, what, writing)
    os.close(writing)
    try:
        # JSON escapes at most 6 bytes per character (a control character as \u0000).
        data = _read_until(reading, time.monotonic() + limits.wall_seconds, limits.output_bytes * 6 + 4096)
    finally:
        os.close(reading)
        _reap(child)
    if data is None:
        raise WorkFailed(f"{what} did not finish within {limits.wall_seconds:g} s; stopped")
    if not data:
        raise WorkFailed(f"{what} stopped: it used more than {limits.cpu_seconds} s of CPU or {limits.memory_mib} MiB of memory")
    reply = json.loads(data)
    if "text" in reply:
        return reply["text"]
    raise WorkFailed(reply["error"], reply["exit"])


def _child(work: Callable[[], str], limits: Limits, what: str, writing: int) -> None:  # pragma: no cover
    try:
        for number in (signal.SIGINT, signal.SIGTERM):  # the parent handles these and kills the child
            signal.signal(number, signal.SIG_DFL)
        resource.setrlimit(resource.RLIMIT_CPU, (limits.cpu_seconds, resource.getrlimit(resource.RLIMIT_CPU)[1]))
        mapped = _mapped_bytes()
        if mapped is not None:
            ceiling = mapped + limits.memory_mib * 1024 * 1024
            hard = resource.getrlimit(resource.RLIMIT_AS)[1]
            resource.setrlimit(resource.RLIMIT_AS, (ceiling if hard == resource.RLIM_INFINITY else min(ceiling, hard), hard))
        try:
            text = work()
            if len(text.encode("utf-8")) > limits.output_bytes:
                reply = {"error": f"{what} produced more than {limits.output_bytes // 1024} KiB", "exit": 1}
            else:
                reply = {"text": text}
        except GpufleetError as error:
            reply = {"error": str(error), "exit": error.exit_code}
        except MemoryError:
            reply = {"error": f"{what} needed more than {limits.memory_mib} MiB of memory; stopped", "exit": 1}
        except RecursionError:
            reply = {"error": f"{what} nests too deeply (Python's recursion limit); stopped", "exit": 1}
        except Exception as error:  # the work is untrusted: whatever it raises is its failure, not gpufleet's
            reply = {"error": f"{what} failed: {type(error).__name__}: {str(error)[:200]}", "exit": 1}
        payload = json.dumps(reply, ensure_ascii=False).encode("utf-8")
        view = memoryview(payload)
        while view:
            view = view[os.write(writing, view) :]
    except BaseException:
        pass
    finally:
        os._exit(0)


def _mapped_bytes() -> int | None:
    """The process's virtual size now (Linux), the base the memory ceiling is counted from."""
    try:
        with open("/proc/self/statm", encoding="ascii") as statm:
            return int(statm.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


def _read_until(descriptor: int, deadline: float, limit: int) -> bytes | None:
    """Everything the child writes until it closes the pipe; None when the deadline passes first."""
    chunks: list[bytes] = []
    size = 0
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        ready, _, _ = select.select([descriptor], [], [], left)
        if not ready:
            continue
        chunk = os.read(descriptor, 65536)
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > limit:
            return b""
        chunks.append(chunk)


def _reap(child: int) -> None:
    """Stop the child if it still runs (a deadline, a signal to this process) and collect it."""
    try:
        finished, _ = os.waitpid(child, os.WNOHANG)
        if finished == 0:
            os.kill(child, signal.SIGKILL)
            os.waitpid(child, 0)
    except ChildProcessError:
        pass
