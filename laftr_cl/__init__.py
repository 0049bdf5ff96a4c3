"""laftr-cl: continual learning with LAFTR function-space regularization."""

__version__ = "0.1.0"
