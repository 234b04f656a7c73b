"""Smoke runs of one cell per use through run(), and bad input: one clear error, nothing written."""

from __future__ import annotations

import pytest

from common.config import ConfigError, resolve
from common.meta.tasks import TaskError
from papers.meta_rdre import config as C
from papers.meta_rdre.run import run


@pytest.fixture
def tmp_runs(tmp_path, monkeypatch):
    monkeypatch.setenv("REPRO_RUNS", str(tmp_path / "runs"))
    monkeypatch.setenv("REPRO_RESULTS", str(tmp_path / "results"))
    monkeypatch.setenv("REPRO_THREADS", "1")
    return tmp_path


def _cfg(**kw):
    return resolve(C.Config, C, "smoke", cli=kw, cli_from_text=False)


def test_smoke_rdre_cell_all_methods(tmp_runs):
    rows = run(_cfg(task="rdre", pair_split="rows", n_test_tasks=3))
    errs = {r["method"]: r["value"] for r in rows if r["metric"] == "test_rdre_error"}
    assert set(errs) == set(C.METHODS)
    # clipped estimates: error >= -1/(2 alpha) bound is not needed; r=1 gives -0.5 and errors are finite
    assert all(-5 < v < 5 for v in errs.values())
    # the meta-trained models were cached and are reused by a second cell
    cache = list((tmp_runs / "runs" / "meta_rdre" / "_cache").glob("*/model.pt"))
    assert len(cache) == 4
    run(_cfg(task="comparison", pair_split="rows", n_test_tasks=4, methods="proposed,rulsif"))
    assert len(list((tmp_runs / "runs" / "meta_rdre" / "_cache").glob("*/model.pt"))) == 4


@pytest.mark.data
def test_smoke_outlier_cell(tmp_runs, monkeypatch):
    import os

    from common.data import DataMissingError
    if not os.environ.get("REPRO_DATA"):
        monkeypatch.setenv("REPRO_DATA", "/work/shared/data")
    try:
        rows = run(_cfg(task="outlier", dataset="thyroid", methods="proposed,rulsif,nn", n_test_tasks=3))
    except DataMissingError:
        pytest.skip("ADBench thyroid not found")
    aucs = {r["method"]: r["value"] for r in rows}
    assert set(aucs) == {"proposed", "rulsif", "nn"} and all(0 <= v <= 100 for v in aucs.values())


def test_bad_config_keys_and_values():
    with pytest.raises(ConfigError, match="unknown"):
        resolve(C.Config, C, "smoke", cli={"n_shots": 3}, cli_from_text=False)
    with pytest.raises((ConfigError, ValueError), match="method"):
        _cfg(methods="proposed,svm").validate()
    with pytest.raises((ConfigError, ValueError), match="task"):
        _cfg(task="regression").validate()
    with pytest.raises((ConfigError, ValueError), match="alpha"):
        _cfg(alpha=1.5).validate()
    # issue 13: --set lr=-1 used to fail 6 cells and leave 18 files; now one ConfigError before any cell
    for bad in ({"lr": -1.0}, {"nn_lr": 0.0}, {"kernel_folds": 1}, {"dtype": "float16"}, {"split_seed": -2}):
        with pytest.raises(ConfigError, match=next(iter(bad))):
            resolve(C.Config, C, "quick", cli=bad, cli_from_text=False)


def test_impossible_support_size_fails_before_training(tmp_runs):
    with pytest.raises(TaskError, match="needs"):
        run(_cfg(task="rdre", pair_split="classes", n_support=400, methods="proposed"))
    assert not (tmp_runs / "runs" / "meta_rdre" / "_cache").exists()


def test_tuning_picks_a_candidate_on_validation_tasks_only(tmp_runs):
    from papers.meta_rdre import baselines as B
    from papers.meta_rdre import run as RUN

    cfg = _cfg(task="rdre", pair_split="classes", class_test_frac=0.3, val_frac=0.3, tune=True, n_val_tasks=3,
               n_test_tasks=3, methods="proposed,rulsif,maml")
    train, val, test = RUN.sources(cfg)
    cls = [set(s.pool.y.tolist()) for s in (train, val, test)]
    assert not (cls[0] & cls[1] or cls[0] & cls[2] or cls[1] & cls[2])   # validation classes seen nowhere else
    rows = run(cfg)
    got = {(r["method"], r["metric"]): r["value"] for r in rows}
    for m in ("proposed", "rulsif", "maml"):
        field = next(iter(B.candidates(cfg, m)[0]))
        assert got[(m, f"tuned_{field}")] in [c[field] for c in B.candidates(cfg, m)]
        assert (m, "val_test_rdre_error") in got and (m, "test_rdre_error") in got
    with pytest.raises(ConfigError, match="val_frac"):
        _cfg(tune=True, val_frac=0.0).validate()


def test_class_disjoint_outlier_cell_reuses_the_pair_models(tmp_runs):
    base = dict(pair_split="classes", class_test_frac=0.3, val_frac=0.3, n_support=10, methods="proposed,kliep")
    run(_cfg(task="rdre", n_test_tasks=2, **base))
    n_models = len(list((tmp_runs / "runs" / "meta_rdre" / "_cache").glob("*/model.pt")))
    rows = run(_cfg(task="outlier", n_test_tasks=3, n_outlier_test=20, **base))
    assert len(list((tmp_runs / "runs" / "meta_rdre" / "_cache").glob("*/model.pt"))) == n_models == 1
    aucs = {r["method"]: r["value"] for r in rows if r["metric"] == "outlier_auc_pct"}
    assert set(aucs) == {"proposed", "kliep"} and all(0 <= v <= 100 for v in aucs.values())


@pytest.mark.data
@pytest.mark.parametrize("profile", ["quick", "smoke"])
def test_every_cell_of_a_profile_can_draw_its_tasks(profile, monkeypatch):
    """The quick run once stopped on x_rows: its validation rows could not supply a task. Every cell's
    meta-training, validation and test sources are built and sampled here, before any training."""
    import os

    from common.data import DataMissingError
    from common.registry import load_paper
    from common.sweep import expand_table
    from papers.meta_rdre import run as RUN

    if not os.environ.get("REPRO_DATA"):
        monkeypatch.setenv("REPRO_DATA", "/work/shared/data")
    paper = load_paper("meta_rdre")
    for table in paper.tables():
        seen = set()
        for cell in expand_table(paper, table, profile):
            cfg = cell.config
            if cell.setting in seen:  # seeds of one setting draw the same kind of tasks
                continue
            seen.add(cell.setting)
            try:
                tr, va, te = RUN.sources(cfg)
            except DataMissingError:
                pytest.skip(f"data of {table} not found")
            RUN.fixed_test_tasks(cfg, te)
            if cfg.tune:
                RUN.fixed_test_tasks(cfg, va, cfg.n_val_tasks, "val_tasks")
            next_batch = RUN.batch_sampler(cfg, tr)
            for _ in range(5):
                next_batch()
