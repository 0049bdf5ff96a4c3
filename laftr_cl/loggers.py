"""Logger factories the Hydra ``logger/`` configs point at (Avalanche's loggers do the work)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from avalanche.evaluation.metric_results import AlternativeValues
from avalanche.logging import TextLogger
from avalanche.logging import WandBLogger as AvalancheWandBLogger

from laftr_cl.wandb_resume import persistent_run_id


def text_file_logger(path: str) -> TextLogger:
    """Avalanche's ``TextLogger`` writing to ``path`` (created with its folder; appended to)."""
    file = Path(path)
    file.parent.mkdir(parents=True, exist_ok=True)
    return TextLogger(open(file, "a", buffering=1))


class WandBLogger(AvalancheWandBLogger):
    """Avalanche 0.6's ``WandBLogger``, made to work with current wandb releases.

    Avalanche 0.6 asks ``wandb.util.generate_id`` for a run id and tests values against
    ``wandb.viz.CustomChart``; wandb ≥ 0.2x has neither. Here the id is chosen before
    ``wandb.init`` and kept in the run folder (:mod:`laftr_cl.wandb_resume`: a resumed or requeued
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
