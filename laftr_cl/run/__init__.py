"""Step 2 of a run: what ``laftr-cl`` does with a checked config. :mod:`.experiment` builds the
benchmark, model and strategy and runs the task loop; :mod:`.outcome` turns the result or failure into
an exit status; :mod:`.folder` owns every file of the run folder (lock, checkpoint, results, record,
wandb id), written through one atomic writer; :mod:`.checkpoint` is the checkpoint format and resume
policy; :mod:`.callbacks` holds the Hydra callbacks around a run or sweep."""
