"""Where a report is written (``--out``), and its files written whole or not at all, as a run's are.

:func:`open_out` checks the folder (an existing file, or a folder that cannot be created, is refused
in one paragraph); :func:`write_text` and :func:`write_figure` write through
:func:`laftr_cl.run.atomic.write_atomically`, so a full or read-only disk leaves no half-written
table or 0-byte PNG. Either failure is a :class:`ReportUnwritable`, whose message the commands print
(exit status :data:`UNWRITABLE`).
"""
from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from laftr_cl.run.atomic import RunFolderUnwritable, write_atomically

UNWRITABLE = 4
"""Exit status when the report cannot be written (as for a run's folder)."""


class ReportUnwritable(RuntimeError):
    """The report's folder is no folder (``exit_code`` 2), or cannot be written (:data:`UNWRITABLE`);
    the message says which and the fix."""

    def __init__(self, message: str, exit_code: int = UNWRITABLE) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def _refusal(out: Path, reason: str) -> ReportUnwritable:
    return ReportUnwritable(
        f"The report cannot be written into {out} ({reason}): no half-written file was left there. Free some "
        "space, or give a folder you can write to (--out), and run it again.")


def open_out(out: Path) -> Path:
    """Creates the report folder ``out`` (with its parents) and returns it.

    Raises:
        ReportUnwritable: ``out`` is an existing file, or cannot be created.
    """
    if out.exists() and not out.is_dir():
        raise ReportUnwritable(
            f"--out {out} is a file, not a folder: the report is several files (tables and plots). Give a folder "
            f"(it is created when missing), e.g. --out {out.parent / 'report'}.", exit_code=2)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise _refusal(out, err.strerror or str(err)) from None
    return out


def write_bytes(path: Path, data: bytes) -> None:
    """Writes ``data`` to ``path`` whole (see the module docstring)."""
    try:
        write_atomically(path, data)
    except RunFolderUnwritable as err:
        raise _refusal(path.parent, err.reason or str(err)) from None


def write_text(path: Path, text: str) -> None:
    write_bytes(path, text.encode())


def write_figure(fig: Any, path: Path, **savefig: Any) -> None:
    """Renders the matplotlib figure ``fig`` as PNG in memory, then writes it whole."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", **savefig)
    write_bytes(path, buffer.getvalue())
