"""LIFTR as an Avalanche plugin: per-layer statistics of each finished task, λ·FSD on later tasks' loss.

The one FSD plugin base (:class:`~laftr_cl.regularizers.fsd_plugin.FsdRegularizerPlugin`) with the
``liftr`` FSD method (:class:`~laftr_cl.fsd.methods.LiftrMethod`).
"""
from __future__ import annotations

from laftr_cl.fsd.methods import LiftrMethod
from laftr_cl.regularizers.catalog import LIFTR
from laftr_cl.regularizers.fsd_plugin import FsdRegularizerPlugin

DEFAULTS = LIFTR.defaults()
"""The options' defaults, declared once in the ``liftr`` spec (the yaml sets the same values)."""


class LiftrPlugin(FsdRegularizerPlugin):
    """``loss = CE + fsd_lambda · mean_{t<k} ½ E‖Δf[O_t]‖²``, the change of the logits propagated layer by
    layer from each task's stored per-layer input moments and average Jacobians (docs/transformers.md).

    ``mode``: ``deterministic`` (moments in closed form) or ``stochastic`` (``num_samples`` draws per
    task per step); ``covariance``: ``full`` or ``diag`` input moments. Logs ``LIFTR_FSD/train_phase/Exp<k>``
    and ``LIFTR_summary_bytes``; ``memory_bytes()`` sizes the summaries by part (``moments``,
    ``jacobians``, ``snapshot``, ``output_units``); the summaries travel in checkpoints. The defaults are
    the ``liftr`` spec's (:mod:`laftr_cl.regularizers.catalog`). ``seed`` starts the plugin's generator
    (LIFTR's summaries draw nothing; the stochastic estimate draws from the device's generator).
    """

    log_name = "LIFTR_FSD"
    bytes_log_name = "LIFTR_summary_bytes"
    summary_name = "LIFTR"

    def __init__(self, fsd_lambda: float = DEFAULTS["fsd_lambda"], mode: str = DEFAULTS["mode"],
                 covariance: str = DEFAULTS["covariance"], num_samples: int = DEFAULTS["num_samples"],
                 summary_batch_size: int = DEFAULTS["summary_batch_size"], seed: int = 0) -> None:
        method = LiftrMethod(mode=mode, covariance=covariance, num_samples=num_samples, batch_size=summary_batch_size)
        super().__init__(method, fsd_lambda, summary_batch_size, seed)
