"""Framework-free LAFTR core (imports torch only): summaries, input models, estimators, metrics.

Typical use::

    summary = summarize(model, (x, y), inputs="full", output_units=[0, 1])  # after task t
    loss = ce + lam * fsd(model, summaries, estimator="bernoulli", num_samples=40)  # task k > t
"""
from laftr_cl.fsd.api import fsd, true_fsd
from laftr_cl.fsd.bank import ANCHORS, CLASS_WEIGHTS, SummaryBank
from laftr_cl.fsd.estimators import ESTIMATORS, GATE_DRAWS, Estimator
from laftr_cl.fsd.gated_view import SUPPORTED_LAYERS, GatedView
from laftr_cl.fsd.input_models import (
    INPUT_MODELS,
    Coreset,
    DiagGaussian,
    FullGaussian,
    InputModel,
    LowRankGaussian,
)
from laftr_cl.fsd.metrics import METRICS
from laftr_cl.fsd.noise import Noise
from laftr_cl.fsd.summary import TaskSummary, summarize

__all__ = [
    "summarize",
    "fsd",
    "true_fsd",
    "TaskSummary",
    "SummaryBank",
    "GatedView",
    "Noise",
    "InputModel",
    "FullGaussian",
    "DiagGaussian",
    "LowRankGaussian",
    "Coreset",
    "Estimator",
    "INPUT_MODELS",
    "ESTIMATORS",
    "METRICS",
    "ANCHORS",
    "CLASS_WEIGHTS",
    "GATE_DRAWS",
    "SUPPORTED_LAYERS",
]
