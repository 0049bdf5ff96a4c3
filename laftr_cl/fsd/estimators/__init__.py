"""Estimators of FSD from task summaries (config ``estimator``): ``bernoulli``, ``relu``, ``exact``."""
from laftr_cl.fsd.estimators.base import ESTIMATORS, GATE_DRAWS, Estimator, require_gate_statistics
from laftr_cl.fsd.estimators.exact import ExactEstimator
from laftr_cl.fsd.estimators.sampled import BernoulliEstimator, ReluEstimator, SampledEstimator

__all__ = [
    "ESTIMATORS",
    "GATE_DRAWS",
    "Estimator",
    "SampledEstimator",
    "BernoulliEstimator",
    "ReluEstimator",
    "ExactEstimator",
    "require_gate_statistics",
]
