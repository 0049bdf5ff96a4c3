"""The Python snippets in README.md run as written, on a tiny network and random data."""
from __future__ import annotations

import copy
import re

import torch
from torch import nn

from helpers import REPO_ROOT


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", (REPO_ROOT / "README.md").read_text(), flags=re.S)


def namespace() -> dict:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 3))
    x, y = torch.randn(30, 6), torch.randint(0, 3, (30,))
    return {
        "model": model, "model_at_theta_a": copy.deepcopy(model), "x_a": x, "y_a": y, "lam": 1.0,
        "cross_entropy": nn.functional.cross_entropy(model(x), y),
        "x_train": x, "y_train": y, "x_query": x[:4], "y_query": y[:4], "x_test": x[:5], "y_test": y[:5],
    }


def test_readme_has_the_fsd_and_influence_snippets():
    blocks = python_blocks()
    assert any("from laftr_cl.fsd import" in b for b in blocks)
    assert any("from laftr_cl.influence import" in b for b in blocks)


def test_every_readme_snippet_runs():
    for block in python_blocks():
        scope = namespace()
        exec(compile(block, "README.md", "exec"), scope)
        if "changes" in scope:
            assert scope["changes"].shape == (4, 5) and torch.isfinite(scope["changes"]).all()
        if "penalty" in scope:
            assert scope["penalty"].requires_grad and scope["summary"].nbytes()["total"] > 0
