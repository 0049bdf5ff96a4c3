"""The public API: ``from laftr_cl import LaftrPlugin, summarize, fsd, ...`` resolves every name in
``__all__`` lazily, and ``import laftr_cl`` alone stays light (the CLI starts from it)."""
from __future__ import annotations

import importlib

import pytest
import torch
from torch import nn

import laftr_cl
from helpers import run_python


@pytest.mark.parametrize("name", laftr_cl.__all__)
def test_every_public_name_resolves_to_its_module_s_object(name):
    value = getattr(laftr_cl, name)
    assert name in dir(laftr_cl)
    if name == "__version__":
        assert isinstance(value, str) and value.count(".") == 2
    elif name == "fsd":
        assert value is importlib.import_module("laftr_cl.fsd")
    else:
        assert value is getattr(importlib.import_module(laftr_cl._EXPORTS[name]), name)


def test_an_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="has no attribute 'LaftrPlugn'"):
        laftr_cl.LaftrPlugn  # noqa: B018


def test_a_script_uses_the_core_from_the_top_level():
    from laftr_cl import LaftrPlugin, fsd, fsd_method, summarize, true_fsd

    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
    x, y = torch.randn(32, 4), torch.randint(0, 3, (32,))
    summary = summarize(net, (x, y), inputs="diag")
    assert fsd.fsd(net, [summary], num_samples=4).item() == pytest.approx(0.0, abs=1e-6)  # θ = θ_t
    with torch.no_grad():
        net[2].bias += 1.0
    assert fsd.fsd(net, [summary], num_samples=4).item() > 0 and true_fsd(net, net, (x, y)).item() == 0
    assert fsd_method("laftr", inputs="lowrank", rank=2).options()["rank"] == 2
    assert LaftrPlugin().method.options()["inputs"] == "full"


@pytest.mark.slow
def test_importing_the_package_loads_neither_avalanche_nor_torch():
    code = "import sys, laftr_cl; print(sorted(m for m in ('avalanche', 'torch', 'hydra') if m in sys.modules))"
    out = run_python(["-c", code])
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
