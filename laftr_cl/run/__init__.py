"""Step 2 of a run: what ``laftr-cl`` does with a checked config. :mod:`.build` builds the device,
benchmark, model, loggers and evaluator; :mod:`.experiment` runs the task loop; :mod:`.outcome` turns
the result or failure into an exit status. :mod:`.folder` names every file of the run folder (lock,
checkpoint, record, results, wandb id), all written through :mod:`.atomic` (fsynced, whole or not at
all, one JSON policy); :mod:`.lock`, :mod:`.checkpoint` (format and resume policy), :mod:`.record`
and :mod:`.results` own one file each; :mod:`.callbacks` holds the Hydra callbacks around a run or sweep."""
