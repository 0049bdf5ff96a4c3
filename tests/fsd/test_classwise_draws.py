"""A classwise bank mixing tasks with different numbers of classes: ``S // C_max`` draws per class."""
from __future__ import annotations

import pytest

from laftr_cl.fsd import SummaryBank, fsd, summarize


@pytest.mark.parametrize("anchor", ["per_task", "latest"])
def test_every_component_gets_s_over_c_max_draws(lib, anchor):
    reference = lib.make_mlp()
    x2, y2 = lib.task_data(n=40, classes=2, seed=1)
    x3, y3 = lib.task_data(n=60, classes=3, seed=2)
    summaries = [summarize(reference, (x2, y2), inputs="diag", classwise=True),
                 summarize(reference, (x3, y3), inputs="diag", classwise=True)]
    bank = SummaryBank(reference, summaries, anchor=anchor)
    assert bank.max_classes == 3 and bank.samples_per_slot(40) == 13 and bank.samples_per_slot(2) == 1
    noise = lib.RecordingNoise()
    model = lib.perturb(reference)
    value = fsd(model, summaries, estimator="bernoulli", num_samples=40, anchor=anchor, generator=noise)
    inputs = [tuple(draw.shape) for kind, draw in noise.draws if kind == "normal"]
    assert inputs and all(shape[-2] == 13 for shape in inputs)  # [N, P, S // C_max, d]
    assert value.item() > 0
