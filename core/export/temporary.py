"""Temporary files of exports: written in a ``.docket-tmp`` folder beside the target, locked
while their export runs, and swept when no export holds them.

An export is written under a temporary name and moved into place when complete, so a failed
export never leaves a half-written file at its target. An export that is killed (server
restart, Ctrl-C, the OOM killer) cannot clean up, and its partial file (tens of MB) would
stay. So every temporary file lives in :data:`TEMP_FOLDER` next to its target and its export
holds an exclusive ``flock`` on it; the kernel drops the lock when the process dies. Each export
first sweeps its folder (:func:`sweep_temporary_files`), and the app sweeps its export folders
when it starts, removing every temporary file whose lock can be taken: a running export's file
is never touched, whatever its age.

Where ``fcntl`` does not exist (Windows) the open file itself is the lock: Windows refuses to
delete a file another process has open.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None  # type: ignore[assignment]

TEMP_FOLDER = ".docket-tmp"
TEMP_SUFFIX = ".tmp"
_BUFFER = 1 << 20
_ATTEMPTS = 100
log = logging.getLogger(__name__)
T = TypeVar("T")


def write_atomically(path: Path, write: Callable[[io.BufferedWriter], T]) -> T:
    """Run ``write`` on a binary file that becomes ``path`` once ``write`` returns; return
    what ``write`` returned. The file is written under :data:`TEMP_FOLDER` beside ``path``,
    locked until it is in place; on any error it is removed and the error raised."""
    handle, temporary = _create_locked(path)
    try:
        with os.fdopen(handle, "wb", buffering=_BUFFER) as out:
            result = write(out)
            if fcntl is not None:  # moved while still locked: no sweep can take it meanwhile
                out.flush()
                os.replace(temporary, path)
        if fcntl is None:  # Windows cannot move an open file
            os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return result


def sweep_temporary_files(folder: Path) -> int:
    """Remove the temporary files in ``folder``'s :data:`TEMP_FOLDER` that no running export
    holds (left by killed exports), then the folder itself if empty; return how many went."""
    temp_folder = Path(folder) / TEMP_FOLDER
    try:
        entries = [entry for entry in temp_folder.iterdir() if entry.name.endswith(TEMP_SUFFIX)]
    except OSError:  # no such folder: nothing was left
        return 0
    removed = sum(_remove_if_abandoned(entry) for entry in entries)
    remove_if_empty(temp_folder)
    if removed:
        log.info("removed %d temporary file(s) of killed exports in %s", removed, folder)
    return removed


def remove_if_empty(temp_folder: Path) -> None:
    """Remove ``temp_folder`` if nothing is in it (another export may be using it)."""
    with contextlib.suppress(OSError):
        temp_folder.rmdir()


def _create_locked(path: Path) -> tuple[int, Path]:
    """Create and lock a new temporary file for ``path``; return its descriptor and path.

    A sweep may remove the empty folder, or a file in the instant before its lock is taken:
    then another one is made.
    """
    temp_folder = path.parent / TEMP_FOLDER
    for _ in range(_ATTEMPTS):
        temp_folder.mkdir(exist_ok=True)
        try:
            handle, name = tempfile.mkstemp(prefix=f"{path.name}.", suffix=TEMP_SUFFIX,
                                            dir=temp_folder)
        except FileNotFoundError:
            continue
        if fcntl is None:
            return handle, Path(name)
        fcntl.flock(handle, fcntl.LOCK_EX)  # waits only while a sweep looks at this very file
        if os.fstat(handle).st_nlink:
            return handle, Path(name)
        os.close(handle)  # a sweep removed it before the lock was ours
    raise OSError(f"cannot create a temporary file in {temp_folder}")


def _remove_if_abandoned(path: Path) -> bool:
    """Remove ``path`` if no running export holds it; return whether it was removed."""
    if fcntl is None:
        try:
            path.unlink()
        except OSError:  # open in a running export: Windows refuses
            return False
        return True
    try:
        handle = os.open(path, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        if not os.path.samestat(os.fstat(handle), os.stat(path)):
            return False  # the name was reused meanwhile
        path.unlink()
        return True
    except OSError:  # locked by a running export, or gone already
        return False
    finally:
        os.close(handle)
