"""What a run shows and logs: the Avalanche loggers the ``logger=`` configs build (:mod:`.avalanche`),
the console's noise settings (:mod:`.console`) and wandb offline runs — reading them back
(:mod:`.wandb_offline`) and resuming the same run id (:mod:`.wandb_resume`)."""
