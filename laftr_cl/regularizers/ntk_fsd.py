"""The network linearized in its parameters around θ_t, evaluated on m stored examples per task.
The one FSD plugin base with the
``ntk`` FSD method (:class:`~laftr_cl.fsd.methods.NtkMethod`).
"""
from __future__ import annotations

from laftr_cl.fsd.methods import NtkMethod
from laftr_cl.regularizers.fsd_plugin import FsdRegularizerPlugin


class NtkFsdPlugin(FsdRegularizerPlugin):
    """``loss = CE + fsd_lambda · mean_{t<k} mean_{x in coreset_t} ρ(f(x; θ_t), f(x; θ_t) + J_t(x)(θ − θ_t))``
    on the task's head O_t.

    Keeps per task ``coreset_size`` inputs drawn uniformly from its training data and θ_t.
    ``seed`` draws the stored inputs.
    """

    log_name = "NtkFSD"

    def __init__(self, fsd_lambda: float = 1.0, coreset_size: int = 40, metric: str = "l2_prob",
                 seed: int = 0, summary_batch_size: int = 1000) -> None:
        method = NtkMethod(coreset_size=coreset_size, metric=metric, batch_size=summary_batch_size)
        super().__init__(method, fsd_lambda, summary_batch_size, seed)
