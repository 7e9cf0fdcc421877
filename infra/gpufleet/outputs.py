"""Write everything one command produces into a folder as one unit: all new files or all old.

The files are written into a staging folder beside the target, flushed to disk, and the
staging folder then takes the target's place in one step (Linux ``renameat2`` with
``RENAME_EXCHANGE``; elsewhere two renames, the old folder kept until the new one is in
place). Readers therefore never see the new ``resources.json`` beside an old MIG config, and
a failure or a signal (SIGINT, SIGTERM) leaves the old folder as it was and no staging
folder behind.

The target folder belongs to gpufleet: it is replaced whole, so gpufleet refuses a folder
holding anything it did not write (a ``.gpufleet-output`` marker says it did).
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import secrets
import shutil
import signal
import tempfile
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path, PurePosixPath

from gpufleet.errors import GpufleetError, UsageError

MARKER = ".gpufleet-output"
_MARKER_TEXT = "Written by gpufleet: this folder is replaced as a whole on every write.\n"
_SIGNALS = (signal.SIGINT, signal.SIGTERM)
_AT_FDCWD = -100
_RENAME_EXCHANGE = 2


class OutputError(UsageError):
    """The output folder cannot take the files (a file in its way, no permission, disk full): exit 2."""


class Interrupted(GpufleetError):
    """A signal stopped the command; the exit code is the shell's 128 + signal number."""

    def __init__(self, signal_number: int) -> None:
        name = signal.Signals(signal_number).name
        super().__init__(f"interrupted by {name}; every output holds all its old files or all the new ones, none half-written")
        self.exit_code = 128 + signal_number


def write_outputs(folder: str | os.PathLike[str], files: Mapping[str, str]) -> Path:
    """Replace ``folder`` with exactly ``files`` (relative POSIX path -> UTF-8 text), as one unit."""
    target = Path(folder)
    commit(folders={target: files})
    return target


def write_file(path: str | os.PathLike[str], text: str | bytes) -> Path:
    """Replace one file (a record committed beside its stack) whole: readers see the old or the new."""
    target = Path(path)
    commit(files={target: text})
    return target


def commit(folders: Mapping[Path, Mapping[str, str]] | None = None, files: Mapping[Path, str | bytes] | None = None) -> None:
    """Write every folder (replaced whole) and every file as one unit: all of them new, or all old.

    Everything is staged beside its target and flushed first; then, with SIGINT and SIGTERM
    held, each folder is swapped in and each file renamed over its target. A failure part way
    puts back what was already swapped (the old folders and the old files, kept as hard links
    until the end), so a preview never leaves new outputs beside a stale record, and ``new``
    never a stack without its ``Pulumi.<stack>.yaml`` or its record.
    """
    folders, files = dict(folders or {}), dict(files or {})
    checked: dict[Path, dict[PurePosixPath, str]] = {}
    for target, contents in folders.items():
        relative = {_checked_relative(name): text for name, text in contents.items()}
        _check_target(
            target,
            {path.parts[0] for path in relative if len(path.parts) == 1},
            {path.parts[0] for path in relative if len(path.parts) > 1},
        )
        checked[target] = relative
    for target in [*folders, *files]:
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise OutputError(f"{target}: cannot create its parent folder: {_reason(error)}") from None
    staged_folders: dict[Path, Path] = {}
    staged_files: dict[Path, Path] = {}
    at: list[Path] = []  # the target being written, for the message
    with _signals_raise():
        try:
            for target, relative in checked.items():
                at[:] = [target]
                staging = staged_folders[target] = _make_staging(target)
                for path, text in sorted(relative.items()):
                    _write_file(staging / path, text)
                _write_file(staging / MARKER, _MARKER_TEXT)
                _sync_tree(staging)
            for target, content in files.items():
                at[:] = [target]
                staged_files[target] = _stage_file(target, content)
            with _signals_held():
                _swap_all(staged_folders, staged_files, at)
        except OSError as error:
            raise OutputError(f"{at[0]}: cannot write it: {_reason(error)}; nothing was changed") from None
        finally:
            with _signals_held():  # a second Ctrl-C must not leave half a staging folder
                for staging in staged_folders.values():
                    shutil.rmtree(staging, ignore_errors=True)
                for staged in staged_files.values():
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(staged)


def _stage_file(target: Path, text: str | bytes) -> Path:
    try:
        descriptor, staging = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".staging", dir=target.parent)
    except OSError as error:
        raise OutputError(f"{target}: cannot write beside it in {target.parent}: {_reason(error)}") from None
    os.close(descriptor)
    try:
        _write_file(Path(staging), text)
    except BaseException:  # a full disk or a signal part way: the half-written file goes too
        with _signals_held():
            os.unlink(staging)
        raise
    return Path(staging)


def _swap_all(folders: Mapping[Path, Path], files: Mapping[Path, Path], at: list[Path]) -> None:
    """Swap every staged folder and file in; on any failure, undo the ones already swapped."""
    undo: list[tuple[str, Path, Path | None]] = []
    kept: list[Path] = []  # hard links to the files replaced, until all is done
    try:
        for target, staging in folders.items():
            at[:] = [target]
            existed = target.exists()
            _swap_in(staging, target)
            undo.append(("folder", target, staging if existed else None))
        for target, staged in files.items():
            at[:] = [target]
            backup = None
            if os.path.lexists(target):
                backup = target.with_name(f".{target.name}.{secrets.token_hex(6)}.old")
                try:
                    os.link(target, backup, follow_symlinks=False)
                except OSError:  # a file system without hard links: a copy does as well
                    shutil.copyfile(target, backup, follow_symlinks=False)
                kept.append(backup)
            os.replace(staged, target)
            undo.append(("file", target, backup))
        for folder in {target.parent for target in files}:
            _sync_folder(folder)
    except BaseException:  # an error, or a signal a test (or a debugger) raises here
        for kind, target, previous in reversed(undo):
            with contextlib.suppress(OSError):
                if kind == "file":
                    os.replace(previous, target) if previous is not None else os.unlink(target)
                elif previous is not None:
                    _swap_in(previous, target)
                else:
                    os.rename(target, folders[target])
        raise
    finally:
        for backup in kept:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(backup)


def _checked_relative(name: str) -> PurePosixPath:
    parts = name.split("/")
    if any(part in ("", ".", "..") for part in parts) or parts[-1] == MARKER:
        raise ValueError(f"output path {name!r} must be a plain relative path inside the folder")
    return PurePosixPath(name)


def _check_target(target: Path, files: set[str], folders: set[str]) -> None:
    """Refuse a target that is not a folder gpufleet may replace whole."""
    try:
        target.lstat()
    except FileNotFoundError:
        return
    except OSError as error:
        raise OutputError(f"{target}: cannot use it as the output folder: {_reason(error)}") from None
    if target.is_symlink() or not target.is_dir():
        raise OutputError(
            f"{target} is {'a symbolic link' if target.is_symlink() else 'not a folder'}; --out names a folder gpufleet writes into"
        )
    try:
        entries = sorted(os.listdir(target))
    except OSError as error:
        raise OutputError(f"{target}: cannot read the output folder: {_reason(error)}") from None
    if not entries or MARKER in entries:
        return
    for entry in entries:
        path = target / entry
        ours = (entry in files and path.is_file()) or (entry in folders and path.is_dir())
        if path.is_symlink() or not ours:
            raise OutputError(
                f"{target} holds '{entry}', which gpufleet did not write; it replaces the whole folder, "
                "so name a new or empty folder with --out"
            )


def _make_staging(target: Path) -> Path:
    try:
        return Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".staging", dir=target.parent))
    except OSError as error:
        raise OutputError(f"{target}: cannot write beside it in {target.parent}: {_reason(error)}") from None


def _write_file(path: Path, text: str | bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as handle:
        handle.write(text.encode("utf-8") if isinstance(text, str) else text)
        handle.flush()
        os.fsync(handle.fileno())
    os.chmod(path, 0o644)


def _sync_tree(root: Path) -> None:
    """Flush each folder's entries too, so the swapped-in folder survives a power cut whole."""
    for folder, _, _ in os.walk(root):
        descriptor = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
    os.chmod(root, 0o755)


def _swap_in(staging: Path, target: Path) -> None:
    """Put ``staging`` at ``target``; afterwards ``staging`` holds whatever was there before."""
    if not target.exists():
        os.rename(staging, target)
        return
    if _exchange(staging, target):
        return
    aside = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".old", dir=target.parent))
    os.rmdir(aside)
    os.rename(target, aside)
    try:
        os.rename(staging, target)
    except OSError:
        os.rename(aside, target)
        raise
    os.rename(aside, staging)


def _exchange(first: Path, second: Path) -> bool:
    """Atomically swap two paths with ``renameat2(RENAME_EXCHANGE)``; False where unsupported."""
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (AttributeError, OSError):
        return False
    renameat2.argtypes = (ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint)
    if renameat2(_AT_FDCWD, os.fsencode(first), _AT_FDCWD, os.fsencode(second), _RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP):
        return False
    raise OSError(code, os.strerror(code))


@contextlib.contextmanager
def interruptible() -> Iterator[None]:
    """SIGINT and SIGTERM raise ``Interrupted`` inside, so a command's cleanup (a child process
    to stop, staged files to remove) runs before it exits with the signal's code."""
    with _signals_raise():
        yield


@contextlib.contextmanager
def _signals_raise() -> Iterator[None]:
    """SIGINT and SIGTERM raise ``Interrupted`` here, so cleanup runs before the process exits."""

    def interrupt(number: int, _frame: object) -> None:
        raise Interrupted(number)

    if threading.current_thread() is not threading.main_thread():  # only the main thread gets signals
        yield
        return
    previous = {number: signal.signal(number, interrupt) for number in _SIGNALS}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


@contextlib.contextmanager
def _signals_held() -> Iterator[None]:
    """Hold SIGINT and SIGTERM for the few system calls of the swap: it finishes or never starts.

    Blocking them in this thread is not enough once the process has other threads (the
    preview's and the pack's): the kernel then hands a process-wide signal to one of those,
    and Python runs its handler in the main thread anyway. So the handlers are swapped too,
    for ones that only note the signal; it is raised again once the section is done.
    """
    noted: list[int] = []
    previous = {}
    if threading.current_thread() is threading.main_thread():
        previous = {number: signal.signal(number, lambda number, _frame: noted.append(number)) for number in _SIGNALS}
    signal.pthread_sigmask(signal.SIG_BLOCK, _SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, _SIGNALS)  # one held in this thread arrives here, and is noted
        for held, handler in previous.items():
            signal.signal(held, handler)
        for number in dict.fromkeys(noted):
            signal.raise_signal(number)  # now handled as it would have been


def _reason(error: OSError) -> str:
    if error.errno == errno.ENOSPC:
        return "no space left on the device"
    return error.strerror or str(error)


def _sync_folder(folder: Path) -> None:
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
