"""One live process per run folder: ``<run dir>/laftr-cl.lock`` (:attr:`RunFolder.lock`).

The lock is an exclusive ``flock`` on ``laftr-cl.lock``, which names its holder (pid, host, start
time, command line). The kernel drops the lock when its process ends in any way (``kill -9``
included), so a lock left by a dead process is simply taken over — resume after a kill works.
A second live process on the folder is refused with :class:`RunFolderBusy`, naming the holder.
``flock`` works on local disks and on NFSv4; where a filesystem cannot lock, a warning says so and
the run goes on unlocked.

Light on purpose (no torch): Hydra imports it at start-up for :mod:`laftr_cl.run.callbacks`.
"""
from __future__ import annotations

import fcntl
import json
import logging
import os
import socket
import sys
import time
from pathlib import Path
from typing import Any

from laftr_cl.run.folder import RunFolder

log = logging.getLogger(__name__)

class RunFolderBusy(RuntimeError):
    """Another live laftr-cl process holds the run folder; the message names it and the way out."""


def _describe(holder: dict[str, Any]) -> str:
    started = holder.get("started")
    when = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(started)) if isinstance(started, (int, float)) else "?"
    return (f"pid {holder.get('pid', '?')} on host {holder.get('host', '?')}, started {when}: "
            f"`{holder.get('command', '?')}`")


def _read_holder(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text() or "{}")
    except (OSError, ValueError):
        return {}


def holder_if_locked(folder: str | Path) -> dict[str, Any] | None:
    """Who holds ``folder``'s lock (as written in the lock file), or None when it is free."""
    path = RunFolder(folder).lock
    if not path.is_file():
        return None
    try:
        with open(path, "r") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return _read_holder(path)
    except OSError:
        return None
    return None


def busy_message(folder: Path, holder: dict[str, Any]) -> str:
    return (f"The run folder {folder} is in use by another laftr-cl process ({_describe(holder)}). Two runs "
            "in one folder would mix their results, checkpoints and logs, so this one stops before "
            "writing anything. Wait for that run to finish or stop it, or give this run its own folder "
            "(leave hydra.run.dir at its default, or set another one).")


class RunLock:
    """Holds ``<folder>/laftr-cl.lock`` from :meth:`acquire` until :meth:`release` (or process end)."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        self.path = RunFolder(folder).lock
        self._handle: Any = None

    def acquire(self) -> "RunLock":
        """Takes the lock, or raises :class:`RunFolderBusy` naming the live holder."""
        self.folder.mkdir(parents=True, exist_ok=True)
        handle = open(self.path, "a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            raise RunFolderBusy(busy_message(self.folder, _read_holder(self.path))) from None
        except OSError as err:  # a filesystem without locks
            log.warning("cannot lock %s (%s): this run is not protected against a second one in its folder",
                        self.path, os.strerror(err.errno or 0))
        previous = _read_holder(self.path)
        if previous.get("pid") not in (None, os.getpid()):
            log.info("taking over the lock of %s: that process is gone", _describe(previous))
        handle.seek(0)
        handle.truncate()
        json.dump({"pid": os.getpid(), "host": socket.gethostname(), "started": time.time(),
                   "command": " ".join(["laftr-cl", *sys.argv[1:]])}, handle)
        handle.flush()
        self._handle = handle
        return self

    def release(self) -> None:
        """Empties the lock file (a holder that ended cleanly is no one to take over from) and
        drops the lock; the file itself stays, so that every process locks the same file."""
        if self._handle is not None:
            self._handle.seek(0)
            self._handle.truncate()
            self._handle.close()
            self._handle = None

    def __enter__(self) -> "RunLock":
        return self.acquire()

    def __exit__(self, *exc: Any) -> None:
        self.release()
