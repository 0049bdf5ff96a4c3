"""Logger factories the Hydra ``logger/`` configs point at (Avalanche's loggers do the work)."""
from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any, Mapping, TextIO

from avalanche.evaluation.metric_results import AlternativeValues
from avalanche.logging import BaseLogger, TextLogger
from avalanche.logging import WandBLogger as AvalancheWandBLogger

from laftr_cl.loggers.wandb_resume import persistent_run_id

log = logging.getLogger(__name__)


def text_file_logger(path: str) -> TextLogger:
    """Avalanche's ``TextLogger`` writing to ``path`` (created with its folder; appended to)."""
    file = Path(path)
    file.parent.mkdir(parents=True, exist_ok=True)
    return TextLogger(open(file, "a", buffering=1))


class TaskProgressBar(BaseLogger):
    """One progress bar per training task on the terminal (all its epochs), and nothing else.

    No bar when ``stream`` (default ``sys.stderr``) is not a terminal: a log file or a CI job gets no
    carriage-return noise. The metrics go to the other loggers (``log.txt``, CSV, wandb); the
    console's accuracy is laftr-cl's own "average accuracy on seen tasks" line after each task.
    """

    def __init__(self, stream: TextIO | None = None) -> None:
        super().__init__()
        self.stream = stream if stream is not None else sys.stderr
        self._bar: Any = None

    def log_single_metric(self, name: str, value: Any, x_plot: int) -> None:
        """Metrics are not shown on the console."""

    def after_training_iteration(self, strategy: Any, metric_values: Any, **kwargs: Any) -> None:
        if self._bar is None and self.stream.isatty():
            from tqdm import tqdm

            task = strategy.clock.train_exp_counter
            self._bar = tqdm(total=strategy.train_epochs * len(strategy.dataloader), file=self.stream,
                             desc=f"task {task + 1}", unit="step", leave=True, dynamic_ncols=True)
        if self._bar is not None:
            self._bar.update(1)

    def after_training_exp(self, strategy: Any, metric_values: Any, **kwargs: Any) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


class WandBLogger(AvalancheWandBLogger):
    """Avalanche 0.6's ``WandBLogger``, made to work with current wandb releases.

    Avalanche 0.6 asks ``wandb.util.generate_id`` for a run id and tests values against
    ``wandb.viz.CustomChart``; wandb ≥ 0.2x has neither. Here the id is chosen before
    ``wandb.init`` and kept in the run folder (:mod:`laftr_cl.loggers.wandb_resume`: a resumed or requeued
    run continues its wandb run; ``WANDB_RUN_ID`` wins for a new one), and scalar
    metrics — all that laftr-cl's evaluator produces — are logged directly; anything else goes
    to Avalanche's own code.
    """

    def __init__(self, *, params: dict[str, Any] | None = None, **kwargs: Any) -> None:
        params = dict(params or {})
        params.setdefault("id", persistent_run_id(kwargs.get("dir")))
        params.setdefault("resume", "allow")
        super().__init__(params=params, **kwargs)

    def log_single_metric(self, name: str, value: Any, x_plot: int) -> None:
        if isinstance(value, AlternativeValues):
            value = value.best_supported_value(float, int)
        if isinstance(value, (float, int)):
            self.step = x_plot
            self.wandb.log({name: value}, step=self.step)
        elif value is not None:
            super().log_single_metric(name, value, x_plot)


def keep_interrupted_logs(logger_config: Mapping[str, Any]) -> None:
    """On resume, renames log folders that loggers rewrite from scratch (Avalanche's CSV logger,
    ``log_folder``) to ``<folder>.part<n>``, so the interrupted run's rows stay."""
    for entry in logger_config.values():
        folder = Path(entry["log_folder"]) if "log_folder" in entry else None
        if folder is not None and folder.is_dir():
            parts = (folder.with_name(f"{folder.name}.part{n}") for n in range(1, 10_000))
            part = next(part for part in parts if not part.exists())
            folder.rename(part)
            log.info("resuming: the interrupted run's logs in %s/ moved to %s/; %s/ holds the rows from "
                     "here on (read the parts in order for the whole run)", folder.name, part.name, folder.name)
