"""Where the Hydra configs live, and which of their groups ``laftr-cl --help`` lists."""
from __future__ import annotations

from pathlib import Path

from laftr_cl.regularizers.combination import register_resolver

_PACKAGE = Path(__file__).resolve().parent.parent
_SHIPPED_CONFIGS = _PACKAGE / "configs"  # an installed wheel: configs/ ships as laftr_cl/configs
CONFIG_DIR = str(_SHIPPED_CONFIGS if _SHIPPED_CONFIGS.is_dir() else _PACKAGE.parent / "configs")
"""The Hydra config root: inside the package when installed from a wheel, the checkout's ``configs/`` otherwise."""
HIDDEN_GROUPS = ("influence", "study", "data", "method_settings", "hydra", "local")
"""Config groups ``--help`` does not list: the studies' configs (their scripts read them), the
per-protocol method settings that ``experiment`` selects itself, and Hydra's own."""
SHOWN_HYDRA_GROUPS = ("hydra/launcher", "hydra/sweeper")

register_resolver()  # ${method_name:...} in configs: a combination's name (laftr+replay), before any composition
