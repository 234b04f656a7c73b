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
    return resolve(CM.Config, CM, "smoke", cell={"dataset": "cifar10sub", "threads": 1, "n_groups": 4,
                                                    "source_epochs": 2, "source_batch_size": 16, **kw})


def test_smoke_cells_single_and_mixed(env, monkeypatch):
    rows = R.run(_cfg(method="cafe", stream="single"))
    by = {r["setting"]: r["value"] for r in rows}
    assert set(by) == set(CORRUPTIONS) | {"mean", "clean"}
    assert all(0 <= v <= 100 for v in by.values())
    assert by["mean"] == pytest.approx(np.mean([by[c] for c in CORRUPTIONS]))
    assert all(r["dataset"] == "cifar10sub_c_ours" and r["metric"] == "error_pct" for r in rows)
    # the cached source model learned the synthetic task: clean error far below chance (90 %)
    src = {r["setting"]: r["value"] for r in R.run(_cfg(method="source", stream="single"))}
    assert src["clean"] < 50
    caches = sorted(p.name.split("-")[0] for p in (env / "runs" / "cafe" / "_cache").iterdir())
    assert caches == ["bench", "source", "stats"]          # one of each, shared by the cells

    # no source data at test time: once the statistics exist, any access to source images fails,
    # and every adapting method (new stream, new seed) still runs
    def no_source(dataset, split):
        if split == "train":
            raise AssertionError("source data touched at test time")
        return _synthetic(split)
    monkeypatch.setattr(D, "load_clean", no_source)
    for m in ("cafe", "tent"):
        mixed = R.run(_cfg(method=m, stream="mixed", seed=1))
        assert mixed[0]["setting"] == "mixed" and len(mixed) == 1 + len(CORRUPTIONS)
        assert mixed[0]["n"] == 15 * 32


def test_bad_config_fails_at_once():
    with pytest.raises(ConfigError, match="valid keys"):
        resolve(CM.Config, CM, "quick", cell={"n_group": 3})
    with pytest.raises(ConfigError, match="method"):
        resolve(CM.Config, CM, "quick", cell={"method": "cafee"})
    with pytest.raises(ConfigError, match="n_per_corruption"):
        resolve(CM.Config, CM, "quick", cell={"n_per_corruption": 10, "batch_size": 64})
    with pytest.raises(ConfigError, match="n_groups"):
        resolve(CM.Config, CM, "quick", cell={"n_groups": 65})       # more groups than feature dims
    with pytest.raises(ConfigError, match="severity"):
        resolve(CM.Config, CM, "quick", cell={"severity": 0})


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
