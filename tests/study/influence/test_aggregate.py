"""Seed aggregation of the influence studies: grouping, mean ± std, seed-mean detection curves, the script."""
from __future__ import annotations

import pytest

from helpers import REPO_ROOT, run_python
from laftr_cl.reporting.groups import DuplicateSeedsError
from laftr_cl.run.atomic import write_json_atomic
from laftr_cl.study.influence.aggregate import (
    INFLUENCE_COLUMNS,
    aggregate_rows,
    find_runs,
    group_runs,
    mean_detection_curves,
    summary_markdown,
)


def config(seed: int, data: str = "mnist_5k", epsilon_scale: float = 1.0) -> dict:
    return {"seed": seed, "num_train": 4, "data": {"name": data}, "solver": {"epsilon_scale": epsilon_scale}}


def influence_run(folder, seed, pearson, build_s=None, **kw):
    table = [{"method": "true_fsd", "pearson": 1.0, "build_s": 0.0},
             {"method": "laftr_diag", "pearson": pearson, "build_s": build_s}]
    write_json_atomic(folder / "results.json", {"config": config(seed, **kw), "summary": f"run {seed}", "table": table,
                                         "loss_changes": {}, "self_loss_changes": {}})


def mislabeled_run(folder, seed, found):
    write_json_atomic(folder / "results.json", {
        "config": config(seed), "summary": f"run {seed}", "flipped": [1],
        "table": [{"method": "loss", "area": 0.5}], "curves": {"loss": found},
    })


@pytest.fixture
def sweep(tmp_path):
    for i, (seed, pearson, build) in enumerate([(0, 0.5, 2.0), (1, 0.7, None), (2, 0.9, 4.0)]):
        (tmp_path / f"{i}").mkdir()
        influence_run(tmp_path / f"{i}", seed, pearson, build)
    (tmp_path / "eps").mkdir()
    influence_run(tmp_path / "eps", 0, 0.1, epsilon_scale=0.01)
    for seed, found in [(0, [0, 1, 1, 1, 1]), (1, [0, 0, 0, 1, 1])]:
        (tmp_path / f"m{seed}").mkdir()
        mislabeled_run(tmp_path / f"m{seed}", seed, found)
    (tmp_path / "other").mkdir()
    write_json_atomic(tmp_path / "other" / "results.json", {"final": {}})  # a CL run's results: not a study run
    return tmp_path


def test_runs_group_by_every_setting_but_the_seed(sweep):
    runs = find_runs([sweep])
    assert len(runs) == 6
    groups = list(group_runs(runs).values())
    assert sorted(len(g) for g in groups) == [1, 2, 3]
    three = next(g for g in groups if len(g) == 3)
    assert {r.config["seed"] for r in three} == {0, 1, 2} and {r.kind for r in three} == {"influence"}


def test_cells_are_mean_and_sample_std_skipping_missing_values(sweep):
    three = next(g for g in group_runs(find_runs([sweep])).values() if len(g) == 3)
    rows = {row["method"]: row for row in aggregate_rows(three, INFLUENCE_COLUMNS[:2] + [("build_s", "b", ".1f")])}
    assert rows["laftr_diag"]["pearson"] == "0.700 ± 0.200"
    assert rows["laftr_diag"]["build_s"] == "3.0 ± 1.4"  # seed 1's missing time is left out
    single = next(g for g in group_runs(find_runs([sweep])).values() if len(g) == 1)
    assert aggregate_rows(single, INFLUENCE_COLUMNS[:2])[1]["pearson"] == "0.100"


def test_mean_detection_curve_and_its_area(sweep):
    two = next(g for g in group_runs(find_runs([sweep])).values() if g[0].kind == "mislabeled")
    curve = mean_detection_curves(two)["loss"]
    assert curve.found.tolist() == [0, 0.5, 0.5, 1, 1]
    assert curve.checked.tolist() == [0, 0.25, 0.5, 0.75, 1]
    assert curve.area == pytest.approx(0.25 * (0.25 + 0.5 + 0.75 + 1))


def test_markdown_names_the_group_and_each_seed(sweep):
    text = summary_markdown(group_runs(find_runs([sweep])))
    assert "**influence: mnist_5k**, N=4, ε = 0.01/N, seeds 0 (mean ± std over 1 run)" in text
    assert "seeds 0, 1, 2 (mean ± std over 3 runs)" in text and "- seed 2: run 2" in text
    assert "| laftr_diag | 0.700 ± 0.200 |" in text


@pytest.mark.slow
def test_script_writes_tables_and_plots_and_rejects_empty_folders(sweep, tmp_path_factory):
    out = tmp_path_factory.mktemp("out")
    script = str(REPO_ROOT / "scripts" / "influence_table.py")
    done = run_python([script, str(sweep), "--out", str(out / "t.md"), "--plot-dir", str(out)])
    assert done.returncode == 0, done.stderr
    assert "| laftr_diag |" in (out / "t.md").read_text()
    assert (out / "mislabeled_mnist_5k.png").stat().st_size > 0
    empty = run_python([script, str(out)])
    assert empty.returncode == 2 and "run them first" in empty.stderr
    missing = run_python([script, str(out / "nope")])
    assert missing.returncode == 2 and "No such folder" in missing.stderr


def test_a_seed_twice_in_one_setting_is_refused_not_averaged(sweep):
    (sweep / "again").mkdir()
    influence_run(sweep / "again", 1, 0.2)  # seed 1 of the three-seed setting, a second time
    with pytest.raises(DuplicateSeedsError, match=r"2 runs of the influence study with the same settings have seed 1"):
        group_runs(find_runs([sweep]))
