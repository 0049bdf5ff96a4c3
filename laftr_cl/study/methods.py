"""The FSD estimators the study compares, each at stated memory budgets, behind one interface.

A :class:`Method` is fitted once at θ_A on task A's training data and then estimates FSD_A(θ)
at any θ. ``numbers`` counts the numbers it stores for task A besides θ_A itself (which every
method except ``coreset`` also keeps: ``keeps_snapshot``) and besides the head's unit indices.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping

import torch
from torch import Tensor, nn

from laftr_cl.fsd import fsd, summarize
from laftr_cl.fsd.baselines import (
    coreset_fsd,
    coreset_summarize,
    fisher_fsd,
    fisher_summarize,
    ntk_fsd,
    ntk_summarize,
)

Data = tuple[Tensor, Tensor]


@dataclass
class Fitted:
    """A method fitted on task A: ``estimate(model) → FSD_A`` at the model's θ, and its memory."""

    estimate: Callable[[nn.Module], float]
    numbers: int
    keeps_snapshot: bool


@dataclass(frozen=True)
class Method:
    """One row of the study: ``family`` (laftr, ewc, coreset, ntk), its ``setting`` (estimator,
    input model, budget) and the metric ``target`` its estimate is compared against."""

    family: str
    setting: str
    target: str
    fit: Callable[[nn.Module, Data, list[int] | None, dict], Fitted]

    @property
    def label(self) -> str:
        return f"{self.family} {self.setting}"


def build_methods(spec: Mapping[str, Any], *, metric: str, num_samples: int, repeats: int,
                  seed: int, is_mlp: bool) -> list[Method]:
    """The methods listed under the study config's ``methods`` (see ``configs/fsd_study.yaml``).

    Sampled LAFTR estimators average ``repeats`` estimates of ``num_samples`` draws each;
    ``exact`` estimates the ``l2_logit`` FSD, the Fisher quadratic the ``kl`` FSD (its
    second-order expansion), every other method the study's ``metric``.
    """
    methods: list[Method] = []
    laftr = spec.get("laftr") or {}
    estimators = list(laftr.get("estimators") or [])
    if "exact" in estimators and not is_mlp:
        raise ValueError("methods.laftr.estimators contains exact, which propagates moments through MLPs only: "
                         "drop it for this model, e.g. methods.laftr.estimators=[bernoulli,relu].")
    for inputs in _input_models(laftr):
        for estimator in estimators:
            methods.append(_laftr(estimator, inputs, metric, num_samples, repeats, seed))
    for kind in (spec.get("ewc") or {}).get("fisher") or []:
        methods.append(_ewc(kind, (spec.get("ewc") or {}).get("batch_size", 64)))
    for size in (spec.get("coreset") or {}).get("sizes") or []:
        methods.append(_stored("coreset", size, metric, seed))
    for size in (spec.get("ntk") or {}).get("sizes") or []:
        methods.append(_stored("ntk", size, metric, seed))
    if not methods:
        raise ValueError("The study has no methods: list some under methods.* (see configs/fsd_study.yaml).")
    return methods


def _input_models(laftr: Mapping[str, Any]) -> list[dict[str, Any]]:
    """``{inputs, rank, coreset_size, rates, name}`` per input model, budget and firing-rate layout asked for."""
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
    return [{**m, "rates": r, "name": m["name"] if r == "per_unit" else f"{m['name']}, {r} rates"}
            for m in models for r in layouts]


def _laftr(estimator: str, inputs: dict[str, Any], metric: str, num_samples: int, repeats: int,
           seed: int) -> Method:
    target = "l2_logit" if estimator == "exact" else metric
    draws = 1 if estimator == "exact" else repeats

    def fit(model: nn.Module, data: Data, units: list[int] | None, cache: dict) -> Fitted:
        key = ("laftr", inputs["name"])
        if key not in cache:
            cache[key] = summarize(model, data, inputs=inputs["inputs"], rank=inputs.get("rank"),
                                   coreset_size=inputs.get("coreset_size"), rates=inputs["rates"], output_units=units,
                                   generator=torch.Generator().manual_seed(seed))
        summary = cache[key]
        generator = torch.Generator().manual_seed(seed + 1)

        def estimate(current: nn.Module) -> float:
            with torch.no_grad():
                return sum(fsd(current, [summary], estimator=estimator, metric=target, num_samples=num_samples,
                               generator=generator).item() for _ in range(draws)) / draws

        numbers = sum(r.numel() for r in summary.firing_rates) + sum(
            t.numel() for t in summary.inputs.tensors().values())
        return Fitted(estimate, numbers, keeps_snapshot=True)

    return Method("laftr", f"{estimator}, {inputs['name']}", target, fit)


def _ewc(kind: str, batch_size: int) -> Method:
    def fit(model: nn.Module, data: Data, units: list[int] | None, cache: dict) -> Fitted:
        summary = fisher_summarize(model, data, fisher=kind, output_units=units, batch_size=batch_size)

        def estimate(current: nn.Module) -> float:
            with torch.no_grad():
                return fisher_fsd(current, [summary]).item()

        return Fitted(estimate, sum(t.numel() for t in summary.diagonal.values()), keeps_snapshot=True)

    return Method("ewc", f"{kind} Fisher", "kl", fit)


def _stored(family: str, size: int, metric: str, seed: int) -> Method:
    summarize_stored, estimate_stored = {"coreset": (coreset_summarize, coreset_fsd),
                                         "ntk": (ntk_summarize, ntk_fsd)}[family]

    def fit(model: nn.Module, data: Data, units: list[int] | None, cache: dict) -> Fitted:
        summary = summarize_stored(model, data, coreset_size=size, output_units=units,
                                   generator=torch.Generator().manual_seed(seed))

        def estimate(current: nn.Module) -> float:
            with torch.no_grad():
                return estimate_stored(current, [summary], metric=metric).item()

        numbers = summary.points.numel() + (summary.reference_logits.numel() if family == "coreset" else 0)
        return Fitted(estimate, numbers, keeps_snapshot=family == "ntk")

    return Method(family, f"m={size}", metric, fit)
