"""The FSD estimators the study compares, each at stated memory budgets, behind one interface.

Each row is an :class:`~laftr_cl.fsd.methods.FsdMethod` (``laftr``, ``liftr``, ``fisher``, ``coreset``,
``ntk``) fitted once at θ_A on task A's training data, which then estimates FSD_A(θ) at any θ.
``numbers`` counts the numbers it stores for task A besides θ_A itself (which every method except
``coreset`` also keeps: ``keeps_snapshot``) and besides the head's unit indices.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

import torch
from torch import Tensor, nn

from laftr_cl.fsd.estimators import ESTIMATORS
from laftr_cl.fsd.methods import FsdMethod, Summary, fsd_method

Data = tuple[Tensor, Tensor]


@dataclass(frozen=True)
class Method:
    """One row of the study: ``family`` (laftr, liftr, ewc, coreset, ntk), its ``setting`` (estimator,
    input model, budget), the FSD ``method`` and how many estimates (``draws``) one point averages.
    Summaries are drawn with ``seed``, a sampled estimate's inputs and gates with ``seed + 1``."""

    family: str
    setting: str
    method: FsdMethod
    seed: int
    draws: int = 1

    @property
    def label(self) -> str:
        return f"{self.family} {self.setting}"

    @property
    def target(self) -> str:
        """The ρ whose true FSD this row's estimate is compared with."""
        return self.method.metric

    def fit(self, model: nn.Module, data: Data, units: list[int] | None, cache: dict) -> "Fitted":
        """Summarizes task A at the model's θ_A (rows with the same summary options share one summary)."""
        key = self.method.summary_key()
        if key not in cache:
            cache[key] = self.method.summarize(model, data, output_units=units,
                                               generator=torch.Generator().manual_seed(self.seed))
        return Fitted(self, cache[key], torch.Generator().manual_seed(self.seed + 1))


@dataclass
class Fitted:
    """A row fitted on task A: :meth:`estimate` gives FSD_A at a model's θ; ``numbers`` its memory."""

    row: Method
    summary: Summary
    generator: torch.Generator
    _prepared: tuple[nn.Module, Any] | None = field(default=None, repr=False)

    @property
    def numbers(self) -> int:
        return self.row.method.stored_numbers(self.summary)

    @property
    def keeps_snapshot(self) -> bool:
        return self.row.method.keeps_snapshot

    def estimate(self, current: nn.Module) -> float:
        """The mean of ``draws`` estimates at ``current``'s parameters (no gradient)."""
        method = self.row.method
        if self._prepared is None or self._prepared[0] is not current:
            self._prepared = (current, method.prepare(current, [self.summary]))
        with torch.no_grad():
            values = [method.estimate(current, self._prepared[1], generator=self.generator).item()
                      for _ in range(self.row.draws)]
        return sum(values) / self.row.draws


def build_methods(spec: Mapping[str, Any], *, metric: str, num_samples: int, repeats: int,
                  seed: int, is_mlp: bool) -> list[Method]:
    """The methods listed under the study config's ``methods`` (see ``configs/fsd_study.yaml``).

    Sampled LAFTR and stochastic LIFTR estimators average ``repeats`` estimates of ``num_samples`` draws
    each; LAFTR's ``exact`` and LIFTR estimate the ``l2_logit`` FSD, the Fisher quadratic the ``kl`` FSD
    (its second-order expansion), every other method the study's ``metric``.
    """
    methods: list[Method] = []
    laftr = spec.get("laftr") or {}
    estimators = list(laftr.get("estimators") or [])
    if "exact" in estimators and not is_mlp:
        raise ValueError("methods.laftr.estimators contains exact, which propagates moments through MLPs only: "
                         "drop it for this model, e.g. methods.laftr.estimators=[bernoulli,relu].")
    for inputs in _input_models(laftr):
        for estimator in estimators:
            if inputs["rates"] == "none" and ESTIMATORS.get(estimator).reads_gate_statistics:
                continue  # rates=none keeps no gate statistics: a row for the relu estimator only
            options = {k: v for k, v in inputs.items() if k != "name"}
            method = fsd_method("laftr", estimator=estimator, metric="l2_logit" if estimator == "exact" else metric,
                                num_samples=num_samples, **options)
            methods.append(Method("laftr", f"{estimator}, {inputs['name']}", method, seed,
                                  draws=1 if estimator == "exact" else repeats))
    liftr = spec.get("liftr") or {}
    for covariance in liftr.get("covariances") or []:
        for mode in liftr.get("modes") or []:
            method = fsd_method("liftr", mode=mode, covariance=covariance, num_samples=num_samples)
            methods.append(Method("liftr", f"{mode}, {covariance}", method, seed,
                                  draws=1 if mode == "deterministic" else repeats))
    ewc = spec.get("ewc") or {}
    for kind in ewc.get("fisher") or []:
        methods.append(Method("ewc", f"{kind} Fisher", fsd_method("fisher", fisher=kind,
                                                                  batch_size=ewc.get("batch_size", 64)), seed))
    for family in ("coreset", "ntk"):
        for size in (spec.get(family) or {}).get("sizes") or []:
            methods.append(Method(family, f"m={size}", fsd_method(family, coreset_size=size, metric=metric), seed))
    if not methods:
        raise ValueError("The study has no methods: list some under methods.* (see configs/fsd_study.yaml).")
    return methods


def _input_models(laftr: Mapping[str, Any]) -> list[dict[str, Any]]:
    """``{inputs, rank, coreset_size, rates, bn_stats, smooth_ops, name}`` per input model, budget, firing-rate
    layout, BatchNorm statistics (``bn_stats``: whose the current network uses) and way the current network runs
    norms, softmax and elementwise functions (``smooth_ops``: exact or linearized) asked for."""
    models = []
    for inputs in laftr.get("inputs") or []:
        if inputs == "lowrank":
            models += [{"inputs": inputs, "rank": k, "name": f"lowrank k={k}"} for k in laftr.get("rank") or []]
        elif inputs == "coreset":
            models += [{"inputs": inputs, "coreset_size": m, "name": f"coreset m={m}"}
                       for m in laftr.get("coreset_size") or []]
        else:
            models.append({"inputs": inputs, "name": inputs})
    layouts = laftr.get("rates") or ["per_unit"]
    rate_names = {"per_unit": "", "none": ", no gate statistics"}
    with_rates = [{**m, "rates": r, "name": m["name"] + rate_names.get(r, f", {r} rates")}
                  for m in models for r in layouts]
    statistics = laftr.get("bn_stats") or ["reference"]
    with_statistics = [{**m, "bn_stats": b, "name": m["name"] if b == "reference" else f"{m['name']}, {b} BN stats"}
                       for m in with_rates for b in statistics]
    smooth = laftr.get("smooth_ops") or ["exact"]
    return [{**m, "smooth_ops": o, "name": m["name"] if o == "exact" else f"{m['name']}, {o} smooth ops"}
            for m in with_statistics for o in smooth]
