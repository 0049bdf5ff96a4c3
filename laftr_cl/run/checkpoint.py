"""The checkpoint file of a run: ``<run dir>/checkpoint.pt``, written atomically, read with checks.

A checkpoint is one ``torch.save`` of a dict:

* ``format`` (:data:`CHECKPOINT_FORMAT`) and ``laftr_cl_version``: a file of another format or
  version is refused.
* ``config``: the resolved run config without the settings that may differ on resume
  (:data:`~laftr_cl.config.settings.RESUMABLE_SETTINGS`); a checkpoint of another config is refused, naming the settings.
* ``device``: ``cpu`` or ``cuda``; resuming on the other kind is refused.
* ``data``: the fingerprint of the data it trained on (:mod:`laftr_cl.benchmarks.fingerprint`);
  resuming on other data is refused, naming both fingerprints (a folder move is no change).
* ``progress``: ``{"tasks_done": k, "epochs_done": e}`` — k tasks finished (trained, evaluated,
  recorded) and e epochs of task k+1 (0 for a checkpoint between tasks).
* ``state``: the run itself, as :func:`laftr_cl.training.run_state.capture_state` returns it
  (model, optimizer, regularizer, clock, evaluator metrics, RNGs, accuracy matrix so far).

Writing serializes the checkpoint in memory first (so its size is known), checks that the disk has
room for it, writes ``checkpoint.pt.tmp`` in the same folder, fsyncs it, then renames it over
``checkpoint.pt`` (``os.replace``): a run killed mid-write leaves the previous checkpoint intact, and
a failed write (disk full, read-only folder, Ctrl-C) removes the temporary file and raises
:class:`~laftr_cl.run.atomic.RunFolderUnwritable` naming the folder and the bytes needed.

Beside it, ``checkpoint.config.yaml`` (:mod:`laftr_cl.run.record`) keeps the record of the run the
checkpoint belongs to; a refused resume points to it.
:class:`RunCheckpoints` is what the run loop uses: resume or not, restore, save.

Resume semantics: a checkpoint is written after a task has been trained, evaluated and recorded in
``results.json``; a resumed run restores it into freshly built objects (same seed, same build
order) and continues with the next task (or the next epoch), so on CPU it computes bit for bit
what the uninterrupted run computes. Avalanche's own forgetting/BWT metrics are restored too.
"""
from __future__ import annotations

import errno
import io
import logging
import os
import pickle
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

import torch

import laftr_cl
from laftr_cl.benchmarks.fingerprint import describe as describe_data
from laftr_cl.benchmarks.fingerprint import same_data
from laftr_cl.config.checks import ConfigError
from laftr_cl.config.settings import comparable_config
from laftr_cl.run.atomic import fsynced_write, write_atomically
from laftr_cl.run.folder import RunFolder
from laftr_cl.run.record import START_NEW, other_config_message, write_record
from laftr_cl.training.run_state import (
    EpochCheckpoint,
    RestoreAtTaskStart,
    capture_state,
    checkpointable,
    restore_state,
    restore_training_state,
)

log = logging.getLogger(__name__)

CHECKPOINT_FORMAT = 1
CHECKPOINT_EVENTS: list[Callable[[str, "Progress"], None]] = []
"""Observers of the checkpoint's life, called with ``(event, progress)``: ``checkpoint_renaming``
(temporary file written and fsynced, not yet renamed) and ``checkpoint_written`` (after the rename
and ``checkpoint.config.yaml``). Empty in a run; the fault tests put a hook here that kills the process."""


class CheckpointError(RuntimeError):
    """A checkpoint is missing, unreadable or from another run; the message names file and fix."""


@dataclass(frozen=True)
class Progress:
    """How far a run got: ``tasks_done`` finished tasks plus ``epochs_done`` epochs of the next."""

    tasks_done: int = 0
    epochs_done: int = 0

    def label(self) -> str:
        return str(self.tasks_done) if not self.epochs_done else f"{self.tasks_done}.{self.epochs_done}"

    def describe(self) -> str:
        text = f"{self.tasks_done} task(s) done"
        return text + (f" and {self.epochs_done} epoch(s) of task {self.tasks_done + 1}"
                       if self.epochs_done else "")


def make_checkpoint(config: Mapping[str, Any], device: torch.device, progress: Progress,
                    state: dict[str, Any], data: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The dict :func:`write_checkpoint` saves (see the module docstring)."""
    return {"format": CHECKPOINT_FORMAT, "laftr_cl_version": laftr_cl.__version__,
            "config": comparable_config(config), "device": device.type, "data": data,
            "progress": {"tasks_done": progress.tasks_done, "epochs_done": progress.epochs_done},
            "state": state}


_write_file = fsynced_write
"""The one place that writes checkpoint bytes (the failure tests replace it)."""


def write_checkpoint(path: Path, checkpoint: dict[str, Any]) -> None:
    """Saves ``checkpoint`` to ``path`` atomically: temporary file, fsync, rename, fsync folder.

    Raises:
        RunFolderUnwritable: the disk has no room for it or the folder cannot be written; the
            temporary file is removed and the previous checkpoint is untouched.
    """
    progress = Progress(**checkpoint["progress"])
    buffer = io.BytesIO()
    torch.save(checkpoint, buffer)

    def write(tmp: Path, data: bytes) -> None:
        if shutil.disk_usage(path.parent).free < len(data):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        _write_file(tmp, data)

    write_atomically(path, buffer.getbuffer(), write=write,
                     before_replace=lambda: _announce("checkpoint_renaming", progress))


def read_checkpoint(path: Path, config: Mapping[str, Any], device: torch.device,
                    data: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Loads ``path`` and checks that this run may continue from it (on the data fingerprinted by ``data``).

    Raises:
        CheckpointError: the file is truncated or not a checkpoint, has another format or
            laftr-cl version, was written on another kind of device, by another config, or on other data.
    """
    fix_new = START_NEW
    try:
        checkpoint = torch.load(path, map_location=None if torch.cuda.is_available() else "cpu",
                                weights_only=False)  # our own file: it holds RNG and plugin objects
    except (ImportError, AttributeError) as err:  # a class it pickled has moved or gone
        raise CheckpointError(
            f"The checkpoint {path} refers to code this laftr-cl does not have ({type(err).__name__}: {err}): "
            f"it was written by another laftr-cl version, whose classes have since moved or been renamed. This "
            f"is laftr-cl {laftr_cl.__version__}, checkpoint format {CHECKPOINT_FORMAT}. Resume it with the "
            f"version that wrote it, or start over with resume=false, {fix_new}.") from err
    except (EOFError, OSError, RuntimeError, pickle.UnpicklingError, ValueError) as err:
        raise CheckpointError(
            f"The checkpoint {path} cannot be read ({type(err).__name__}: {err}): it is truncated, "
            f"damaged or not a laftr-cl checkpoint. Start over with resume=false, {fix_new}.") from err
    if not isinstance(checkpoint, dict) or "format" not in checkpoint:
        raise CheckpointError(f"{path} is not a laftr-cl checkpoint (no format field). Delete it, {fix_new}.")
    written_by = (checkpoint.get("format"), checkpoint.get("laftr_cl_version"))
    if written_by != (CHECKPOINT_FORMAT, laftr_cl.__version__):
        raise CheckpointError(
            f"The checkpoint {path} was written by laftr-cl {written_by[1]} (checkpoint format "
            f"{written_by[0]}); this is laftr-cl {laftr_cl.__version__} (format {CHECKPOINT_FORMAT}). "
            "Resume it with the version that wrote it, or start over with resume=false, "
            f"{fix_new}.")
    if checkpoint["device"] != device.type:
        raise CheckpointError(
            f"The checkpoint {path} was written by a run on {checkpoint['device']} but this run is on "
            f"{device.type}: resume it with device={checkpoint['device']} (a run continues on the "
            f"kind of device it started on), {fix_new}.")
    other = other_config_message(path, checkpoint["config"], comparable_config(config))
    if other is not None:
        raise CheckpointError(other)
    saved = checkpoint.get("data")
    if data is not None and saved is not None and not same_data(saved, data):
        raise CheckpointError(
            f"The checkpoint {path} was trained on other data than this run would continue on: the checkpoint's "
            f"data has {describe_data(saved)}; the data under data.root={config.get('data', {}).get('root')} has "
            f"{describe_data(data)}. Resume with data.root pointing at the files the run started on (moving "
            f"them to another folder is fine), {fix_new}.")
    return checkpoint


def _announce(event: str, progress: Progress) -> None:
    for hook in CHECKPOINT_EVENTS:
        hook(event, progress)


class RunCheckpoints:
    """The checkpoint of one run folder: whether to resume from it, restoring it, replacing it.

    ``resume``: ``auto`` continues from ``<run dir>/checkpoint.pt`` when it exists, ``true``
    requires it, ``false`` starts over (and replaces it). With ``enabled`` the checkpoint is
    written after every task (:meth:`save`) and, with ``every_n_epochs`` > 0, every N epochs
    inside a task.
    """

    def __init__(self, run_dir: Path, config: Mapping[str, Any], device: torch.device, *,
                 resume: bool | str, enabled: bool, every_n_epochs: int, data: Mapping[str, Any] | None = None) -> None:
        self.folder = RunFolder(run_dir)
        self.path = self.folder.checkpoint
        self.config, self.device, self.data = config, device, data
        self.enabled, self.every_n_epochs = enabled, every_n_epochs
        self.previous = self._read_previous(resume)
        self.start = Progress(**self.previous["progress"]) if self.previous else Progress()
        self._run: tuple[Any, Any, Any] | None = None

    def _read_previous(self, resume: bool | str) -> dict[str, Any] | None:
        if resume is False:
            if self.path.is_file():
                log.warning("resume=false: starting over; %s will be replaced", self.path)
                self.folder.forget_wandb_id()
            return None
        if not self.path.is_file():
            if resume is True:
                raise CheckpointError(
                    f"resume=true but there is no checkpoint {self.path}. Point hydra.run.dir (or "
                    "hydra.sweep.dir for a multirun) at the folder of the run to continue, e.g. "
                    "`laftr-cl ... resume=true hydra.run.dir=logs/runs/split_mnist/ewc/<time>`, "
                    "or leave resume at auto to start a new run.")
            return None
        return read_checkpoint(self.path, self.config, self.device, self.data)

    def attach(self, strategy: Any, plugin: Any, recorder: Any,
               epochs_of_task: Callable[[int], int]) -> Progress:
        """Restores the previous checkpoint (if any) into the fresh run; hooks the epoch saves.

        Returns where training continues. Raises CheckpointError when the checkpoint's state does
        not fit this run, ConfigError when the regularizer's state cannot be checkpointed.
        """
        if self.enabled and not checkpointable(plugin):
            which = getattr(plugin, "not_checkpointable", lambda: [type(plugin).__name__])()
            raise ConfigError(
                f"checkpoint.enabled=true but the regularizer {', '.join(which)} has "
                "no known state to save: run it with `laftr-cl ... checkpoint.enabled=false`.")
        self._run = (strategy, plugin, recorder)
        if self.previous is not None:
            state = self.previous["state"]
            try:
                restore_state(state, strategy, plugin, recorder)
            except (ValueError, RuntimeError, KeyError, TypeError) as err:
                raise CheckpointError(
                    f"The checkpoint {self.path} does not fit this run ({type(err).__name__}: {err}). "
                    "It was altered or written by other code: delete it and start over with "
                    "resume=false.") from err
            if self.start.epochs_done:
                strategy.plugins.append(RestoreAtTaskStart(
                    lambda: restore_training_state(state, strategy, plugin)))
            log.info("resuming from %s: %s", self.path, self.start.describe())
        if self.enabled and self.every_n_epochs:
            strategy.plugins.append(EpochCheckpoint(
                self.every_n_epochs, epochs_of_task, lambda task, epochs: self.save(Progress(task, epochs))))
        return self.start

    def save(self, progress: Progress) -> None:
        """Replaces the checkpoint with the run's state at ``progress`` (when enabled)."""
        if not self.enabled or self._run is None:
            return
        state = capture_state(*self._run)
        write_checkpoint(self.path, make_checkpoint(self.config, self.device, progress, state, self.data))
        write_record(self.path.parent, self.config, vars(progress))
        _announce("checkpoint_written", progress)
