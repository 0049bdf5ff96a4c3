"""Permuted MNIST: experience 0 unpermuted, the others one fixed permutation for train and test."""
from __future__ import annotations

import pytest
import torch

from laftr_cl.benchmarks import build_benchmark
from laftr_cl.benchmarks.permuted import permute_pixels
from laftr_cl.benchmarks.settings import SyntheticSpec
from laftr_cl.benchmarks.synthetic import synthetic_data


def test_permutations_applied_consistently(tiny: dict[str, int]) -> None:
    bm = build_benchmark("permuted_mnist", root="/x", num_experiences=4, seed=7, synthetic=tiny)
    base = synthetic_data((1, 28, 28), 10, SyntheticSpec(**tiny), seed=7)
    permutations = bm.extra["permutations"]
    assert permutations.shape == (4, 784)
    assert torch.equal(permutations[0], torch.arange(784))
    assert torch.equal(bm.train[0].x, base.x_train) and torch.equal(bm.test[0].x, base.x_test)
    for index in range(1, 4):
        assert sorted(permutations[index].tolist()) == list(range(784))
        assert not torch.equal(permutations[index], permutations[index - 1])
        for task, x in ((bm.train[index], base.x_train), (bm.test[index], base.x_test)):
            assert task.x.shape == (len(x), 1, 28, 28)
            assert torch.equal(task.x.flatten(1), x.flatten(1)[:, permutations[index]])
    assert all(torch.equal(t.y, base.y_train) for t in bm.train)


def test_permutations_depend_on_seed_only(tiny: dict[str, int]) -> None:
    def perms(seed: int, spec: dict[str, int]) -> torch.Tensor:
        bm = build_benchmark("permuted_mnist", root="/x", seed=seed, synthetic=spec)
        return bm.extra["permutations"]

    assert torch.equal(perms(1, tiny), perms(1, {"train_per_class": 2, "test_per_class": 1}))
    assert not torch.equal(perms(1, tiny), perms(2, tiny))


@pytest.mark.parametrize(("scenario", "labels"), [(None, [0] * 10), ("domain", [0] * 10)])
def test_scenarios_and_classes(
    scenario: str | None, labels: list[int], tiny: dict[str, int]
) -> None:
    bm = build_benchmark("permuted_mnist", root="/x", scenario=scenario, synthetic=tiny)
    assert bm.scenario_kind == (scenario or "domain") and bm.num_classes == 10
    assert bm.task_classes == [list(range(10))] * 10
    assert [t.task_label for t in bm.train] == labels == [t.task_label for t in bm.test]
    assert [e.task_label for e in bm.scenario.train_stream] == labels
    assert [e.task_label for e in bm.scenario.test_stream] == labels
    assert all(e.classes_in_this_experience == set(range(10)) for e in bm.scenario.test_stream)


def test_task_scenario_is_refused_with_the_reason(tiny: dict[str, int]) -> None:
    # every permuted task has classes 0-9: the masked "heads" would all be one shared head
    with pytest.raises(ValueError, match="one shared head.*scenario=domain"):
        build_benchmark("permuted_mnist", root="/x", scenario="task", synthetic=tiny)


def test_permute_pixels_is_a_gather_over_all_inputs() -> None:
    x = torch.arange(2 * 3 * 2 * 2, dtype=torch.float32).view(2, 3, 2, 2)
    permutation = torch.tensor([11, 0, 5, 3, 2, 1, 4, 6, 7, 8, 9, 10])
    out = permute_pixels(x, permutation)
    assert out.shape == x.shape
    assert out[1].flatten().tolist() == [x[1].flatten()[p].item() for p in permutation]
