"""laftr-cl's Optuna sweeper: hydra-optuna-sweeper's, ending a search without a completed trial cleanly.

hydra-optuna-sweeper 1.2 asks the study for its best trial after the last one; when no trial
completed (every trial failed, or ``hydra.sweeper.n_trials=0``) Optuna raises ``ValueError: No
trials are completed yet`` and the search ends with a traceback and no
``optimization_results.yaml``. :class:`LaftrOptunaSweeper` runs the same search and, in that case
only, writes ``optimization_results.yaml`` with ``best_params: null`` and ``best_value: null``,
prints one paragraph saying why, and ends normally (exit status 0, as for any search).

Hydra finds sweepers only in the ``hydra_plugins`` namespace package, hence this module's place;
``configs/hparams_search/optuna.yaml`` selects it through ``hydra.sweeper._target_``.
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, List

from hydra_plugins.hydra_optuna_sweeper.optuna_sweeper import OptunaSweeper
from omegaconf import OmegaConf

from laftr_cl.loggers.console import quiet_optuna

RESULTS_NAME = "optimization_results.yaml"
NO_COMPLETED_TRIAL = "No trials are completed yet"
"""The start of Optuna's message when a study has no completed trial to call best."""


class LaftrOptunaSweeper(OptunaSweeper):
    """See the module docstring. Optuna logs warnings only where laftr-cl quiets the console
    (:func:`laftr_cl.loggers.console.quiet_optuna`)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)  # imports Optuna
        quiet_optuna()

    def sweep(self, arguments: List[str]) -> None:
        try:
            return super().sweep(arguments)
        except ValueError as err:
            if not str(err).startswith(NO_COMPLETED_TRIAL):
                raise
        impl = self.sweeper
        sweep_dir = Path(str(impl.config.hydra.sweep.dir)).absolute()
        trials = impl.n_trials
        OmegaConf.save(OmegaConf.create({"name": "optuna", "best_params": None, "best_value": None,
                                         "completed_trials": 0, "trials": trials}), sweep_dir / RESULTS_NAME)
        if trials == 0:
            why = ("hydra.sweeper.n_trials=0 asks for no trial, so there is no best one. Give the search trials, "
                   "e.g. `hydra.sweeper.n_trials=20`.")
        else:
            why = (f"all {trials} trial(s) failed (each one's error is in its results.json and in the list of failed jobs), so "
                   "there is no best one. Narrow the search to values that train (e.g. lower the upper bound of "
                   "optimizer.lr or λ in hydra.sweeper.params), then run it again.")
        print(f"laftr-cl: the search in {sweep_dir} has no completed trial: {why} {sweep_dir / RESULTS_NAME} says "
              "best_params: null.", file=sys.stderr)
        return None
