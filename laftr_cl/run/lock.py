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


def busy_message(folder: Path, holder: dict[str, Any], kind: str = "run") -> str:
    """Why a ``kind`` (``run`` or ``sweep``) cannot have ``folder``: ``holder`` has it."""
    return (f"The {kind} folder {folder} is in use by another laftr-cl process ({_describe(holder)}). Two {kind}s "
            "in one folder would mix their results, checkpoints and logs, so this one stops before "
            f"writing anything. Wait for that {kind} to finish or stop it, or give this {kind} its own folder "
            f"(leave hydra.{kind}.dir at its default, or set another one).")


class RunLock:
    """Holds ``<folder>/laftr-cl.lock`` from :meth:`acquire` until :meth:`release` (or process end).

    Re-entrant within a process: the ``laftr-cl`` command takes the lock before Hydra writes into the
    folder (:mod:`laftr_cl.run.callbacks`) and the run takes it again around the experiment; the
    second acquire shares the first one's lock, which is dropped when both are released. With
    ``announce=False`` a lock taken over from a dead process is logged by the next acquire (once
    logging writes into the run folder). ``kind`` (``run`` or ``sweep``) is how the refusal names the folder.
    """

    def __init__(self, folder: str | Path, *, announce: bool = True, kind: str = "run") -> None:
        self.folder, self.kind = Path(folder), kind
        self.path = RunFolder(folder).lock
        self.announce = announce
        self._handle: Any = None
        self._held: RunLock | None = None  # the lock of this process this one shares
        self._depth = 0
        self._taken_over: dict[str, Any] | None = None

    def acquire(self) -> "RunLock":
        """Takes the lock (or shares this process's), or raises :class:`RunFolderBusy` naming the live holder."""
        key = self.path.absolute()
        held = _HELD.get(key)
        if held is not None:
            held._depth += 1
            self._held = held
            held._log_takeover()
            return self
        self.folder.mkdir(parents=True, exist_ok=True)
        handle = open(self.path, "a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            raise RunFolderBusy(busy_message(self.folder, _read_holder(self.path), self.kind)) from None
        except OSError as err:  # a filesystem without locks
            log.warning("cannot lock %s (%s): this run is not protected against a second one in its folder",
                        self.path, os.strerror(err.errno or 0))
        previous = _read_holder(self.path)
        if previous.get("pid") not in (None, os.getpid()):
            self._taken_over = previous
        handle.seek(0)
        handle.truncate()
        json.dump({"pid": os.getpid(), "host": socket.gethostname(), "started": time.time(),
                   "command": " ".join(["laftr-cl", *sys.argv[1:]])}, handle)
        handle.flush()
        self._handle, self._depth = handle, 1
        _HELD[key] = self
        if self.announce:
            self._log_takeover()
        return self

    def _log_takeover(self) -> None:
        if self._taken_over is not None:
            log.info("taking over the lock of %s: that process is gone", _describe(self._taken_over))
            self._taken_over = None

    def release(self) -> None:
        """Drops this hold; the last one empties the lock file (a holder that ended cleanly is no one
        to take over from) and drops the lock. The file itself stays, so that every process locks
        the same file."""
        owner = self._held or self
        self._held = None
        if owner._handle is None:
            return
        owner._depth -= 1
        if owner._depth > 0:
            return
        _HELD.pop(owner.path.absolute(), None)
        owner._handle.seek(0)
        owner._handle.truncate()
        owner._handle.close()
        owner._handle = None

    def __enter__(self) -> "RunLock":
        return self.acquire()

    def __exit__(self, *exc: Any) -> None:
        self.release()


_HELD: dict[Path, RunLock] = {}
"""The locks this process holds, by lock file (see :class:`RunLock`)."""
