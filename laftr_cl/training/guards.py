"""Guarded training: stop on a non-finite loss, warn when the regularizer's term explodes.

:class:`TrainingGuard` is a plugin that reads the loss twice per step — the cross-entropy in
``before_backward`` (it is the first plugin, so no regularizer has added its term yet) and the
total in ``after_backward`` — and checks them before the optimizer step.

Checking a value on the host needs a device sync. On the CPU that costs nothing and every step is
checked (``check_every: auto`` → 1). On CUDA (``auto`` → 100) each step only appends its two
0-d loss terms (still on the device) to a window; every ``check_every`` steps and at the end of
each epoch the window is copied to the host in one sync and searched for the first bad step. A
diverged run then goes on for at most ``check_every − 1`` steps before it stops — nothing of it is
kept: checkpoints are written only between tasks (or epochs), so the last good one stays.
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import torch
from avalanche.core import SupervisedPlugin
from torch import Tensor

from laftr_cl.regularizers.combination import parts
from laftr_cl.regularizers.specs import spec_for

log = logging.getLogger(__name__)

CUDA_CHECK_EVERY = 100
"""Steps between host checks on CUDA with ``guard.check_every: auto``."""

CROSS_ENTROPY_FLOOR = 0.01
"""The ratio test divides by at least this (nats): a task already fitted to a cross-entropy of
1e-6 makes any regularizer look "exploded" against it, which is no divergence."""



class NonFiniteLossError(RuntimeError):
    """The training loss became NaN or infinite; the message names where and the loss terms."""


class NoTrainingStepError(RuntimeError):
    """A task ended without a single optimizer step: its results would be those of an untrained model."""


@dataclass(frozen=True)
class StepPlace:
    """Where a training step was: task (experience index), epoch and step, all 0-based."""

    experience: int
    epoch: int
    step: int
    iteration: int

    def describe(self) -> str:
        return (f"task {self.experience + 1} (experience {self.experience}), epoch {self.epoch + 1}, "
                f"step {self.step + 1} of the epoch (iteration {self.iteration + 1} of the run)")


def regularizer_strength(regularizer: Mapping[str, Any], path: str = "regularizer") -> str:
    """``"regularizer.plugin.ewc_lambda=100.0"`` for the ``regularizer`` config node (or a part of a
    combination at ``path``, e.g. ``combine.replay``), or a note."""
    plugin = regularizer.get("plugin") or {}
    spec = spec_for(str(regularizer.get("name")), plugin.get("_target_"))
    if spec is not None and spec.strength is not None and spec.strength in plugin:
        return f"λ: {path}.plugin.{spec.strength}={plugin[spec.strength]}"
    return f"{'regularizer' if path == 'regularizer' else path}={regularizer.get('name')} has no λ"


def strengths(config: Mapping[str, Any]) -> str:
    """:func:`regularizer_strength` of every part of a run config's regularizer, joined by ``; ``."""
    return "; ".join(regularizer_strength(part.config, part.path) for part in parts(config))


class TrainingGuard(SupervisedPlugin):
    """Raises :class:`NonFiniteLossError` on a NaN/inf loss; logs a warning with λ when the
    regularizer's term is more than ``max_regularizer_ratio`` × the cross-entropy (floored at
    ``CROSS_ENTROPY_FLOOR``).

    Also raises :class:`NoTrainingStepError` when a task that had epochs to train ends without a
    single step (a run must never be recorded as trained when it was not).

    Must be the first plugin of the strategy. Keeps per step only a ``[2]`` tensor (cross-entropy,
    regularizer term = total − cross-entropy) until the next check, and the first explosion of
    the regularizer's term in each task (warned about once, and named if the loss then diverges).
    """

    def __init__(self, *, check_every: int, max_regularizer_ratio: float, strength: str,
                 checkpoint_path: Path | None) -> None:
        super().__init__()
        self.check_every = check_every
        self.max_regularizer_ratio = max_regularizer_ratio
        self.strength = strength
        self.checkpoint_path = checkpoint_path
        self._cross_entropy: Tensor | None = None
        self._window: list[tuple[StepPlace, Tensor]] = []
        self._explosions: dict[int, str] = {}
        self._steps_this_task = 0

    @classmethod
    def from_config(cls, guard: Mapping[str, Any], config: Mapping[str, Any],
                    device: torch.device, checkpoint_path: Path | None) -> "TrainingGuard":
        """From the run config's ``guard`` node and its regularizer's parts (``check_every: auto``
        by device)."""
        every = guard["check_every"]
        if every == "auto":
            every = CUDA_CHECK_EVERY if device.type == "cuda" else 1
        return cls(check_every=int(every), max_regularizer_ratio=float(guard["max_regularizer_ratio"]),
                   strength=strengths(config), checkpoint_path=checkpoint_path)

    # ------------------------------------------------------------------ hooks
    def before_backward(self, strategy: Any, **kwargs: Any) -> None:
        # a copy: regularizers add their term to strategy.loss in place
        self._cross_entropy = strategy.loss.detach().clone()

    def after_backward(self, strategy: Any, **kwargs: Any) -> None:
        total = strategy.loss.detach()
        terms = torch.stack([self._cross_entropy.sum(), (total - self._cross_entropy).sum()]).float()
        clock = strategy.clock
        place = StepPlace(getattr(strategy.experience, "current_experience", 0), clock.train_exp_epochs,
                          clock.train_epoch_iterations, clock.train_iterations)
        self._window.append((place, terms))
        if len(self._window) >= self.check_every:
            self._check()

    def after_training_epoch(self, strategy: Any, **kwargs: Any) -> None:
        self._check()

    def before_training_exp(self, strategy: Any, **kwargs: Any) -> None:
        self._steps_this_task = 0

    def after_training_iteration(self, strategy: Any, **kwargs: Any) -> None:
        self._steps_this_task += 1

    def after_training_exp(self, strategy: Any, **kwargs: Any) -> None:
        if self._steps_this_task == 0 and strategy.train_epochs > 0:
            task = getattr(strategy.experience, "current_experience", 0) + 1
            raise NoTrainingStepError(
                f"Task {task} ended after {strategy.train_epochs} epoch(s) without a single optimizer step "
                f"(its training data gave no minibatch of train.batch_size={strategy.train_mb_size}), so its "
                "results would be those of an untrained model; nothing was recorded for it. Check the data "
                "(data.root, data.synthetic) and train.batch_size, then start a new run.")

    # ------------------------------------------------------------------ checks
    def _check(self) -> None:
        """Copies the window's terms to the host (one sync) and inspects them in step order."""
        if not self._window:
            return
        places = [place for place, _ in self._window]
        rows = torch.stack([terms for _, terms in self._window]).cpu().tolist()
        self._window = []
        for place, (cross_entropy, term) in zip(places, rows):
            if not math.isfinite(cross_entropy + term):
                raise NonFiniteLossError(self._message(place, cross_entropy, term))
            ratio = term / max(abs(cross_entropy), CROSS_ENTROPY_FLOOR)
            if ratio > self.max_regularizer_ratio and place.experience not in self._explosions:
                self._explosions[place.experience] = (
                    f"at {place.describe()}: λ · penalty={term:.4g}, {ratio:.3g} × the "
                    f"cross-entropy {cross_entropy:.4g} ({self.strength})")
                log.warning("The regularizer's term exploded %s; guard.max_regularizer_ratio=%g, "
                            "warned once per task. Lower λ if training stalls or diverges.",
                            self._explosions[place.experience], self.max_regularizer_ratio)

    def _message(self, place: StepPlace, cross_entropy: float, term: float) -> str:
        kept = (f"the last good checkpoint, {self.checkpoint_path}, is kept"
                if self.checkpoint_path is not None and self.checkpoint_path.is_file()
                else "no checkpoint had been written yet")
        if math.isfinite(cross_entropy):
            terms = (f"cross-entropy={cross_entropy:.6g}, regularizer term (λ · penalty)={term} "
                     f"({self.strength}): the regularizer's term diverged")
        else:
            terms = f"cross-entropy={cross_entropy} ({self.strength}): the cross-entropy diverged"
        earlier = place.experience in self._explosions and \
            f" Before that, the regularizer's term exploded {self._explosions[place.experience]}."
        return (f"The training loss is not finite at {place.describe()}: {terms}.{earlier or ''} "
                f"Training stopped and {kept}. To fix: lower optimizer.lr, or lower λ when the "
                "regularizer's term diverged, or check the data for NaN inputs; then start a new run "
                "(a checkpoint continues only the config that wrote it).")
