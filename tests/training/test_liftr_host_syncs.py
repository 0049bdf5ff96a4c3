"""LIFTR's step reads nothing on the host: a training epoch with the liftr regularizer, both modes."""
from __future__ import annotations

import pytest
from test_host_syncs import reads_in_second_task_epoch

from laftr_cl.regularizers.liftr import LiftrPlugin


@pytest.mark.parametrize("mode,covariance", [("deterministic", "full"), ("stochastic", "diag")])
def test_a_liftr_training_epoch_reads_nothing_on_the_host(make_strategy, monkeypatch, mode, covariance):
    plugin = LiftrPlugin(mode=mode, covariance=covariance, num_samples=4)
    strategy, benchmark = make_strategy(plugin, check_every=10**6)
    calls, iterations = reads_in_second_task_epoch(strategy, benchmark, monkeypatch)
    assert iterations > 5 and plugin.summaries
    assert calls == []
