"""Input models: what a task summary keeps of the task's inputs (config ``inputs``).

Each model is fitted once, when the summary is made, on the flattened inputs ``x_flat [N, d]``;
all factorizations happen then, never per step. Every tensor field carries leading *batch*
dimensions, so the same class represents one model (batch ``[]``), the per-class models of a
classwise summary (batch ``[C]``) and the stacked models of a bank (batch ``[N, P]``); sampling
and second moments then work for the whole batch in one call.

Shared interface: ``fit``, ``sample``, ``mean``, ``project`` (second moments for ``exact``),
``nbytes``, ``state_dict`` / ``from_state_dict``, ``stack``, ``concat``, ``take``, ``reshape_batch``, ``to``.
A new input model is one new class registered in ``INPUT_MODELS``.
"""
from __future__ import annotations

from laftr_cl.fsd.input_models.base import INPUT_MODELS, JITTER, InputModel, input_model_class
from laftr_cl.fsd.input_models.coreset import Coreset
from laftr_cl.fsd.input_models.gaussian import DiagGaussian, FullGaussian, LowRankGaussian

__all__ = [
    "JITTER",
    "INPUT_MODELS",
    "InputModel",
    "FullGaussian",
    "DiagGaussian",
    "LowRankGaussian",
    "Coreset",
    "input_model_class",
]
