"""Pearson and Spearman against hand-computed values."""
from __future__ import annotations

import math

import pytest
import torch

from laftr_cl.study.stats import (
    average_ranks,
    mean_over_rows,
    median_norm_ratio,
    median_relative_error,
    pearson,
    sign_agreement,
    spearman,
)


def test_pearson_by_hand():
    # a − mean = [-1, 0, 1], b − mean = [-2, 1, 1]: r = 3 / sqrt(2 · 6)
    assert pearson(torch.tensor([1.0, 2.0, 3.0]), torch.tensor([0.0, 3.0, 3.0])) == pytest.approx(3 / math.sqrt(12))
    assert pearson(torch.tensor([1.0, 2.0, 3.0]), torch.tensor([6.0, 4.0, 2.0])) == pytest.approx(-1.0)


def test_average_ranks_share_ties():
    torch.testing.assert_close(average_ranks(torch.tensor([10.0, 30.0, 20.0, 30.0, 10.0])),
                               torch.tensor([1.5, 4.5, 3.0, 4.5, 1.5], dtype=torch.float64))


def test_spearman_by_hand_with_ties():
    # ranks a = [1, 2.5, 2.5, 4], b = [2, 1, 3, 4]; centred: [-1.5, 0, 0, 1.5], [-0.5, -1.5, 0.5, 1.5]
    # r = (0.75 + 2.25) / sqrt(4.5 · 5) = 3 / sqrt(22.5)
    a, b = torch.tensor([1.0, 5.0, 5.0, 9.0]), torch.tensor([0.2, 0.1, 0.3, 0.4])
    assert spearman(a, b) == pytest.approx(3 / math.sqrt(22.5))


def test_spearman_ignores_monotone_maps_and_pearson_does_not():
    a = torch.linspace(0.1, 3.0, 20)
    assert spearman(a, a.exp() ** 3) == pytest.approx(1.0)
    assert pearson(a, a.exp() ** 3) < 0.9


def test_constant_input_gives_nan_and_shapes_are_checked():
    assert math.isnan(pearson(torch.ones(4), torch.arange(4.0)))
    with pytest.raises(ValueError, match="one shape"):
        spearman(torch.ones(3), torch.ones(4))


def test_mean_over_rows_and_columns_skips_constant_ones():
    a = torch.tensor([[1.0, 1.0, 3.0], [2.0, 1.0, 2.0], [3.0, 1.0, 1.0]])
    b = torch.tensor([[1.0, 5.0, 1.0], [2.0, 6.0, 2.0], [3.0, 7.0, 3.0]])
    # columns: +1, constant (skipped), −1
    assert mean_over_rows(spearman, a.T, b.T) == pytest.approx(0.0)
    # rows: (1,1,3)~(1,5,1): r = −0.5; (2,1,2)~(2,6,2): r = −1; (3,1,1)~(3,7,3): r = −0.5
    assert mean_over_rows(pearson, a, b) == pytest.approx(-2 / 3)


def test_median_norm_ratio_by_hand():
    reference = torch.tensor([[3.0, 4.0], [1.0, 0.0], [0.0, 0.0], [0.0, 2.0]])
    estimate = torch.tensor([[6.0, 8.0], [0.0, 3.0], [5.0, 5.0], [0.0, -1.0]])
    # row norms 10/5 = 2, 3/1 = 3, (row 3 skipped: reference 0), 1/2 = 0.5 → median 2
    assert median_norm_ratio(estimate, reference) == pytest.approx(2.0)
    assert math.isnan(median_norm_ratio(estimate[2:3], reference[2:3]))
    with pytest.raises(ValueError, match=r"\[R, C\]"):
        median_norm_ratio(estimate.flatten(), reference.flatten())


def test_sign_agreement_counts_matching_signs():
    assert sign_agreement(torch.tensor([1.0, -2.0, 0.0, 3.0]), torch.tensor([5.0, 1.0, 0.0, -1.0])) == pytest.approx(0.5)


def test_statistics_on_hand_examples():
    assert average_ranks([3.0, 1.0, 3.0, 2.0]).tolist() == [3.5, 1.0, 3.5, 2.0]
    x = [1.0, 2.0, 3.0, 4.0]
    assert spearman(x, [v ** 3 for v in x]) == pytest.approx(1.0)
    assert pearson(x, [v ** 3 for v in x]) < 0.99
    assert spearman(x, [4.0, 3.0, 2.0, 1.0]) == pytest.approx(-1.0)
    assert pearson(x, [2 * v + 1 for v in x]) == pytest.approx(1.0)
    assert math.isnan(pearson(x, [1.0] * 4))
    assert median_relative_error([1.0, 3.0, 2.0], [2.0, 2.0, 0.0]) == pytest.approx(0.5)
