"""Step 1 of a run: the configuration. Where the Hydra configs live (:mod:`.root`), the checks every
setting passes before any data is loaded (:mod:`.checks`), the one-paragraph error text (:mod:`.errors`),
the whole-command check a sweep gets before launch (:mod:`.preflight`) and which settings a run's
identity depends on (:mod:`.settings`)."""
