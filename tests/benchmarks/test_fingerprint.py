"""The data fingerprint: the same data gives the same one wherever its files are; other data another."""
from __future__ import annotations

import shutil

from helpers import shared_dataset
from laftr_cl.benchmarks import build_benchmark
from laftr_cl.benchmarks.fingerprint import data_fingerprint, describe, same_data

SYNTHETIC = {"train_per_class": 6, "test_per_class": 2}


def _synthetic(seed=0, **kwargs):
    return build_benchmark("split_mnist", root="unused", synthetic=SYNTHETIC, seed=seed, **kwargs)


def test_the_fingerprint_is_sizes_and_two_hashes_and_repeats():
    first, again = data_fingerprint(_synthetic()), data_fingerprint(_synthetic())
    assert first == again and same_data(first, again)
    assert first["train_sizes"] == [12] * 5 and first["test_sizes"] == [4] * 5
    assert len(first["labels"]) == len(first["inputs"]) == 16
    assert describe(first).startswith("train sizes [12, 12, 12, 12, 12], test sizes [4, 4, 4, 4, 4], labels ")


def test_other_inputs_or_another_class_order_change_it():
    base = data_fingerprint(_synthetic())
    other_inputs = data_fingerprint(_synthetic(seed=1))  # the same sizes, other pixels
    assert other_inputs["train_sizes"] == base["train_sizes"] and other_inputs["inputs"] != base["inputs"]
    reordered = data_fingerprint(_synthetic(class_order=list(range(9, -1, -1))))
    assert not same_data(base, reordered)


def test_the_same_files_in_another_folder_give_the_same_fingerprint_and_other_files_another(tmp_path):
    mnist = shared_dataset("mnist-5k")
    shutil.copytree(mnist, tmp_path / "moved")
    here = data_fingerprint(build_benchmark("split_mnist", root=str(mnist)))
    moved = data_fingerprint(build_benchmark("split_mnist", root=str(tmp_path / "moved")))
    assert same_data(here, moved)
    (tmp_path / "fashion" / "MNIST").mkdir(parents=True)
    (tmp_path / "fashion" / "MNIST" / "raw").symlink_to(shared_dataset("fashion-mnist") / "FashionMNIST" / "raw")
    fashion = data_fingerprint(build_benchmark("split_mnist", root=str(tmp_path / "fashion")))  # MNIST's layout
    assert not same_data(here, fashion) and fashion["labels"] != here["labels"]
