"""The ``laftr-cl`` commands in README.md and the user guides under docs/ run as written on a fresh clone.

Every command (and every job of a sweep) composes and passes the config checks; each one whose data
is on this machine then trains, shortened (1 epoch, 2 tasks, its first sweep job) but otherwise as
written: the data it names must be where it says. (docs/results.md, the lab notebook, is not read: its
commands are full sweeps; the ones behind README's table are in README too.)
"""
from __future__ import annotations

import re
import shlex

import pytest
import torch

from helpers import REPO_ROOT, compose_run_config
from laftr_cl.benchmarks.errors import BenchmarkDataNotFoundError
from laftr_cl.cli import CONFIG_DIR
from laftr_cl.config.preflight import expand_home, preflight
from laftr_cl.run.experiment import run_experiment

SHORTEN = ["train.epochs=1", "train.first_task_epochs=null", "benchmark.num_experiences=2", "hydra.mode=RUN"]
"""Appended to each command that trains here (later overrides win)."""

PAGES = ("README.md", "docs/usage.md", "docs/reliability.md", "docs/gpu.md", "docs/studies.md", "docs/method.md")
"""The pages whose commands users copy: the front door and the user guides."""


def page_commands(page: str) -> list[list[str]]:
    """The overrides of each ``laftr-cl`` command in a page's indented code blocks (flags kept; a
    line ending in ``\\`` continues on the next), without templates (``...``, ``<time>``) and
    trailing comments."""
    commands = []
    readme = (REPO_ROOT / page).read_text()
    for line in re.sub(r"\\\n\s*", " ", readme).splitlines():
        text = line.strip().split("  # ")[0].strip()
        text = re.sub(r"^.*&& \.venv/bin/", "", text) if line.startswith("    ") else ""
        if text.startswith("laftr-cl ") and "..." not in text and "<" not in text:
            commands.append(shlex.split(text)[1:])
    return commands


COMMANDS = [command for page in PAGES for command in page_commands(page)]
IDS = [" ".join(c)[:80] for c in COMMANDS]


def test_readme_has_the_commands():
    assert len(COMMANDS) >= 15
    assert ["data.root=../shared/datasets/mnist-5k"] in page_commands("README.md")  # the quick start
    assert len(page_commands("README.md")) >= 8


@pytest.mark.parametrize("args", COMMANDS, ids=IDS)
def test_command_composes_and_passes_the_checks(args, monkeypatch):
    monkeypatch.chdir(REPO_ROOT)
    overrides = expand_home([a for a in args if not a.startswith("-")])
    assert preflight(CONFIG_DIR, overrides) >= 1


def _first_job(args: list[str]) -> list[str]:
    """The overrides of the first job: the first value of each comma sweep."""
    return [a.split("=", 1)[0] + "=" + a.split("=", 1)[1].split(",")[0] if "=" in a and not any(b in a for b in "[{") else a
            for a in args if not a.startswith("-")]


def _trains_here(args: list[str]) -> bool:
    """Whether the command can train on this machine (no download, no cluster, a GPU where it needs one)."""
    text = " ".join(args)
    needs_cuda = "device=cuda" in text or "train.compile=cudagraph" in text
    return ("data.download=true" not in text and "hparams_search" not in text and "launcher=slurm" not in text
            and (torch.cuda.is_available() or not needs_cuda))


@pytest.mark.parametrize("args", [c for c in COMMANDS if _trains_here(c)], ids=[i for c, i in zip(COMMANDS, IDS)
                                                                           if _trains_here(c)])
def test_command_trains_as_written(args, tmp_path, monkeypatch):
    monkeypatch.chdir(REPO_ROOT)
    overrides = expand_home(_first_job(args)) + SHORTEN + [f"paths.log_dir={tmp_path}", "logger=csv"]
    cfg = compose_run_config(overrides, tmp_path)
    if cfg.data.root.startswith("../shared/") and not (REPO_ROOT / cfg.data.root).is_dir():
        pytest.skip(f"{cfg.data.root} is not on this machine (the shared datasets sit beside the repository)")
    try:
        results = run_experiment(cfg, tmp_path)
    except BenchmarkDataNotFoundError:
        if cfg.data.root.startswith("../shared/"):
            raise
        pytest.skip(f"the dataset of this command is not under data.root={cfg.data.root} on this machine")
    assert results["complete"] and results["benchmark"]["eval_split"] in ("test", "validation")
