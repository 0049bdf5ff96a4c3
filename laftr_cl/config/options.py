"""The values of the settings that choose among a few named options, each with what it means.

The config checks (:mod:`laftr_cl.config.checks`) refuse any other value before data is loaded; the
builders that act on them (:mod:`laftr_cl.benchmarks.settings`, :mod:`laftr_cl.training`) read them
from here. Imports nothing: the CLI's pre-launch check stays light.
"""

PREPROCESSING = {
    "standardize": "(x/255 − mean)/std with the dataset's per-channel training statistics",
    "raw": "pixels x/255 in [0, 1], as the LAFTR authors' code feeds MNIST",
}
"""``data.preprocessing`` options and what each does to a uint8 image."""

PRECISIONS = {
    "fp32": "float32 throughout",
    "bf16": "bfloat16 autocast of forward, loss and regularizer",
}
"""``train.precision`` options."""

COMPILE_MODES = {
    "none": "Avalanche's eager training loop",
    "compile": "forward, loss, backward and update compiled as one step (torch.compile)",
    "cudagraph": "the compiled step captured in a CUDA graph (CUDA only)",
}
"""``train.compile`` options."""

STRATEGIES = {
    "naive": "fine-tuning task after task (plus the regularizer's plugin)",
    "joint": "Avalanche's joint training on all tasks at once (an upper bound)",
    "der": "Avalanche's DER (DER++ when beta > 0): its own loop, a buffer of examples and their logits",
    "er_ace": "Avalanche's ER_ACE: its own loop, replay with the asymmetric cross-entropy",
    "icarl": "Avalanche's ICaRL: its own model pair, loss and herding exemplars",
}
"""``regularizer.strategy`` options (each yaml of ``configs/regularizer/`` picks one). ``der``, ``er_ace`` and
``icarl`` are strategies of the regularizer that owns the loop (its ``plugin`` node builds it), not of
:data:`laftr_cl.training.strategy.STRATEGIES`; in a combination the run trains with the one part's
strategy that is not ``naive``."""
