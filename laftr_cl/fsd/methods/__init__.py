"""FSD methods behind one interface (summarize a task → a summary; estimate the FSD from summaries),
built by name with :func:`fsd_method`: ``laftr``, ``liftr``, ``coreset``, ``ntk``, ``fisher``."""
from laftr_cl.fsd.methods import baselines as _baselines  # noqa: F401  (registers coreset, ntk, fisher)
from laftr_cl.fsd.methods import laftr as _laftr  # noqa: F401  (registers laftr)
from laftr_cl.fsd.methods import liftr as _liftr  # noqa: F401  (registers liftr)
from laftr_cl.fsd.methods.base import FSD_METHODS, FsdMethod, Summary, fsd_method, summed_bytes
from laftr_cl.fsd.methods.baselines import CoresetMethod, FisherMethod, NtkMethod
from laftr_cl.fsd.methods.laftr import LaftrMethod
from laftr_cl.fsd.methods.liftr import LiftrMethod

__all__ = ["FSD_METHODS", "FsdMethod", "Summary", "fsd_method", "summed_bytes", "LaftrMethod", "LiftrMethod",
           "CoresetMethod", "NtkMethod", "FisherMethod"]
