"""A built wheel works on its own: installed into a fresh virtual environment outside the checkout,
``laftr-cl`` finds its configs inside the package, composes every config group and runs. An editable
install (``pip install -e``) runs a search with the project's Optuna sweeper, which Hydra's plugin scan
cannot see there."""
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from helpers import REPO_ROOT

SOURCES = ("pyproject.toml", "setup.py", "README.md", "laftr_cl", "configs", "hydra_plugins")

COMPOSE_EVERY_GROUP = """
import sys
from pathlib import Path
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf
import laftr_cl
from laftr_cl.cli import CONFIG_DIR
root = Path(CONFIG_DIR)
defaults = OmegaConf.load(root / "config.yaml").defaults
groups = [next(iter(d)).removeprefix("optional ") for d in defaults if not isinstance(d, str)]
count = 0
with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
    for group in groups:
        for option in sorted(p.stem for p in (root / group).glob("*.yaml")):
            cfg = compose(config_name="config", overrides=[f"{group}={option}"], return_hydra_config=True)
            assert cfg.benchmark.name, (group, option)
            count += 1
print(laftr_cl.__file__, CONFIG_DIR, count, sep="\\n")
"""


def _build_isolation() -> list[str]:
    """``--no-build-isolation`` (offline) when this interpreter can build a wheel itself: setuptools with
    its own bdist_wheel (≥ 70.1) or the ``wheel`` package; otherwise pip fetches setuptools for the build."""
    try:
        import setuptools
    except ImportError:
        return []
    major, minor = (int(part) for part in setuptools.__version__.split(".")[:2])
    return ["--no-build-isolation"] if (major, minor) >= (70, 1) or importlib.util.find_spec("wheel") else []


def _dependency_paths() -> list[str]:
    """This interpreter's site-packages (torch, avalanche, hydra …): the fresh venv reads them through
    a ``.pth`` line, which adds the folder but runs none of its own ``.pth`` files (so no editable
    install of the checkout comes along)."""
    return [p for p in dict.fromkeys(sys.path) if Path(p).name in {"site-packages", "dist-packages"}]


def _copy_sources(src: Path) -> Path:
    """The project's files (:data:`SOURCES`) copied to ``src``."""
    src.mkdir()
    for name in SOURCES:
        source = REPO_ROOT / name
        if source.is_dir():
            shutil.copytree(source, src / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, src / name)
    return src


def _new_venv(env_dir: Path, *install: str) -> Path:
    """A fresh virtual environment reading this interpreter's dependencies, with ``pip install --no-deps
    --no-index <install>`` done in it (a build there uses this interpreter's setuptools, not the older one
    the fresh environment comes with)."""
    subprocess.run([sys.executable, "-m", "venv", str(env_dir)], check=True, timeout=300)
    python = env_dir / "bin" / "python"
    site = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          check=True, capture_output=True, text=True).stdout.strip()
    Path(site, "laftr_cl_test_dependencies.pth").write_text("\n".join(_dependency_paths()) + "\n")
    env = os.environ | {"PYTHONPATH": os.pathsep.join(_dependency_paths())}
    subprocess.run([python, "-m", "pip", "install", "--no-deps", "--no-index", "-q", *install], check=True,
                   capture_output=True, timeout=300, env=env)
    return env_dir


@pytest.fixture(scope="module")
def venv(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("wheel")
    src = _copy_sources(root / "src")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", *_build_isolation(), "-q", "-w",
                    str(root / "dist"), str(src)], check=True, capture_output=True, timeout=300)
    (wheel,) = (root / "dist").glob("laftr_cl-*.whl")
    return _new_venv(root / "venv", str(wheel))


def _run(venv: Path, args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"} | {"OMP_NUM_THREADS": "1"}
    out = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    return out


@pytest.mark.slow
def test_installed_wheel_ships_configs_and_composes_every_group(venv, tmp_path):
    out = _run(venv, [str(venv / "bin" / "python"), "-c", COMPOSE_EVERY_GROUP], tmp_path)
    package_file, config_dir, count = out.stdout.split()
    assert Path(package_file).is_relative_to(venv) and not Path(package_file).is_relative_to(REPO_ROOT)
    assert Path(config_dir) == Path(package_file).parent / "configs"
    assert int(count) >= len(list((REPO_ROOT / "configs" / "regularizer").glob("*.yaml")))


@pytest.mark.slow
def test_installed_cli_prints_a_paper_preset_and_runs_a_short_synthetic_run(venv, tmp_path):
    cli = str(venv / "bin" / "laftr-cl")
    job = OmegaConf.create(_run(venv, [cli, "experiment=paper_split_mnist", "--cfg", "job"], tmp_path).stdout)
    assert job.benchmark.name == "split_mnist" and job.regularizer.name == "laftr"
    _run(venv, [cli, "debug=fast", "benchmark.num_experiences=2", "model.net.hidden_sizes=[16]",
                f"hydra.run.dir={tmp_path / 'run'}"], tmp_path)
    results = json.loads((tmp_path / "run" / "results.json").read_text())
    assert results["complete"] is True and len(results["accuracy_matrix"]) == 2


@pytest.mark.slow
def test_wheel_ships_the_py_typed_marker_under_the_package_s_version(venv):
    import laftr_cl

    (wheel,) = (venv.parent / "dist").glob("laftr_cl-*.whl")
    assert wheel.name.startswith(f"laftr_cl-{laftr_cl.__version__}-")
    assert "laftr_cl/py.typed" in zipfile.ZipFile(wheel).namelist()


USER_SEARCH = """# @package _global_
defaults:
  - override /hydra/sweeper: optuna

data:
  validation_fraction: 0.1

hydra:
  mode: MULTIRUN
  sweeper:
    _target_: hydra_plugins.laftr_cl_optuna.LaftrOptunaSweeper
    direction: maximize
    n_trials: 2
    params:
      optimizer.lr: choice(0.001, 0.01)
"""
"""A user's own search preset (``hparams_search/my_search.yaml`` under ``--config-dir``): the project's
Optuna sweeper, chosen with no "optuna" anywhere on the command line."""

SCAN_SEES_THE_SWEEPER = """
import laftr_cl
from hydra.core.plugins import Plugins
print(laftr_cl.__file__)
print(any("laftr_cl_optuna" in name for name in Plugins.instance().class_name_to_class))
"""


@pytest.fixture(scope="module")
def editable(tmp_path_factory) -> tuple[Path, Path]:
    """A fresh virtual environment with ``pip install -e`` of a copy of the project: (venv, the copy)."""
    root = tmp_path_factory.mktemp("editable")
    src = _copy_sources(root / "src")
    return _new_venv(root / "venv", *_build_isolation(), "-e", str(src)), src


@pytest.mark.slow
def test_an_editable_install_searches_with_the_project_s_sweeper_from_a_user_config_dir(editable, tmp_path):
    venv, src = editable
    package_file, seen = _run(venv, [str(venv / "bin" / "python"), "-c", SCAN_SEES_THE_SWEEPER], tmp_path).stdout.split()
    assert Path(package_file).is_relative_to(src)
    assert seen == "False"  # Hydra's own scan misses it: laftr-cl registers it
    (tmp_path / "conf" / "hparams_search").mkdir(parents=True)
    (tmp_path / "conf" / "hparams_search" / "my_search.yaml").write_text(USER_SEARCH)
    out = _run(venv, [str(venv / "bin" / "laftr-cl"), "--config-dir", str(tmp_path / "conf"), "hparams_search=my_search",
                      "debug=fast", "benchmark.num_experiences=2", "model.net.hidden_sizes=[16]",
                      f"paths.log_dir={tmp_path / 'logs'}"], tmp_path)
    (best_file,) = (tmp_path / "logs").glob("multiruns/*/optimization_results.yaml")
    best = OmegaConf.load(best_file)
    assert best.best_params["optimizer.lr"] in (0.001, 0.01) and len(list(best_file.parent.glob("*/results.json"))) == 2
    assert "A new study created" not in out.stdout + out.stderr  # Optuna's INFO lines quieted (LAFTR_CL_VERBOSE=1 shows them)
