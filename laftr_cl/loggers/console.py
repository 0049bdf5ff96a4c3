"""A quiet console: the known third-party warnings and chatter of a normal run, silenced narrowly.

:func:`quiet` drops exactly the warnings listed in :data:`KNOWN_WARNINGS` (by category, message and
the file that raises them; any other warning still shows), makes wandb silent and Optuna (and the
alembic migrations of its storage) log warnings only. ``LAFTR_CL_VERBOSE=1`` leaves all of it on.
"""
from __future__ import annotations

import logging
import os
import re
import warnings
from typing import Any

VERBOSE_ENV = "LAFTR_CL_VERBOSE"

KNOWN_WARNINGS: tuple[tuple[type[Warning], str, str], ...] = (
    # Avalanche imports qpsolvers (for GEM-like strategies laftr-cl does not use), which warns at import
    (UserWarning, r"no QP solver found", r"qpsolvers[/\\]"),
    # Avalanche 0.6's ReplayPlugin calls its own deprecated storage-policy update once per task
    (DeprecationWarning, r"Call to deprecated function update", r"avalanche[/\\]training[/\\]plugins[/\\]replay\.py"),
    # Avalanche 0.6's SI squares tensors with NumPy 2, which warns about torch's __array_wrap__
    (DeprecationWarning, r"__array_wrap__ must accept context",
     r"avalanche[/\\]training[/\\]plugins[/\\]synaptic_intelligence\.py"),
    # torch.jit's deprecation notice, raised when Avalanche's imports touch torch.jit
    (FutureWarning, r"torch\.jit", r"torch[/\\]jit[/\\]"),
)
"""(category, message pattern, pattern of the raising file) of each warning dropped."""


def _known(message: Warning | str, category: type[Warning], filename: str) -> bool:
    text = str(message)
    return any(issubclass(category, cat) and re.search(msg, text) and re.search(path, filename)
               for cat, msg, path in KNOWN_WARNINGS)


def quiet() -> None:
    """Silences the known warnings and wandb's console output, and Optuna's INFO lines where Optuna is
    imported after it (:func:`quiet_optuna`). Once per process."""
    if os.environ.get(VERBOSE_ENV) == "1" or getattr(warnings.showwarning, "_laftr_cl", False):
        return
    shown = warnings.showwarning

    def showwarning(message: Any, category: type[Warning], filename: str, lineno: int, *args: Any, **kwargs: Any) -> None:
        if not _known(message, category, filename):
            shown(message, category, filename, lineno, *args, **kwargs)

    # a display-time filter: Avalanche's @deprecated resets the warning filters on every call
    showwarning._laftr_cl = True  # type: ignore[attr-defined]
    warnings.showwarning = showwarning
    os.environ.setdefault("WANDB_SILENT", "true")
    os.environ.setdefault("WANDB_CONSOLE", "off")
    for name in ("optuna", "alembic", "alembic.runtime.migration"):
        logging.getLogger(name).setLevel(logging.WARNING)


def quiet_optuna() -> None:
    """Optuna's INFO lines (one per trial) down to warnings, where :func:`quiet` quieted this process.
    Optuna resets its logger's level when it is first imported, so laftr-cl's Optuna sweeper calls this
    once it has imported Optuna (importing Optuna takes seconds: a run without a search never does)."""
    if not getattr(warnings.showwarning, "_laftr_cl", False):
        return
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
