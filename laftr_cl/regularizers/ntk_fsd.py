"""The network linearized in its parameters around θ_t, evaluated on m stored examples per task.
The one FSD plugin base with the
``ntk`` FSD method (:class:`~laftr_cl.fsd.methods.NtkMethod`).
"""
from __future__ import annotations

from laftr_cl.fsd.methods import NtkMethod
from laftr_cl.regularizers.catalog import NTK_FSD
from laftr_cl.regularizers.fsd_plugin import FsdRegularizerPlugin

DEFAULTS = NTK_FSD.defaults()
"""The options' defaults, declared once in the ``ntk_fsd`` spec (the yaml sets the same values)."""


class NtkFsdPlugin(FsdRegularizerPlugin):
    """``loss = CE + fsd_lambda · mean_{t<k} mean_{x in coreset_t} ρ(f(x; θ_t), f(x; θ_t) + J_t(x)(θ − θ_t))``
    on the task's head O_t.

    Keeps per task ``coreset_size`` inputs drawn uniformly from its training data and θ_t.
    ``seed`` draws the stored inputs.
    """

    log_name = "NtkFSD"

    def __init__(self, fsd_lambda: float = DEFAULTS["fsd_lambda"], coreset_size: int = DEFAULTS["coreset_size"],
                 metric: str = DEFAULTS["metric"], seed: int = DEFAULTS["seed"],
                 summary_batch_size: int = DEFAULTS["summary_batch_size"]) -> None:
        method = NtkMethod(coreset_size=coreset_size, metric=metric, batch_size=summary_batch_size)
        super().__init__(method, fsd_lambda, summary_batch_size, seed)
