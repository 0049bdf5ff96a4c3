"""The studies: how well FSD estimators track the true FSD (``fsd``), and influence estimation and
mislabeled-example detection with them (``influence``), on the main config root (``configs/``).

Shared by both: ``training`` (the one trainer), ``stats`` (Pearson, Spearman, errors), ``tables``
(Markdown, CSV and JSON result files). ``scripts/fsd_study.py``, ``scripts/influence.py``,
``scripts/mislabeled.py`` and ``scripts/influence_table.py`` are thin entry points to them.
"""
