"""One cell through run(), bad input, the wind loader on a tiny file of PMLB's format, and the smoke
profile through the real sweep."""

import gzip

import numpy as np
import pandas as pd
import pytest

from common import cli
from common.config import ConfigError
from common.data import DataFormatError
from papers.zsda.config import SMOKE, Config
from papers.zsda.data import split_domains, wind_month_domains
from papers.zsda.run import run


def _write_wind(path, n_days=400, drop=None):
    cols = ["year", "month", "day", "RPT", "VAL", "ROS", "KIL", "SHA", "BIR", "DUB", "CLA", "MUL", "CLO", "BEL",
            "target"]
    cols = [c for c in cols if c != drop]
    rng = np.random.default_rng(0)
    with gzip.open(path, "wt") as f:
        f.write("\t".join(cols) + "\n")
        for i in range(n_days):
            row = {"year": 61 + i // 365, "month": 1 + (i // 30) % 12, "day": 1 + i % 30}
            vals = [float(row.get(c, rng.gamma(4.0, 3.0))) for c in cols]
            f.write("\t".join(f"{v:.3f}" for v in vals) + "\n")
    return path


def test_wind_loader_on_a_tiny_file(tmp_path):
    doms = wind_month_domains(_write_wind(tmp_path / "503_wind.tsv.gz"))
    assert [d.variable for d in doms] == [float(m) for m in range(1, 13)]
    assert all(d.x.shape[1] == 11 for d in doms) and sum(len(d.y) for d in doms) == 400
    split = split_domains(doms, 3, "regression", 1, seed=0)
    assert len(split.sources) == 9 and {d.variable for d in split.targets_eval} <= {float(m) for m in range(2, 12)}
    assert all(len(a.y) + len(b.y) == len(doms[int(a.variable) - 1].y)
               for a, b in zip(split.targets_eval, split.targets_oracle))
    with pytest.raises(DataFormatError, match="SHA"):
        wind_month_domains(_write_wind(tmp_path / "bad.tsv.gz", drop="SHA"))


def test_run_scores_unseen_months():
    rows = {r["metric"]: r for r in run(Config(dataset="wind_months", method="pooled", **SMOKE))}
    assert rows["n_source_domains"]["value"] == 12 - SMOKE["n_unseen"]
    assert 1.0 < rows["test_rmse"]["value"] < 15.0          # knots; the target's std is about 6.5


@pytest.mark.parametrize("bad, match", [({"method": "nope"}, "method must be"),
                                        ({"n_unseen": 10}, "n_unseen"),
                                        ({"image_size": 9}, "image_size")])
def test_bad_settings_are_config_errors(bad, match):
    with pytest.raises(ConfigError, match=match):
        Config(**{**SMOKE, **bad}).validate()


def test_too_many_images_is_a_config_error():
    with pytest.raises(ConfigError, match="images available"):
        run(Config(**{**SMOKE, "n_domains": 20, "n_per_domain": 3000}))


def test_smoke_profile_end_to_end(tmp_path, monkeypatch):
    monkeypatch.setenv("REPRO_RUNS", str(tmp_path / "runs"))
    monkeypatch.setenv("REPRO_RESULTS", str(tmp_path / "results"))
    monkeypatch.setenv("REPRO_PROGRESS", "0")
    report = cli.reproduce("zsda", profile="smoke")
    assert not report.failed and len(report.ran) == 14
    out = tmp_path / "results" / "zsda" / "smoke"
    cells = pd.read_csv(out / "x_classification.csv", keep_default_na=False)
    assert set(cells[cells.metric == "test_acc_pct"]["method"]) == {"proposed", "proposed_det", "pooled",
                                                                     "pooled_norm", "dann", "moe", "oracle"}
    assert ((cells.metric == "z_probe_distance_spearman") & (cells.method == "proposed")).any()
    claims = pd.read_csv(out / "claims.csv", keep_default_na=False).set_index("id")
    assert {"C1", "C2", "C3", "S1"} <= set(claims.index)
    assert claims.loc["S1", "kind"] == "sanity"
    assert (out / "f_unseen_domains.png").is_file() and (out / "TABLES.md").is_file()
