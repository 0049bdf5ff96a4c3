"""Function-space regularization on a memory: the true output discrepancy on m stored examples
per task (the nonparametric reference point for LAFTR). The one FSD plugin base with the
``coreset`` FSD method (:class:`~laftr_cl.fsd.methods.CoresetMethod`).
"""
from __future__ import annotations

from laftr_cl.fsd.methods import CoresetMethod
from laftr_cl.regularizers.catalog import CORESET_FSD
from laftr_cl.regularizers.fsd_plugin import FsdRegularizerPlugin

DEFAULTS = CORESET_FSD.defaults()
"""The options' defaults, declared once in the ``coreset_fsd`` spec (the yaml sets the same values)."""


class CoresetFsdPlugin(FsdRegularizerPlugin):
    """``loss = CE + fsd_lambda · mean_{t<k} mean_{x in coreset_t} ρ(f(x; θ_t)[O_t], f(x; θ)[O_t])``.

    Keeps per task ``coreset_size`` inputs drawn uniformly from its training data and the logits
    of θ_t on them (no parameters). ``seed`` draws the coresets.
    """

    log_name = "CoresetFSD"

    def __init__(self, fsd_lambda: float = DEFAULTS["fsd_lambda"], coreset_size: int = DEFAULTS["coreset_size"],
                 metric: str = DEFAULTS["metric"], seed: int = DEFAULTS["seed"],
                 summary_batch_size: int = DEFAULTS["summary_batch_size"]) -> None:
        method = CoresetMethod(coreset_size=coreset_size, metric=metric, batch_size=summary_batch_size)
        super().__init__(method, fsd_lambda, summary_batch_size, seed)
