"""Fault injection for the reliability tests, without anything in laftr-cl reading the environment.

A *kill spec* ``<event>:<progress>[:<signal>]`` (e.g. ``checkpoint_written:2``, ``checkpoint_renaming:3``,
``checkpoint_written:1.2:SIGUSR2``) names a checkpoint event of
:data:`laftr_cl.run.checkpoint.CHECKPOINT_EVENTS` and the progress label (``k`` after task k, ``k.e``
after epoch e of task k+1) at which the process sends itself the signal (SIGKILL by default).

In this process (or a fork of it) :func:`armed` installs the hook. A subprocess (``laftr-cl``, and
the jobs a launcher starts from it) gets it from :func:`sitecustomize_dir`: a folder holding a
``sitecustomize.py`` that installs it, put first on the subprocess's ``PYTHONPATH``.
"""
from __future__ import annotations

import os
import signal
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

from laftr_cl.run.checkpoint import CHECKPOINT_EVENTS, Progress


def kill_hook(spec: str) -> Callable[[str, Progress], None]:
    """The checkpoint-event hook that signals this process at ``spec``."""
    event, at, signal_name = (spec.split(":") + [""])[:3]
    signum = getattr(signal, signal_name or "SIGKILL")

    def hook(name: str, progress: Progress) -> None:
        if (name, progress.label()) != (event, at):
            return
        if signum == signal.SIGINT:
            raise KeyboardInterrupt  # what Ctrl-C raises, whatever SIGINT handler an earlier test left installed
        os.kill(os.getpid(), signum)

    return hook


@contextmanager
def armed(spec: str) -> Iterator[None]:
    """Installs :func:`kill_hook` for the duration of the block."""
    hook = kill_hook(spec)
    CHECKPOINT_EVENTS.append(hook)
    try:
        yield
    finally:
        CHECKPOINT_EVENTS.remove(hook)


SITECUSTOMIZE = """\
import os, signal
from laftr_cl.run.checkpoint import CHECKPOINT_EVENTS

def _kill(name, progress, event={event!r}, at={at!r}, signum=signal.{signal_name}):
    if (name, progress.label()) == (event, at):
        os.kill(os.getpid(), signum)

CHECKPOINT_EVENTS.append(_kill)
"""


@contextmanager
def sitecustomize_dir(spec: str) -> Iterator[Path]:
    """A temporary folder with a ``sitecustomize.py`` that arms ``spec`` in every Python process started
    with the folder on its ``PYTHONPATH``; removed on exit."""
    event, at, signal_name = (spec.split(":") + [""])[:3]
    with tempfile.TemporaryDirectory(prefix="laftr-cl-fault-") as name:
        folder = Path(name)
        (folder / "sitecustomize.py").write_text(
            SITECUSTOMIZE.format(event=event, at=at, signal_name=signal_name or "SIGKILL"))
        yield folder
