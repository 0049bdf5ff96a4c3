"""The one writer of run files: whole files or nothing, fsynced, and one way to write JSON.

:func:`write_atomically` writes ``<path>.tmp``, fsyncs it, renames it over ``path`` and fsyncs the
folder, so a reader (or a run killed mid-write) sees the previous file or the new one, never half.
:func:`write_json_atomic` is how every JSON file of laftr-cl is written: indented, with NaN and ±inf
as ``null`` (JSON has no NaN). A failed write raises :class:`RunFolderUnwritable` with one paragraph.
Light on purpose (no torch): Hydra's callbacks import it at start-up.
"""
from __future__ import annotations

import errno
import json
import math
import os
from pathlib import Path
from typing import Any, Callable, Mapping


class RunFolderUnwritable(RuntimeError):
    """The run folder cannot be created or written; the message names it, the reason and the fix."""


def fsynced_write(path: Path, data: bytes) -> None:
    """Writes ``data`` to ``path`` and fsyncs it."""
    with open(path, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def write_atomically(path: Path, data: bytes, *, write: Callable[[Path, bytes], None] = fsynced_write,
                     before_replace: Callable[[], None] | None = None) -> None:
    """Writes ``data`` to ``path`` through ``<path>.tmp`` (``write``), a rename and an fsync of the
    folder, so that readers never see half a file; ``before_replace`` runs between write and rename.

    Raises:
        RunFolderUnwritable: the folder cannot be written (disk full, read-only): the temporary file
            is removed and the previous ``path`` is untouched.
    """
    tmp = path.with_name(path.name + ".tmp")
    try:
        write(tmp, data)
        if before_replace is not None:
            before_replace()
        os.replace(tmp, path)
        fsync_folder(path.parent)
    except BaseException as err:
        tmp.unlink(missing_ok=True)
        if isinstance(err, OSError):
            raise RunFolderUnwritable(unwritable_message(path.parent, err, needed=len(data))) from None
        raise


def unwritable_message(folder: Path, err: OSError, needed: int | None = None) -> str:
    """One paragraph for a failed write into ``folder`` (disk full, read-only, no permission)."""
    reason = os.strerror(err.errno) if err.errno else str(err)
    if err.errno in (errno.ENOSPC, errno.EDQUOT):
        free = _free_bytes(folder)
        need = f"needs {needed:,} bytes" if needed is not None else "needs more room"
        return (f"The disk holding the run folder {folder} is full ({reason}): this write {need}"
                f"{f' and {free:,} bytes are free' if free is not None else ''}. Nothing half-written "
                "was left behind and the previous checkpoint is intact: free some space (or point "
                "paths.log_dir / hydra.run.dir at another disk) and run the same command again to resume.")
    return (f"laftr-cl cannot write into the run folder {folder} ({reason}). Give a folder you can "
            "write to with paths.log_dir=... (or hydra.run.dir=... / hydra.sweep.dir=...), or fix the "
            "folder's permissions, and run the command again.")


def _free_bytes(folder: Path) -> int | None:
    for candidate in (folder, *folder.parents):
        try:
            return os.statvfs(candidate).f_bavail * os.statvfs(candidate).f_frsize
        except OSError:
            continue
    return None


def check_writable(folder: str | Path) -> None:
    """Creates ``folder`` and writes and removes a probe file in it.

    Raises:
        RunFolderUnwritable: it cannot be created or written (read-only, no permission, disk full).
    """
    folder = Path(folder)
    probe = folder / f".laftr-cl-write-check-{os.getpid()}"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with open(probe, "wb") as handle:
            handle.write(b"ok")
        probe.unlink()
    except OSError as err:
        raise RunFolderUnwritable(unwritable_message(folder, err)) from None


def fsync_folder(folder: Path) -> None:
    """Makes a rename inside ``folder`` durable."""
    handle = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(handle)
    finally:
        os.close(handle)


def json_safe(value: Any) -> Any:
    """``value`` with every non-finite float (NaN, ±inf) replaced by None, containers rebuilt."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Mapping):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value


def write_json_atomic(path: Path, payload: Mapping[str, Any]) -> None:
    """Writes ``payload`` as indented JSON (NaN as null) through :func:`write_atomically`.

    Raises:
        RunFolderUnwritable: the folder cannot be written (disk full, read-only); the temporary
            file is removed and the previous ``path`` is untouched.
    """
    write_atomically(Path(path), (json.dumps(json_safe(payload), indent=2) + "\n").encode())
