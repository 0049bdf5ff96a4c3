"""The Python snippets in README.md and the user guides under docs/ run as written, on a tiny network and
random data."""
from __future__ import annotations

import copy
import re

import pytest
import torch
from torch import nn

from helpers import REPO_ROOT

PAGES = ("README.md", "docs/method.md", "docs/studies.md")
"""The pages whose ```python blocks users copy."""

def python_blocks(page: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", (REPO_ROOT / page).read_text(), flags=re.S)


def namespace() -> dict:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 3))
    x, y = torch.randn(30, 6), torch.randint(0, 3, (30,))
    return {
        "model": model, "model_at_theta_a": copy.deepcopy(model), "x_a": x, "y_a": y, "lam": 1.0,
        "cross_entropy": nn.functional.cross_entropy(model(x), y),
        "x_train": x, "y_train": y, "x_query": x[:4], "y_query": y[:4], "x_test": x[:5], "y_test": y[:5],
    }


def test_readme_has_the_plugin_and_fsd_snippets_and_the_docs_the_influence_one():
    readme = "\n".join(python_blocks("README.md"))
    assert "from laftr_cl import LaftrPlugin" in readme and "from laftr_cl.fsd import fsd, summarize, true_fsd" in readme
    assert any("from laftr_cl.influence import" in b for page in PAGES for b in python_blocks(page))
    assert any("fsd_method(" in b for b in python_blocks("docs/method.md"))


@pytest.mark.parametrize("page", PAGES)
def test_every_snippet_runs(page):
    blocks = python_blocks(page)
    assert blocks
    for block in blocks:
        scope = namespace()
        exec(compile(block, page, "exec"), scope)
        if "changes" in scope:
            assert scope["changes"].shape == (4, 5) and torch.isfinite(scope["changes"]).all()
        if "penalty" in scope:
            assert scope["penalty"].requires_grad and scope["summary"].nbytes()["total"] > 0
        if "laftr" in scope and "strategy" in scope:  # the Avalanche script: one summary per trained task
            assert len(scope["laftr"].summaries) == 2 and scope["laftr"].memory_bytes()["total"] > 0
