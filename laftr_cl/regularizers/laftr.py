"""LAFTR as an Avalanche plugin: summarize each finished task, add λ·FSD to later tasks' loss.

The one FSD plugin base (:class:`~laftr_cl.regularizers.fsd_plugin.FsdRegularizerPlugin`) with the
``laftr`` FSD method: ``summarize(...)`` in ``after_training_exp`` and ``fsd(...)`` in ``before_backward``.
"""
from __future__ import annotations

from laftr_cl.fsd.methods import LaftrMethod
from laftr_cl.regularizers.catalog import LAFTR
from laftr_cl.regularizers.fsd_plugin import FsdRegularizerPlugin

DEFAULTS = LAFTR.defaults()
"""The options' defaults, declared once in the ``laftr`` spec (the yaml sets the same values)."""


class LaftrPlugin(FsdRegularizerPlugin):
    """Function-space regularization with LAFTR summaries (the method: docs/method.md).

    While training experience k: ``loss = CE + fsd_lambda · mean_{t<k} FSD_t(θ)``, all earlier
    tasks in one batched pass. Options are those of :func:`laftr_cl.fsd.summarize` (``inputs``,
    ``rank``, ``coreset_size``, ``classwise``, ``rates``) and :func:`laftr_cl.fsd.fsd` (``estimator``,
    ``metric``, ``num_samples``, ``gate_draws``, ``same_dropout``, ``anchor``); ``storage_dtype``
    (``float32`` or ``float16``; None: the model's) is the dtype the firing rates and input statistics
    are kept in. The defaults are the ``laftr`` spec's (:mod:`laftr_cl.regularizers.catalog`), the
    values ``regularizer=laftr`` composes: ``rank`` and ``coreset_size`` are used only by
    ``inputs="lowrank"`` and ``inputs="coreset"``.
    ``seed`` draws the stored inputs of ``inputs="coreset"`` (a checkpointed generator, not torch's
    global one).

    Logs ``LAFTR_FSD/train_phase/Exp<k>`` (the mean FSD term of each epoch, before λ) and
    ``LAFTR_summary_bytes`` through the strategy's evaluator. ``memory_bytes()`` reports the
    summaries' size by part (``rates``, ``inputs``, ``snapshot``, ``output_units``). Its state (the
    summaries and the generator) travels in Avalanche checkpoints and through
    :meth:`state_dict`/:meth:`load_state_dict`.
    """

    log_name = "LAFTR_FSD"
    bytes_log_name = "LAFTR_summary_bytes"
    summary_name = "LAFTR"

    def __init__(
        self,
        fsd_lambda: float = DEFAULTS["fsd_lambda"],
        estimator: str = DEFAULTS["estimator"],
        metric: str = DEFAULTS["metric"],
        num_samples: int = DEFAULTS["num_samples"],
        inputs: str = DEFAULTS["inputs"],
        rank: int | None = DEFAULTS["rank"],
        coreset_size: int | None = DEFAULTS["coreset_size"],
        classwise: bool = DEFAULTS["classwise"],
        rates: str = DEFAULTS["rates"],
        gate_draws: str = DEFAULTS["gate_draws"],
        same_dropout: bool = DEFAULTS["same_dropout"],
        anchor: str = DEFAULTS["anchor"],
        summary_batch_size: int = DEFAULTS["summary_batch_size"],
        storage_dtype: str | None = DEFAULTS["storage_dtype"],
        seed: int = DEFAULTS["seed"],
    ) -> None:
        method = LaftrMethod(estimator=estimator, metric=metric, num_samples=num_samples, inputs=inputs, rank=rank,
                             coreset_size=coreset_size, classwise=classwise, rates=rates, gate_draws=gate_draws,
                             same_dropout=same_dropout, anchor=anchor, batch_size=summary_batch_size,
                             storage_dtype=storage_dtype)
        super().__init__(method, fsd_lambda, summary_batch_size, seed)
