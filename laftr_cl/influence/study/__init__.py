"""Glue shared by ``scripts/influence.py`` and ``scripts/mislabeled.py``: data, training, running the
proximity methods, tables and plots. The maths lives one level up (``laftr_cl.influence``)."""
