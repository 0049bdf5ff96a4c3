"""Step 3, after runs: reading results back. :mod:`.scan` finds the runs' ``results.json`` below a folder,
:mod:`.groups` groups runs that differ only by seed and gives mean ± std, :mod:`.comparison`
makes the comparison table (Markdown via :mod:`.tables`, CSV, :mod:`.plots`), :mod:`.frontier` the
accuracy–memory frontier; the CLIs are :mod:`.compare` (``laftr-cl-compare``) and
:mod:`.wandb_compare` (``laftr-cl-compare-wandb``, wandb runs offline or online)."""
