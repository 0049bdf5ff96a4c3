"""The FSD-accuracy study: its statistics, where it evaluates, and end-to-end runs on tiny nets."""
import csv

import pytest

from helpers import compose_config
from laftr_cl.study.fsd.methods import build_methods
from laftr_cl.study.fsd.report import summarize_records
from laftr_cl.study.fsd.run import run_study
from laftr_cl.study.fsd.trajectory import checkpoint_steps

TINY = ["data.synthetic={train_per_class: 30, test_per_class: 1}", "model.net.hidden_sizes=[16]",
        "train.epochs_a=2", "train.epochs_b=2", "train.batch_size=16", "checkpoints.count=3",
        "perturbations.count=2", "fsd.repeats=2", "fsd.num_samples=8", "methods.laftr.rank=[3]",
        "methods.laftr.coreset_size=[5]", "methods.coreset.sizes=[5,1000]", "methods.ntk.sizes=[5]"]


def _config(overrides):
    return compose_config("fsd_study", overrides)


@pytest.mark.parametrize("total, count, spacing, expected", [
    (100, 4, "linear", [25, 50, 75, 100]), (100, 4, "log", [1, 5, 22, 100]),
    (10, 8, "log", [1, 2, 3, 4, 5, 6, 7, 10]), (5, 5, "log", [1, 2, 3, 4, 5])])
def test_checkpoint_steps(total, count, spacing, expected):
    assert checkpoint_steps(total, count, spacing) == expected


def test_checkpoint_steps_errors_name_the_setting():
    with pytest.raises(ValueError, match=r"checkpoints\.count=20"):
        checkpoint_steps(10, 20, "log")
    with pytest.raises(ValueError, match=r"checkpoints\.spacing"):
        checkpoint_steps(10, 2, "cubic")


def test_trajectory_spearman_ranks_the_checkpoints_only():
    base = {"label": "a", "method": "a", "setting": "", "target": "kl", "numbers": 1, "keeps_theta": True}
    points = [("trajectory", 1.0, 1.0), ("trajectory", 2.0, 3.0), ("trajectory", 3.0, 2.0),
              ("perturbation", 0.1, 9.0), ("perturbation", 0.2, 8.0)]
    records = [{**base, "kind": kind, "position": 0, "truth": truth, "estimate": estimate}
               for kind, truth, estimate in points]
    (row,) = summarize_records(records)
    assert row["spearman_trajectory"] == pytest.approx(0.5)  # ranks (1, 2, 3) against (1, 3, 2)
    assert row["spearman"] == pytest.approx(-0.7)  # all five points: 1 − 6·34/(5·24)
    (lone,) = summarize_records(records[:1] + records[3:])
    assert lone["spearman_trajectory"] != lone["spearman_trajectory"]  # NaN with one checkpoint


def test_smooth_ops_make_one_laftr_row_each():
    spec = {"laftr": {"estimators": ["bernoulli"], "inputs": ["diag"], "smooth_ops": ["exact", "linearized"]}}
    rows = build_methods(spec, metric="kl", num_samples=4, repeats=1, seed=0, is_mlp=False)
    assert [r.label for r in rows] == ["laftr bernoulli, diag", "laftr bernoulli, diag, linearized smooth ops"]
    assert [r.method.fsd_options["smooth_ops"] for r in rows] == ["exact", "linearized"]
    assert rows[0].method.summary_key() == rows[1].method.summary_key()  # one summary serves both


def test_study_on_a_tiny_mlp_writes_table_points_and_plot(tmp_path):
    rows = run_study(_config(TINY), tmp_path)
    labels = [f"{r['method']} {r['setting']}" for r in rows]
    assert len(labels) == 3 * 4 + 2 * 2 + 2 + 2 + 1  # laftr estimators × inputs, liftr modes × covariances, ...
    assert {"laftr exact, full", "laftr bernoulli, coreset m=5", "liftr stochastic, full", "ewc true Fisher",
            "coreset m=1000", "ntk m=5"} <= set(labels)
    by_label = dict(zip(labels, rows))
    # a coreset larger than task A's 60 examples holds all of it: its estimate is the truth
    assert by_label["coreset m=1000"]["median_rel_error"] < 1e-4
    assert by_label["coreset m=1000"]["numbers"] == 60 * 784 + 60 * 2 and not by_label["coreset m=1000"]["keeps_theta"]
    assert by_label["laftr exact, full"]["target"] == "l2_logit" and by_label["ewc true Fisher"]["target"] == "kl"
    assert by_label["laftr bernoulli, diag"]["numbers"] == 2 * 784 + 16  # mean, variances, rates
    # each Linear's input mean and variance, and the rates
    assert by_label["liftr deterministic, diag"]["numbers"] == 2 * 784 + 2 * 16 + 16
    assert by_label["liftr deterministic, full"]["target"] == "l2_logit"
    for row in rows:
        assert row["points"] == 3 + 2 and -1 <= row["spearman"] <= 1
    assert (tmp_path / "fsd_study.png").read_bytes()[:4] == b"\x89PNG"
    table = (tmp_path / "fsd_study.md").read_text()
    assert "| laftr | exact, full | l2_logit | 615,456 | yes |" in table
    with open(tmp_path / "fsd_study_points.csv") as handle:
        points = list(csv.DictReader(handle))
    assert len(points) == 5 * len(rows)
    truths = {(p["kind"], float(p["position"])): float(p["truth"]) for p in points if p["target"] == "kl"}
    sizes = sorted((pos, t) for (kind, pos), t in truths.items() if kind == "perturbation")
    assert sizes[0][1] < sizes[-1][1]  # a larger perturbation of θ_A moves the function more


def test_study_on_the_cifar_net(tmp_path):
    overrides = ["study=cifar_net_synthetic", "data.synthetic={train_per_class: 6, test_per_class: 1}",
                 "train.epochs_a=1", "train.epochs_b=1", "train.batch_size=6", "checkpoints.count=2",
                 "perturbations.count=1", "fsd.repeats=1", "fsd.num_samples=4",
                 "methods.laftr.inputs=[diag,coreset]",  # lowrank's fit on 3072-d inputs takes ~20 s
                 "methods.laftr.coreset_size=[3]", "methods.coreset.sizes=[3]", "methods.ntk.sizes=[3]",
                 "methods.ewc.fisher=[empirical]"]
    rows = run_study(_config(overrides), tmp_path)
    assert len(rows) == 2 * 2 + 1 + 1 + 1 and all(r["points"] == 3 for r in rows)
    with pytest.raises(ValueError, match=r"methods\.laftr\.estimators contains exact"):
        run_study(_config(overrides + ["methods.laftr.estimators=[exact]"]), tmp_path / "exact")


@pytest.mark.parametrize("preset", ["mnist_5k_mlp", "cifar_net_synthetic"])
def test_presets_compose(preset):
    cfg = _config([f"study={preset}"])
    assert cfg.model.name == ("cifar_net" if "cifar" in preset else "mlp")


def test_study_on_the_bn_cnn_sees_statistics_drift_with_current_statistics_only(tmp_path):
    overrides = ["study=mnist_5k_bn_cnn", "data.root=unused", "data.synthetic={train_per_class: 20, test_per_class: 1}",
                 "model.net.channels=[2,3]", "model.net.hidden=8", "train.epochs_a=1", "train.epochs_b=2",
                 "train.batch_size=8", "checkpoints.count=3", "perturbations.count=1", "fsd.repeats=1",
                 "fsd.num_samples=16", "methods.laftr.estimators=[relu]", "methods.laftr.rank=[3]",
                 "methods.coreset.sizes=[1000]"]
    rows = run_study(_config(overrides), tmp_path)
    assert [r["setting"] for r in rows] == ["relu, lowrank k=3", "relu, lowrank k=3, current BN stats", "m=1000"]
    assert all(r["points"] == 1 + 3 + 3 for r in rows)  # perturbation, checkpoints, statistics only
    with open(tmp_path / "fsd_study_points.csv") as handle:
        points = [p for p in csv.DictReader(handle) if p["kind"] == "statistics"]
    by_setting = {}
    for p in points:
        by_setting.setdefault(p["setting"], []).append((float(p["truth"]), float(p["estimate"])))
    assert all(truth > 0 for truth, _ in by_setting["m=1000"])  # the buffers alone moved the function
    assert all(abs(estimate) < 1e-9 for _, estimate in by_setting["relu, lowrank k=3"])  # blind
    assert all(estimate > 0 for _, estimate in by_setting["relu, lowrank k=3, current BN stats"])
    assert "| statistics |" in (tmp_path / "fsd_study_by_kind.md").read_text()
@pytest.mark.parametrize("override, message", [
    ("fsd.metric=foo", r"Unknown metric='foo'"),
    ("methods.laftr.rank=[5000]", r"lowrank k=5000.*rank=5000"),
    ("fsd.truth_batch_size=0", r"fsd\.truth_batch_size=0"),
    ("checkpoints.count=100", r"checkpoints\.count=100"),
    ("perturbations.count=-1", r"perturbations\.count=-1"),
])
def test_a_setting_that_fails_after_training_is_refused_before_any(override, message, tmp_path, monkeypatch):
    from laftr_cl.study.fsd import run as study_run

    trained = []
    monkeypatch.setattr(study_run, "train_task", lambda *args, **kwargs: trained.append(1))
    with pytest.raises(ValueError, match=message):
        run_study(_config([*TINY, "methods.ewc.fisher=[empirical]", override]), tmp_path)
    assert not trained and not list(tmp_path.iterdir())
