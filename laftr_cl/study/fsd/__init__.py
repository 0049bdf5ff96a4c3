"""The FSD-accuracy study: estimators of FSD_A(θ) against the true FSD along θ's path away from θ_A.

``run.run_study`` (driven by ``scripts/fsd_study.py``), ``trajectory`` (where θ goes), ``methods``
(the estimators at their memory budgets), ``report`` (rows, columns, plot).
"""
