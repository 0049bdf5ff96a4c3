"""timm's VisionTransformer (random init) through the gated view: it traces, summarizes and estimates.
Skipped when timm is not installed (the optional extra ``laftr-cl[timm]``)."""
from __future__ import annotations

import pytest
import torch
from test_transformer_ops import _passes

from helpers import perturbed
from laftr_cl.fsd import fsd, summarize

timm_vit = pytest.importorskip("timm.models.vision_transformer")


@pytest.mark.parametrize("options", [dict(), dict(global_pool="avg", class_token=False, qkv_bias=False)])
def test_timm_vision_transformer_summarizes_and_is_linearized_at_the_reference(options):
    torch.manual_seed(0)
    model = timm_vit.VisionTransformer(img_size=8, patch_size=4, in_chans=1, num_classes=3, embed_dim=8, depth=2,
                                       num_heads=2, mlp_ratio=2.0, **options).double().eval()
    x = torch.randn(12, 1, 8, 8, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    summary = summarize(model, (x, torch.zeros(12, dtype=torch.long)), inputs="diag")
    assert len(summary.firing_rates) == 2 and summary.gate_second_moments is not None  # one GELU per block
    reference, current = _passes(model, summary, x)
    torch.testing.assert_close(reference, model(x), rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(current, model(x), rtol=1e-10, atol=1e-12)
    at = fsd(model, [summary], num_samples=4, generator=torch.Generator().manual_seed(0))
    after = fsd(perturbed(model, 0.05), [summary], num_samples=4, generator=torch.Generator().manual_seed(0))
    assert abs(at.item()) < 1e-12 and after.item() > 1e-6
