"""Step 3, after runs: reading results back. :mod:`.compare` (the ``laftr-cl-compare`` CLI) scans run
folders, :mod:`.groups` groups runs that differ only by seed and gives mean ± std, :mod:`.tables`
writes Markdown/CSV/JSON, :mod:`.plots` and :mod:`.frontier` draw, :mod:`.wandb_compare` reads wandb
offline runs (``laftr-cl-compare-wandb``)."""
