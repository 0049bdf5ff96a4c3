"""The detection curve and its area against hand-computed examples."""
from __future__ import annotations

import pytest
import torch

from laftr_cl.influence import detection_curve, random_curve


def test_hand_computed_curve():
    # N = 5, flipped {1, 3}; order by score: 1, 0, 3, 4, 2 → found after k checked: 0, .5, .5, 1, 1, 1
    scores = torch.tensor([4.0, 5.0, 1.0, 3.0, 2.0])
    flipped = torch.tensor([False, True, False, True, False])
    curve = detection_curve(scores, flipped)
    torch.testing.assert_close(curve.found, torch.tensor([0, 0.5, 0.5, 1, 1, 1], dtype=torch.float64))
    torch.testing.assert_close(curve.checked, torch.linspace(0, 1, 6, dtype=torch.float64))
    # trapezoids of width 0.2: (0+.5)/2 + (.5+.5)/2 + (.5+1)/2 + 1 + 1 = 3.5 → 0.7
    assert curve.area == pytest.approx(0.7)
    assert curve.found_at(0.2) == 0.5 and curve.found_at(0.5) == 1.0 and curve.found_at(0.0) == 0.0


@pytest.mark.parametrize("n, f", [(10, 0.1), (50, 0.2), (40, 0.25)])
def test_perfect_and_worst_rankings(n, f):
    flipped = torch.zeros(n, dtype=torch.bool)
    flipped[: round(f * n)] = True
    perfect = detection_curve(flipped.double(), flipped)
    worst = detection_curve(-flipped.double(), flipped)
    assert perfect.area == pytest.approx(1 - f / 2)
    assert worst.area == pytest.approx(f / 2)
    assert perfect.found_at(f) == 1.0 and worst.found_at(1 - f) == 0.0


def test_random_rankings_average_one_half():
    g = torch.Generator().manual_seed(0)
    flipped = torch.zeros(200, dtype=torch.bool)
    flipped[:20] = True
    areas = torch.tensor([detection_curve(torch.rand(200, generator=g), flipped).area for _ in range(200)])
    assert float(areas.mean()) == pytest.approx(0.5, abs=0.02)
    mean = random_curve(flipped, num_orders=200, generator=g)
    assert mean.area == pytest.approx(0.5, abs=0.02)
    torch.testing.assert_close(mean.found, mean.checked, atol=0.05, rtol=0)


def test_ties_are_checked_in_index_order():
    flipped = torch.tensor([False, True])
    assert detection_curve(torch.zeros(2), flipped).area == pytest.approx(0.25)


def test_errors_name_the_fix():
    with pytest.raises(ValueError, match="flip_fraction"):
        detection_curve(torch.zeros(3), torch.zeros(3, dtype=torch.bool))
    with pytest.raises(ValueError, match="fraction_checked"):
        detection_curve(torch.zeros(2), torch.tensor([True, False])).found_at(1.5)
