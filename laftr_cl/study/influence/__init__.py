"""The influence studies over :mod:`laftr_cl.influence`: ``responses.run_influence`` (responses of
training examples under each proximity term, against the PBRF) and ``mislabeled.run_mislabeled``
(mislabeled-example detection by self-influence), with their data (``data``), set-up from the
config (``setup``), method runs (``methods``), columns and plots (``report``) and seed-aggregated
tables (``aggregate``)."""
