"""Ctrl-C and SIGTERM end a run the same way: one line, ``results.json`` says ``interrupted``, and the
command that continues it.

SIGTERM is what ``kill`` and SLURM (at a job's time limit, before SIGKILL) send. :func:`catch_sigterm`
makes it raise :class:`Terminated`, a ``KeyboardInterrupt``, wherever the process is — so every
place that cleans up after Ctrl-C (a half-written checkpoint removed, the lock released) does the
same for SIGTERM. A second SIGTERM while the first is handled ends the process at once.

Only the ``laftr-cl`` process itself installs it: a job that submitit runs keeps submitit's own
handlers (which requeue a pre-empted job). Before that, while the command's modules load,
:func:`end_while_starting` answers both signals (:func:`catch_while_starting`).

Light on purpose (no third-party import): ``laftr_cl.cli`` imports it before anything else.
"""
from __future__ import annotations

import signal
import sys
import threading
from types import FrameType

INTERRUPTED = 130
"""Exit status after Ctrl-C (128 + SIGINT)."""
TERMINATED = 143
"""Exit status after SIGTERM (128 + SIGTERM), as a shell reports a process SIGTERM ended."""


class Terminated(KeyboardInterrupt):
    """The process received SIGTERM."""


def _raise_terminated(signum: int, frame: FrameType | None) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # a second SIGTERM ends the process at once
    raise Terminated()


def catch_sigterm() -> None:
    """Makes SIGTERM raise :class:`Terminated` in the main thread (a no-op in other threads)."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _raise_terminated)


def cause(err: KeyboardInterrupt) -> str:
    """``"SIGTERM"`` or ``"Ctrl-C"``: what interrupted the process."""
    return "SIGTERM" if isinstance(err, Terminated) else "Ctrl-C"


def exit_status(err: KeyboardInterrupt) -> int:
    """143 after SIGTERM, 130 after Ctrl-C."""
    return TERMINATED if isinstance(err, Terminated) else INTERRUPTED


def startup_message(err: KeyboardInterrupt) -> str:
    """The line for an interruption before the run started (while the command was checked or Hydra set up)."""
    return (f"interrupted ({cause(err)}) while starting, before any training: nothing was trained; run the same "
            "command again to start the run.")


def end_while_starting(signum: int, frame: FrameType | None) -> None:
    """The handler of Ctrl-C and SIGTERM while ``laftr-cl`` imports its modules: the line of
    :func:`startup_message`, then the exit status (no traceback of the import it stopped)."""
    err = Terminated() if signum == signal.SIGTERM else KeyboardInterrupt()
    print(f"laftr-cl: {startup_message(err)}", file=sys.stderr)
    raise SystemExit(exit_status(err))


def catch_while_starting() -> None:
    """Installs :func:`end_while_starting` for SIGINT and SIGTERM (main thread only)."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, end_while_starting)
        signal.signal(signal.SIGTERM, end_while_starting)
