"""Packaging beyond what pyproject.toml can say: the top-level ``configs/`` folder ships inside the
package as ``laftr_cl/configs`` (so an installed ``laftr-cl`` finds its Hydra configs), and the
``py.typed`` marker (PEP 561: type checkers read the package's type hints)."""
from setuptools import find_packages, setup

setup(
    packages=[*find_packages(include=["laftr_cl", "laftr_cl.*"]), "laftr_cl.configs"],
    package_dir={"laftr_cl.configs": "configs"},
    package_data={"laftr_cl": ["py.typed"], "laftr_cl.configs": ["**/*.yaml"]},
)
