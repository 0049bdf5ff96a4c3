"""A NaN/inf loss stops the run naming task, epoch, step and loss terms; explosions name λ."""
from __future__ import annotations

import logging
import re

import pytest

from laftr_cl.training.guards import NonFiniteLossError
from reliability.fault_runs import FOUR_TASKS, checkpoint, cli_here, run_here

DIVERGING_SGD = ["optimizer=sgd", "optimizer.lr=1e10"]
"""Plain SGD with a huge step: the cross-entropy is NaN at the third step of the first task."""
EXPLODING_EWC = ["optimizer=sgd", "regularizer=ewc", "regularizer.plugin.ewc_lambda=1e30"]
"""Task 2: λ · penalty ≈ 1e24 at step 2, then the cross-entropy is NaN at step 3."""


def test_nan_cross_entropy_names_task_epoch_step_and_terms(tmp_path):
    with pytest.raises(NonFiniteLossError) as caught:
        run_here([*FOUR_TASKS, *DIVERGING_SGD], tmp_path)
    message = str(caught.value)
    assert message.startswith("The training loss is not finite at task 1 (experience 0), epoch 1, "
                              "step 3 of the epoch (iteration 3 of the run): cross-entropy=nan")
    assert "regularizer=none has no λ" in message and "optimizer.lr" in message
    assert "no checkpoint had been written yet" in message and "\n" not in message


def test_checking_every_n_steps_names_the_same_first_bad_step(tmp_path):
    # guard.check_every > 1 is the CUDA path: terms stay on the device until the window is checked
    messages = []
    for every in (1, 50):
        with pytest.raises(NonFiniteLossError) as caught:
            run_here([*FOUR_TASKS, *DIVERGING_SGD, f"guard.check_every={every}"], tmp_path / str(every))
        messages.append(str(caught.value).replace(str(tmp_path / str(every)), "<run>"))
    assert messages[0] == messages[1]


def test_exploding_regularizer_is_reported_with_its_lambda_and_the_last_checkpoint_stays(tmp_path, caplog):
    with caplog.at_level(logging.WARNING, logger="laftr_cl"), pytest.raises(NonFiniteLossError) as caught:
        run_here([*FOUR_TASKS, *EXPLODING_EWC], tmp_path)
    warning = "regularizer's term exploded at task 2 (experience 1), epoch 1, step 2 of the epoch"
    assert f"The {warning}" in caplog.text and "λ: regularizer.plugin.ewc_lambda=1e+30" in caplog.text
    message = str(caught.value)
    assert re.search(r"at task 2 \(experience 1\), epoch 1, step 3 .*: cross-entropy=nan", message)
    assert f"Before that, the {warning}" in message
    assert f"the last good checkpoint, {tmp_path / 'checkpoint.pt'}, is kept" in message
    assert checkpoint(tmp_path)["progress"] == {"tasks_done": 1, "epochs_done": 0}


def test_non_finite_regularizer_term_is_named_as_the_culprit(tmp_path):
    # λ = 1e45 overflows float32: λ · penalty is inf · 0 = NaN at the first step of task 2
    with pytest.raises(NonFiniteLossError, match=r"task 2 \(experience 1\), epoch 1, step 1 .*"
                       r"regularizer term \(λ · penalty\)=nan "
                       r"\(λ: regularizer.plugin.ewc_lambda=1e\+45\): the regularizer's term diverged"):
        run_here([*FOUR_TASKS, "regularizer=ewc", "regularizer.plugin.ewc_lambda=1e45"], tmp_path)


def test_cli_prints_the_error_as_one_paragraph(tmp_path, monkeypatch, capsys):
    out = cli_here([*FOUR_TASKS, *DIVERGING_SGD, f"hydra.run.dir={tmp_path}"], monkeypatch, capsys)
    assert out.returncode == 3
    last = out.stderr.strip().splitlines()[-1]
    assert last.startswith("laftr-cl: The training loss is not finite at task 1")
    assert "Traceback" not in out.stderr
