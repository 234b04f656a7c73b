"""Data, episode sampling, bad input and smoke runs of the Meta-ticket folder."""

import io
import zipfile
from dataclasses import replace

import numpy as np
import pytest
from PIL import Image

from common.config import ConfigError, apply_overrides
from common.data import DataMissingError
from common.meta.episodes import TaskError
from papers.meta_ticket import data as D
from papers.meta_ticket.config import QUICK, SMOKE, Config
from papers.meta_ticket.run import run


def _have_omniglot_small():
    from common.data.core import search_roots

    return any((r / "omniglot" / "images_background_small2.zip").is_file() for r in search_roots())


needs_omniglot = pytest.mark.skipif(not _have_omniglot_small(), reason="Omniglot minimal splits not found ($REPRO_DATA)")


def test_rotation_augmentation_makes_new_classes():
    x = np.zeros((2, 3, 3), dtype=np.float32)
    x[:, 0, 0] = 1.0
    xr, yr = D.rotation_augment(x, np.array([0, 1]))
    assert sorted(set(yr.tolist())) == list(range(8))
    assert xr[yr == 1][0][2, 0] == 1.0 or xr[yr == 1][0][0, 2] == 1.0     # rotated by 90 degrees
    assert np.array_equal(xr[yr == 0][0], x[0])


@pytest.mark.data
@needs_omniglot
def test_omniglot_meta_splits_and_episodes_are_class_disjoint():
    train, test = D.load_omniglot_meta(False)
    assert set(train.classes.tolist()).isdisjoint(test.classes.tolist())
    assert set(train.groups).isdisjoint(test.groups)                       # disjoint alphabets
    assert train.x.shape[1] == 28 * 28 and len(train.classes) == 4 * 136 and len(test.classes) == 4 * 106
    tr, te = D.make_sampler(train, 5, 1, 1), D.make_sampler(test, 5, 1, 1)
    rng = np.random.default_rng(0)
    for _ in range(50):
        e = tr.sample(rng)
        assert len(set(e.classes.tolist())) == 5 and set(e.classes.tolist()) <= set(train.classes.tolist())
        assert set(e.support_idx.tolist()).isdisjoint(e.query_idx.tolist())
    for e in te.fixed_episodes(50, seed=1):
        assert set(e.classes.tolist()).isdisjoint(train.classes.tolist())
        assert np.array_equal(test.y[e.support_idx], e.classes[e.support_y])
    # no image of meta-test is an image of meta-train (the minimal zips share Greek and Latin)
    tr_hash = {hash(r.numpy().tobytes()) for r in train.x[train.y % 4 == 0]}
    assert not any(hash(r.numpy().tobytes()) in tr_hash for r in test.x[test.y % 4 == 0])


def test_sinusoid_tasks_follow_the_official_generator():
    tasks = D.sinusoid_tasks(np.random.default_rng(0), 50, 5)
    for xs, ys, xq, _yq in tasks:
        assert xs.shape == (5, 1) and xq.shape == (5, 1)
        assert float(xs.abs().max()) <= 5.0 and float(ys.abs().max()) <= 5.0


def test_smoke_run_sinusoid_cell(tmp_path):
    cfg = replace(Config(), **{**QUICK, **SMOKE, "dataset": "sinusoid", "k_shot": 5, "inner_lr": 0.01, "train_steps": 2,
                               "test_steps": 2, "ticket_optimizer": "adamw", "outer_lr": 1e-3, "threads": 1,
                               "method": "meta_ticket_iterand"})
    rows = run(cfg, workdir=tmp_path)
    vals = {r["metric"]: r["value"] for r in rows}
    assert 0 < vals["test_mse"] < 50 and vals["test_ci95_mse"] > 0
    assert 0 <= vals["sparsity_pct"] < 100
    assert not (tmp_path / "checkpoint.pt").exists()


@pytest.mark.data
@needs_omniglot
def test_smoke_run_omniglot_cell():
    cfg = replace(Config(), **{**QUICK, **SMOKE, "method": "meta_ticket", "threads": 1, "control_episodes": 4})
    rows = run(cfg)
    vals = {r["metric"]: r["value"] for r in rows if r.get("method") is None}
    assert 0 <= vals["test_acc_pct"] <= 100
    # the random-mask control runs on the first control_episodes test episodes
    control = {r["metric"]: r for r in rows if r.get("method") == "meta_ticket_random_mask"}
    assert control["test_acc_pct"]["n"] == 4 and [r["n"] for r in rows if r["metric"] == "test_acc_pct"
                                                    and r.get("method") is None] == [SMOKE["eval_episodes"]]
    assert {"feature_cka_l1", "feature_cka_l4", "sparsity_pct", "test_ci95_pct"} <= set(vals)
    assert vals["n_params"] == 784 * 256 + 256 + 2 * 256 + 256 * 128 + 128 + 2 * 128 + 128 * 64 + 64 + 2 * 64 \
        + 64 * 64 + 64 + 2 * 64 + 64 * 5 + 5


def test_bad_config_fails_with_one_clear_error():
    with pytest.raises(ConfigError, match="n_wya"):
        apply_overrides(Config(), {"n_wya": 5})
    with pytest.raises(ValueError, match="method"):
        Config(method="reptile").validate()
    with pytest.raises(ValueError, match="sinusoid"):
        Config(dataset="sinusoid", method="anil").validate()
    with pytest.raises(ValueError, match="init_sparsity"):
        Config(init_sparsity=1.0).validate()


@pytest.mark.data
@needs_omniglot
def test_more_shots_than_examples_is_refused_before_training(tmp_path):
    cfg = replace(Config(), **{**QUICK, **SMOKE, "k_shot": 15, "q_query": 10, "threads": 1})
    with pytest.raises(TaskError, match="20 examples"):
        run(cfg, workdir=tmp_path)
    assert list(tmp_path.iterdir()) == []


def _png(path, size=8, rgb=True):
    path.parent.mkdir(parents=True, exist_ok=True)
    arr = (np.random.default_rng(0).random((size, size, 3)) * 255).astype(np.uint8)
    Image.fromarray(arr if rgb else arr[..., 0]).save(path)


def test_cifarfs_loader_on_tiny_standard_layout(tmp_path, monkeypatch):
    root = tmp_path / "CIFAR-FS" / "cifar100"
    for split, names in (("train", ["apple", "bed"]), ("val", ["cup"]), ("test", ["dog", "eel"])):
        (root / "splits" / "bertinetto").mkdir(parents=True, exist_ok=True)
        (root / "splits" / "bertinetto" / f"{split}.txt").write_text("\n".join(names) + "\n")
        for n in names:
            for i in range(3):
                _png(root / "data" / n / f"{n}_{i}.png")
    monkeypatch.setenv("REPRO_DATA", str(tmp_path))
    tr, te = D.load_image_meta("cifarfs")
    assert tr.x.shape == (6, 3 * 32 * 32) and te.x.shape == (6, 3 * 32 * 32)
    assert set(tr.classes.tolist()).isdisjoint(te.classes.tolist())
    assert 0.0 <= float(tr.x.min()) and float(tr.x.max()) <= 1.0


def test_miniimagenet_loader_on_tiny_csv_layout(tmp_path, monkeypatch):
    root = tmp_path / "mini-imagenet"
    for split, wnids in (("train", ["n01", "n02"]), ("val", ["n03"]), ("test", ["n04", "n05"])):
        lines = ["filename,label"]
        for w in wnids:
            for i in range(2):
                _png(root / "images" / f"{w}{i:04d}.jpg".replace(".jpg", ".png"))
                lines.append(f"{w}{i:04d}.png,{w}")
        root.mkdir(parents=True, exist_ok=True)
        (root / f"{split}.csv").write_text("\n".join(lines) + "\n")
    monkeypatch.setenv("REPRO_DATA", str(tmp_path))
    tr, te = D.load_image_meta("miniimagenet", size=12)
    assert tr.x.shape == (4, 3 * 12 * 12) and len(te.classes) == 2
    assert set(tr.classes.tolist()).isdisjoint(te.classes.tolist())


def test_full_omniglot_loader_on_tiny_official_zips(tmp_path, monkeypatch):
    folder = tmp_path / "omniglot"
    folder.mkdir()
    for top, alphabets in (("images_background", ["Latin", "Greek"]), ("images_evaluation", ["Mongolian"])):
        with zipfile.ZipFile(folder / f"{top}.zip", "w") as z:
            for a in alphabets:
                for c in (1, 2):
                    for d in (1, 2):
                        buf = io.BytesIO()
                        Image.fromarray(np.full((105, 105), 255, np.uint8)).convert("1").save(buf, "PNG")
                        z.writestr(f"{top}/{a}/character{c:02d}/0{c}{d}_{d:02d}.png", buf.getvalue())
    monkeypatch.setenv("REPRO_DATA", str(tmp_path))
    from common.data import load_omniglot

    load_omniglot.cache_clear()
    try:
        tr, te = D.load_image_meta("omniglot")
    finally:
        load_omniglot.cache_clear()
    assert len(tr.classes) == 4 * 4 and len(te.classes) == 2 * 4          # characters x rotations
    assert set(tr.groups) == {"Latin", "Greek"} and set(te.groups) == {"Mongolian"}
    assert float(tr.x.min()) == pytest.approx(1.0, abs=1e-5)              # blank page: background = 1 (ToTensor)


def test_missing_dataset_names_where_it_looked(tmp_path, monkeypatch):
    monkeypatch.setenv("REPRO_DATA", str(tmp_path))
    with pytest.raises(DataMissingError, match="CIFAR-FS"):
        D.load_cifarfs("train")


def test_registry_names_every_configurable_method():
    from papers.meta_ticket.baselines import METHODS
    from papers.meta_ticket.config import METHOD_NAMES

    assert set(METHODS) == set(METHOD_NAMES)


def test_figures_read_only_results_csvs(tmp_path):
    """make_figures draws both figures from the result CSVs alone, with a 95% interval over seeds."""
    import pandas as pd

    from papers.meta_ticket.figures import accuracy_by_width, make_figures

    runs, cells = [], []
    for t in ("t1_omniglot_1shot", "t2_omniglot_5shot"):
        for method, base in (("maml", 50.0), ("meta_ticket", 55.0)):
            for w in (1.0, 2.0):
                for seed in (0, 1, 2):
                    runs.append({"table": t, "method": method, "setting": f"width_factor={w}", "seed": seed,
                                 "metric": "test_acc_pct", "value": base + w + seed})
                cells += [{"table": t, "method": method, "setting": f"width_factor={w}",
                           "metric": f"feature_cka_l{i}", "mean": 0.9 - 0.1 * i, "std": 0.01} for i in (1, 2)]
    for t in ("t1_omniglot_1shot", "t2_omniglot_5shot"):
        pd.DataFrame([r for r in runs if r["table"] == t]).to_csv(tmp_path / f"{t}_runs.csv", index=False)
        pd.DataFrame([c for c in cells if c["table"] == t]).to_csv(tmp_path / f"{t}.csv", index=False)
    make_figures(tmp_path, "quick")
    assert (tmp_path / "fig_accuracy_vs_width.png").stat().st_size > 0
    assert (tmp_path / "fig_feature_cka.png").stat().st_size > 0
    tab = accuracy_by_width(pd.DataFrame(runs[:3]))          # maml, width 1, seeds 0-2: 51, 52, 53
    row = tab.iloc[0]
    assert row["mean"] == 52.0 and row["n_seeds"] == 3
    assert row["low"] == pytest.approx(52.0 - 4.302653 * 1.0 / np.sqrt(3), rel=1e-5)   # t(0.975, 2) = 4.3027


def test_seed_varies_weights_and_tasks_and_reruns_are_identical():
    """Named seed streams: another seed changes the weights, the training tasks and the test tasks;
    the same seed gives the same rows."""
    from common.runtime import derive_seed

    streams = {derive_seed(0, s) for s in ("weights", "init", "train_tasks", "test_tasks", "random_mask")}
    assert len(streams) == 5 and derive_seed(1, "weights") not in streams
    base = replace(Config(), **{**QUICK, **SMOKE, "dataset": "sinusoid", "k_shot": 5, "inner_lr": 0.01,
                                "train_steps": 1, "test_steps": 1, "ticket_optimizer": "adamw", "outer_lr": 1e-3,
                                "threads": 1, "method": "meta_ticket", "eval_episodes": 4})

    def values(seed):
        return {(r.get("method", ""), r["metric"]): r["value"] for r in run(replace(base, seed=seed))
                if not r["metric"].endswith("time_s")}

    a, b, c = values(0), values(0), values(1)
    assert a == b
    assert a[("", "test_mse")] != c[("", "test_mse")]
    assert a[("meta_ticket_random_mask", "test_mse")] != c[("meta_ticket_random_mask", "test_mse")]
