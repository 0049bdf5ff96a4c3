"""Packaging beyond what pyproject.toml can say: the top-level ``configs/`` folder ships inside the
package as ``laftr_cl/configs`` (so an installed ``laftr-cl`` finds its Hydra configs), the
``py.typed`` marker (PEP 561: type checkers read the package's type hints), and
``hydra_plugins/laftr_cl_optuna`` (a sweeper: Hydra finds plugins only in the ``hydra_plugins``
namespace package)."""
from setuptools import find_namespace_packages, find_packages, setup

setup(
    packages=[*find_packages(include=["laftr_cl", "laftr_cl.*"]), "laftr_cl.configs",
              *find_namespace_packages(include=["hydra_plugins.laftr_cl_optuna"])],
    package_dir={"laftr_cl.configs": "configs"},
    package_data={"laftr_cl": ["py.typed"], "laftr_cl.configs": ["**/*.yaml"]},
)
