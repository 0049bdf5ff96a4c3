"""Structure of the class-split benchmarks, built from synthetic data."""
from __future__ import annotations

import pytest
import torch

from laftr_cl.benchmarks import BENCHMARKS, TensorBenchmark, build_benchmark

# name: (experiences, classes, input shape)
SPLITS = {
    "split_mnist": (5, 10, (1, 28, 28)),
    "split_fmnist": (5, 10, (1, 28, 28)),
    "split_cifar10": (5, 10, (3, 32, 32)),
    "split_cifar100": (10, 100, (3, 32, 32)),
    "split_cifar110_6": (6, 60, (3, 32, 32)),
}


def test_registry_lists_every_benchmark() -> None:
    assert set(BENCHMARKS) == set(SPLITS) | {"permuted_mnist"}


def _check_stream_matches_tensors(bm: TensorBenchmark) -> None:
    streams = ((bm.scenario.train_stream, bm.train), (bm.scenario.test_stream, bm.test))
    for stream, tensors in streams:
        assert len(stream) == len(tensors) == bm.num_experiences
        for index, (exp, task) in enumerate(zip(stream, tensors)):
            assert exp.current_experience == index
            assert exp.task_label == task.task_label and exp.task_labels == [task.task_label]
            assert exp.classes_in_this_experience == set(bm.task_classes[index])
            assert len(exp.dataset) == len(task.y)
            x, y, t = exp.dataset[len(task.y) - 1]
            assert torch.equal(x, task.x[-1]) and y == task.y[-1].item() and t == task.task_label


@pytest.mark.parametrize("name", sorted(SPLITS))
def test_split_structure_task_scenario(name: str, tiny: dict[str, int]) -> None:
    num_experiences, num_classes, input_shape = SPLITS[name]
    bm = build_benchmark(name, root="/nonexistent", synthetic=tiny)
    per_exp = num_classes // num_experiences
    assert (bm.name, bm.scenario_kind, bm.num_classes) == (name, "task", num_classes)
    assert bm.input_shape == input_shape
    assert bm.task_classes == [
        list(range(i * per_exp, (i + 1) * per_exp)) for i in range(num_experiences)
    ]
    sizes = ((bm.train, tiny["train_per_class"]), (bm.test, tiny["test_per_class"]))
    for split, per_class in sizes:
        for index, task in enumerate(split):
            assert task.task_label == index
            assert task.x.shape == (per_exp * per_class, *input_shape)
            assert task.x.dtype == torch.float32 and task.y.dtype == torch.int64
            counts = torch.bincount(task.y, minlength=num_classes)
            assert counts[bm.task_classes[index]].tolist() == [per_class] * per_exp
            assert counts.sum() == len(task.y)
    _check_stream_matches_tensors(bm)


@pytest.mark.parametrize("name", sorted(SPLITS))
def test_split_class_scenario_has_task_label_zero(name: str, tiny: dict[str, int]) -> None:
    bm = build_benchmark(name, root="/nonexistent", scenario="class", synthetic=tiny)
    assert bm.scenario_kind == "class"
    assert [t.task_label for t in bm.train + bm.test] == [0] * (2 * bm.num_experiences)
    _check_stream_matches_tensors(bm)


def test_class_order_and_num_experiences(tiny: dict[str, int]) -> None:
    order = [9, 8, 7, 6, 5, 4, 3, 2, 1, 0]
    bm = build_benchmark(
        "split_mnist", root="/x", class_order=order, num_experiences=2, synthetic=tiny
    )
    assert bm.task_classes == [[9, 8, 7, 6, 5], [4, 3, 2, 1, 0]]
    assert set(bm.train[0].y.tolist()) == {5, 6, 7, 8, 9}
    assert set(bm.test[1].y.tolist()) == {0, 1, 2, 3, 4}


def test_split_cifar110_6_class_layout(tiny: dict[str, int]) -> None:
    bm = build_benchmark("split_cifar110_6", root="/x", synthetic=tiny)
    assert bm.task_classes[0] == list(range(10))
    assert bm.task_classes[1:] == [list(range(10 + 10 * k, 20 + 10 * k)) for k in range(5)]
    assert sorted(torch.cat([t.y for t in bm.train]).unique().tolist()) == list(range(60))


def test_synthetic_data_is_seeded_and_roughly_normalised() -> None:
    spec = {"train_per_class": 50, "test_per_class": 5}
    first = build_benchmark("split_mnist", root="/x", seed=3, synthetic=spec)
    again = build_benchmark("split_mnist", root="/x", seed=3, synthetic=spec)
    other = build_benchmark("split_mnist", root="/x", seed=4, synthetic=spec)
    assert torch.equal(first.train[2].x, again.train[2].x)
    assert not torch.equal(first.train[2].x, other.train[2].x)
    x = torch.cat([t.x for t in first.train])
    assert abs(x.mean().item()) < 0.05 and abs(x.std().item() - 1) < 0.1
    assert first.train[0].y[:10].tolist() != sorted(first.train[0].y[:10].tolist())  # interleaved
