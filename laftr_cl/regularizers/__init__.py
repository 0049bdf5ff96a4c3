"""Regularizers as Avalanche plugins, each declared once by a
:class:`~laftr_cl.regularizers.specs.RegularizerSpec` (options, defaults, checks, state, bytes).

Importing this package registers the built-in specs (:mod:`~laftr_cl.regularizers.catalog`, and the
rehearsal baselines' :mod:`~laftr_cl.regularizers.rehearsal`; no torch, no Avalanche); the plugins
themselves load with their own modules.
"""
from laftr_cl.regularizers import catalog as _catalog  # noqa: F401  (registers the built-in specs)
from laftr_cl.regularizers import rehearsal as _rehearsal  # noqa: F401  (der, er_ace, icarl, agem, gem, gdumb)
