"""LAFTR as an Avalanche plugin: summarize each finished task, add λ·FSD to later tasks' loss.

A thin adapter over :mod:`laftr_cl.fsd` in the shape of Avalanche's EWC plugin: the maths is
``summarize(...)`` in ``after_training_exp`` and ``fsd(...)`` in ``before_backward``.
"""
from __future__ import annotations

import dataclasses
from typing import Any

import torch
from avalanche.core import SupervisedPlugin
from torch import nn

from laftr_cl.fsd import SummaryBank, TaskSummary, fsd, summarize
from laftr_cl.regularizers.fsd_plugin import head_units, publish, summed_bytes, task_data

STORAGE_DTYPES = {"float32": torch.float32, "float16": torch.float16}
"""``storage_dtype`` options: the dtype firing rates and input statistics are kept in between tasks."""


def stored(summary: TaskSummary, storage_dtype: str) -> TaskSummary:
    """``summary`` with its firing rates and input model cast to ``storage_dtype`` (θ_t stays as it is).

    The bank casts them back to the model's dtype when it stacks them, so a ``float16`` summary halves
    the per-task bytes and changes the regularizer only by the rounding of rates and statistics.
    """
    dtype = STORAGE_DTYPES[storage_dtype]
    if dtype == summary.firing_rates[0].dtype:
        return summary
    return dataclasses.replace(summary, firing_rates=tuple(r.to(dtype) for r in summary.firing_rates),
                               inputs=summary.inputs.to(dtype=dtype))


class LaftrPlugin(SupervisedPlugin):
    """Function-space regularization with LAFTR summaries (spec ``shared/design/laftr.md``).

    While training experience k: ``loss = CE + fsd_lambda · mean_{t<k} FSD_t(θ)``, all earlier
    tasks in one batched pass. Options are those of :func:`laftr_cl.fsd.summarize` (``inputs``,
    ``rank``, ``coreset_size``, ``classwise``) and :func:`laftr_cl.fsd.fsd` (``estimator``,
    ``metric``, ``num_samples``, ``gate_draws``, ``same_dropout``, ``anchor``); ``storage_dtype``
    (``float32`` or ``float16``) is the dtype the firing rates and input statistics are kept in.

    Logs ``LAFTR_FSD/train_phase/Exp<k>`` (the mean FSD term of each epoch, before λ) and
    ``LAFTR_summary_bytes`` through the strategy's evaluator. ``memory_bytes()`` reports the
    summaries' size by part. Its state (the summaries) travels in Avalanche checkpoints
    (``save_checkpoint``/``maybe_load_checkpoint`` pickle the strategy with its plugins) and
    through :meth:`state_dict`/:meth:`load_state_dict`.
    """

    def __init__(
        self,
        fsd_lambda: float = 1.0,
        estimator: str = "bernoulli",
        metric: str = "l2_prob",
        num_samples: int = 40,
        inputs: str = "full",
        rank: int | None = None,
        coreset_size: int | None = None,
        classwise: bool = False,
        gate_draws: str = "per_input",
        same_dropout: bool = False,
        anchor: str = "per_task",
        summary_batch_size: int = 1000,
        storage_dtype: str = "float32",
    ) -> None:
        super().__init__()
        if fsd_lambda < 0:
            raise ValueError(f"regularizer.plugin.fsd_lambda={fsd_lambda} must be >= 0.")
        if storage_dtype not in STORAGE_DTYPES:
            raise ValueError(f"regularizer.plugin.storage_dtype={storage_dtype!r} is not a storage dtype: choose "
                             f"{' or '.join(STORAGE_DTYPES)} (the dtype of the kept firing rates and input statistics).")
        self.storage_dtype = storage_dtype
        self.fsd_lambda = fsd_lambda
        self.fsd_options = dict(estimator=estimator, metric=metric, num_samples=num_samples,
                                gate_draws=gate_draws, same_dropout=same_dropout, anchor=anchor)
        self.summary_options = dict(inputs=inputs, rank=rank, coreset_size=coreset_size,
                                    classwise=classwise, batch_size=summary_batch_size)
        self.summaries: dict[int, TaskSummary] = {}
        self._bank: SummaryBank | None = None
        self._epoch_total: torch.Tensor | None = None
        self._epoch_steps = 0

    # ------------------------------------------------------------------ training hooks
    def before_backward(self, strategy: Any, **kwargs: Any) -> None:
        if not self.summaries or self.fsd_lambda == 0:
            return
        if self._bank is None:
            self._bank = SummaryBank(strategy.model, list(self.summaries.values()),
                                     anchor=self.fsd_options["anchor"])
        value = fsd(strategy.model, self._bank, **self.fsd_options)
        strategy.loss += self.fsd_lambda * value
        detached = value.detach()
        self._epoch_total = detached if self._epoch_total is None else self._epoch_total + detached
        self._epoch_steps += 1

    def after_training_epoch(self, strategy: Any, **kwargs: Any) -> None:
        if self._epoch_steps:
            mean = (self._epoch_total / self._epoch_steps).item()
            exp = strategy.experience.current_experience
            publish(strategy, "LaftrPlugin", f"LAFTR_FSD/train_phase/Exp{exp:03d}", mean)
        self._epoch_total, self._epoch_steps = None, 0

    def after_training_exp(self, strategy: Any, **kwargs: Any) -> None:
        """Summarizes the experience just learned, at the final θ_t, in eval mode."""
        exp = strategy.experience
        summary = summarize(strategy.model, task_data(strategy, self.summary_options["batch_size"]),
                            output_units=head_units(strategy), **self.summary_options)
        summary = stored(summary, self.storage_dtype)
        if self.fsd_options["anchor"] == "latest":
            self.summaries = {k: s.without_snapshot() for k, s in self.summaries.items()}
        self.summaries[exp.current_experience] = summary
        self._bank = None
        publish(strategy, "LaftrPlugin", "LAFTR_summary_bytes", self.memory_bytes()["total"])

    # ------------------------------------------------------------------ state
    def memory_bytes(self) -> dict[str, int]:
        """Bytes of all summaries by part (``rates``, ``inputs``, ``snapshot``, ``output_units``)."""
        return summed_bytes(self.summaries.values())

    def state_dict(self) -> dict[str, Any]:
        """The summaries as plain tensors, keyed by experience id."""
        return {"summaries": {k: s.state_dict() for k, s in self.summaries.items()}}

    def load_state_dict(self, state: dict[str, Any], model: nn.Module | None = None) -> None:
        """Restores the summaries of :meth:`state_dict`; with ``model``, first checks they fit it.

        Raises:
            ValueError: with ``model``, a summary does not fit it (firing-rate, snapshot or input
                shapes, output units): it was made for another architecture.
        """
        summaries = {int(k): TaskSummary.from_state_dict(s) for k, s in state["summaries"].items()}
        if model is not None and summaries:
            try:  # the bank checks every summary against the model; fsd() rebuilds it when needed
                SummaryBank(model, list(summaries.values()), anchor=self.fsd_options["anchor"])
            except (ValueError, RuntimeError) as err:
                raise ValueError(
                    f"The LAFTR summaries of tasks {sorted(summaries)} do not fit the model "
                    f"{type(model).__name__}: {err}") from err
        self.summaries = summaries
        self._bank = None

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_bank"] = None  # rebuilt from the summaries on the next step
        return state
