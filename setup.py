"""Packaging beyond what pyproject.toml can say: the top-level ``configs/`` folder ships inside the
package as ``laftr_cl/configs`` (so an installed ``laftr-cl`` finds its Hydra configs)."""
from setuptools import find_namespace_packages, find_packages, setup

setup(
    packages=[*find_packages(include=["laftr_cl", "laftr_cl.*"]), "laftr_cl.configs",
              *find_namespace_packages(include=["hydra_plugins.laftr_cl_optuna"])],
    package_dir={"laftr_cl.configs": "configs"},
    package_data={"laftr_cl.configs": ["**/*.yaml"]},
)
