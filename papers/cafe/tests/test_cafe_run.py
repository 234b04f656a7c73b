"""Smoke runs of table cells through run() (synthetic stand-in images so no dataset is needed),
the no-source-data-at-test-time guarantee, and bad input."""

import numpy as np
import pytest
import torch

import papers.cafe.config as CM
from common.config import ConfigError, resolve
from papers.cafe import data as D
from papers.cafe import run as R
from papers.cafe.corruptions import CORRUPTIONS


def _synthetic(split):
    """Class k = a bright square at one of 10 positions on a dark noisy background (separable)."""
    rng = np.random.default_rng(0 if split == "train" else 1)
    n = 600 if split == "train" else 300
    y = np.arange(n) % 10
    x = rng.integers(0, 60, (n, 32, 32, 3)).astype(np.uint8)
    for i, k in enumerate(y):
        r, c = 2 + 9 * (k // 4), 2 + 7 * (k % 4)
        x[i, r:r + 7, c:c + 7] = 230
    return x, y.astype(np.int64)


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("REPRO_RUNS", str(tmp_path / "runs"))
    monkeypatch.setattr(D, "load_clean", lambda dataset, split: _synthetic(split))
    n = torch.get_num_threads()
    yield tmp_path
    torch.set_num_threads(n)


def _cfg(**kw):
    """The smoke profile at the quick profile's width (1: feature dim 64, as in tables/*.yaml)."""
    return resolve(CM.Config, CM, "smoke", cell={"dataset": "fmnist", "threads": 1, "n_groups": 4, "width": 1,
                                                    "source_epochs": 2, "source_batch_size": 16, **kw})


def test_smoke_cells_single_and_mixed(env, monkeypatch):
    rows = R.run(_cfg(method="cafe", stream="single"))
    by = {r["setting"]: r["value"] for r in rows}
    assert set(by) == set(CORRUPTIONS) | {"mean", "clean"}
    assert all(0 <= v <= 100 for v in by.values())
    assert by["mean"] == pytest.approx(np.mean([by[c] for c in CORRUPTIONS]))
    assert all(r["dataset"] == "fmnist_c_ours" and r["metric"] == "error_pct" for r in rows)
    # the cached source model learned the synthetic task: clean error far below chance (90 %)
    src = {r["setting"]: r["value"] for r in R.run(_cfg(method="source", stream="single"))}
    assert src["clean"] < 50
    caches = sorted(p.name.split("-")[0] for p in (env / "runs" / "cafe" / "_cache").iterdir())
    assert caches == ["bench", "source", "stats"]          # one of each, shared by the cells

    # no source data at test time: once the statistics exist, any access to source images fails,
    # and every adapting method (new stream) still runs
    def no_source(dataset, split):
        if split == "train":
            raise AssertionError("source data touched at test time")
        return _synthetic(split)
    monkeypatch.setattr(D, "load_clean", no_source)
    for m in ("cafe", "tent"):
        mixed = R.run(_cfg(method=m, stream="mixed"))
        assert mixed[0]["setting"] == "mixed" and len(mixed) == 1 + len(CORRUPTIONS)
        assert mixed[0]["n"] == 15 * 32
    # ... while a new seed needs its own source model, hence the source images
    with pytest.raises(AssertionError, match="source data touched"):
        R.run(_cfg(method="cafe", stream="mixed", seed=1))


def test_the_seed_varies_source_model_statistics_benchmark_and_order(env):
    """Issue 13 item 4: two seeds differ in every random choice, one seed reproduces itself."""
    def parts(seed):
        cfg = _cfg(method="bn", seed=seed, source_epochs=1, n_per_corruption=16)
        model = R.source_model(cfg, "cpu")
        return (model.state_dict(), R.source_statistics(cfg, model, "cpu"), R.benchmark(cfg),
                [r["value"] for r in R.run(cfg)])
    m0, s0, b0, v0 = parts(0)
    m1, s1, b1, v1 = parts(1)
    assert not torch.equal(m0["convs.0.weight"], m1["convs.0.weight"])               # initialisation / training
    assert not torch.allclose(s0.mean, s1.mean)                                 # statistics of another model
    assert not np.array_equal(b0["fog"][1], b1["fog"][1])                       # another draw of test images
    assert not np.array_equal(b0["clean"][1], b1["clean"][1])
    assert v0 != v1
    again = parts(0)                                                            # from the caches
    assert torch.equal(again[0]["convs.0.weight"], m0["convs.0.weight"]) and again[3] == v0
    kinds = sorted(p.name.split("-")[0] for p in (env / "runs" / "cafe" / "_cache").iterdir())
    assert kinds == ["bench", "bench", "source", "source", "stats", "stats"]   # one of each per seed


def test_cifar10_subset_trains_on_its_test_split_and_streams_its_train_split(env, monkeypatch):
    """Issue 31: the stronger CIFAR stand-in source model uses the 10k test-split images; the corrupted
    streams (and the clean row) come from the 5k train-split images, which the source model never saw."""
    seen = []

    def record(dataset, split):
        seen.append((dataset, split))
        return _synthetic(split)
    monkeypatch.setattr(D, "load_clean", record)
    cfg = _cfg(dataset="cifar10sub", method="source", source_epochs=1)
    R.source_model(cfg, "cpu")
    assert seen == [("cifar10sub", "test")]
    seen.clear()
    R.benchmark(cfg)
    assert seen == [("cifar10sub", "train")]
    assert R.source_split("fmnist") == "train" and R.target_split("fmnist") == "test"
    with pytest.raises(ConfigError, match="n_per_corruption"):
        resolve(CM.Config, CM, "quick", cell={"dataset": "cifar10sub", "n_per_corruption": 5001})


def test_bad_config_fails_at_once():
    with pytest.raises(ConfigError, match="valid keys"):
        resolve(CM.Config, CM, "quick", cell={"n_group": 3})
    with pytest.raises(ConfigError, match="method"):
        resolve(CM.Config, CM, "quick", cell={"method": "cafee"})
    with pytest.raises(ConfigError, match="n_per_corruption"):
        resolve(CM.Config, CM, "quick", cell={"n_per_corruption": 10, "batch_size": 64})
    with pytest.raises(ConfigError, match="n_groups"):
        resolve(CM.Config, CM, "quick", cell={"width": 1, "n_groups": 65})   # more groups than feature dims
    with pytest.raises(ConfigError, match="severity"):
        resolve(CM.Config, CM, "quick", cell={"severity": 0})
    with pytest.raises(ConfigError, match="divergence"):
        resolve(CM.Config, CM, "quick", cell={"divergence": "js_exact"})
    with pytest.raises(ConfigError, match="arch"):
        resolve(CM.Config, CM, "quick", cell={"arch": "vgg"})


def test_missing_data_is_one_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("REPRO_DATA", str(tmp_path))
    monkeypatch.setenv("REPRO_RUNS", str(tmp_path / "runs"))
    from common.data import DataMissingError
    with pytest.raises(DataMissingError, match="cifar10_subset"):
        D.load_cifar10_subset.__wrapped__("train") if hasattr(D.load_cifar10_subset, "__wrapped__") \
            else D.load_cifar10_subset("train")
    with pytest.raises(DataMissingError):
        R.run(resolve(CM.Config, CM, "smoke", cell={"dataset": "cifar100", "threads": 1}))
    cache = tmp_path / "runs" / "cafe" / "_cache"
    assert not any((p / "done").exists() for p in cache.glob("*")) if cache.exists() else True
