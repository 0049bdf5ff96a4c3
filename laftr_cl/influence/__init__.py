"""Influence estimation with compact FSD summaries (pure torch; no Avalanche).

The target is the proximal Bregman response function (PBRF, Bae et al., 2022): for a training
example z of N,

    θ*(z) = argmin_θ  D(θ, θ_s) − ε · CE(z; θ) + (λ/2) ‖θ − θ_s‖²,   ε = 1/N,

with D the FSD to the trained network θ_s averaged over the training set. LAFTR replaces D by its
estimate from a :class:`~laftr_cl.fsd.TaskSummary`, so a response needs the summary, not the data.

Modules: ``proximity`` (the D terms behind one interface: ``true_fsd``, ``laftr``, ``fisher``,
``subset``, ``none``; ``fisher`` is the diagonal Gauss-Newton curvature of the FSD metric,
:func:`laftr_cl.fsd.baselines.fisher.diagonal_ggn`, the true Fisher for ``kl``), ``response``
(the solver and the loss changes it causes), ``detection`` (the mislabeled-example curve and its
area). The studies that use them (``scripts/influence.py``, ``scripts/mislabeled.py``) live in
:mod:`laftr_cl.study.influence`.

Choices: ρ = ``kl`` by default (the Bregman divergence of softmax cross-entropy, i.e. the PBRF's own
term); K heavy-ball gradient steps from θ_s (not Adam, whose normalized steps are not linear in ε);
loss changes evaluated in float64 and reported divided by ε; a LAFTR term keeps its draws fixed over
the K steps (``fixed_draws``), so each response minimizes one deterministic objective.
"""
from laftr_cl.fsd.baselines.fisher import diagonal_ggn, metric_hessian_factor
from laftr_cl.influence.detection import DetectionCurve, detection_curve, random_curve
from laftr_cl.influence.proximity import (
    PROXIMITIES,
    DataFSD,
    DiagonalQuadratic,
    MethodFSD,
    NoProximity,
    Proximity,
    build_proximity,
)
from laftr_cl.influence.response import (
    SolverSettings,
    loss_changes,
    response_objective,
    self_loss_changes,
    solve_responses,
)

__all__ = [
    "PROXIMITIES",
    "Proximity",
    "DataFSD",
    "MethodFSD",
    "DiagonalQuadratic",
    "NoProximity",
    "build_proximity",
    "diagonal_ggn",
    "metric_hessian_factor",
    "SolverSettings",
    "response_objective",
    "solve_responses",
    "loss_changes",
    "self_loss_changes",
    "DetectionCurve",
    "detection_curve",
    "random_curve",
]
