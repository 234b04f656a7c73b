"""Smoke run of one cell per analysis through run(), and a smoke sweep with figures drawn from results/."""

import pandas as pd
import pytest

from common.config import resolve
from papers.lmc_wm import config as cfgmod


def _fmnist_available():
    try:
        from common.data import load_fashion_mnist

        load_fashion_mnist("test")
        return True
    except Exception:
        return False


pytestmark = pytest.mark.data


@pytest.fixture
def tmp_roots(tmp_path, monkeypatch):
    if not _fmnist_available():
        pytest.skip("Fashion-MNIST not installed (apt-get install dataset-fashion-mnist)")
    monkeypatch.setenv("REPRO_RUNS", str(tmp_path / "runs"))
    monkeypatch.setenv("REPRO_RESULTS", str(tmp_path / "results"))
    monkeypatch.setenv("REPRO_PROGRESS", "0")
    return tmp_path


def test_smoke_cells_of_every_analysis(tmp_roots):
    from papers.lmc_wm.run import run

    out = {}
    for analysis, method in [("barrier", "wm"), ("distance", "naive"), ("singular", "am"), ("merge", "ste")]:
        cfg = resolve(cfgmod.Config, cfgmod, "smoke", cli={"analysis": analysis, "method": method},
                      cli_from_text=False)
        work = tmp_roots / analysis
        work.mkdir()
        rows = run(cfg, workdir=work)
        out[analysis] = {r["metric"]: r["value"] for r in rows}
        assert all(r["dataset"] == "fashion_mnist" for r in rows)
    assert 0.0 <= out["barrier"]["barrier_acc_pct_test"] <= 100.0
    assert out["barrier"]["endpoint_acc_pct_test"] > 50.0       # even 1 epoch learns Fashion-MNIST
    assert out["distance"]["dist_ratio"] == pytest.approx(1.0)  # naive: no permutation
    assert out["singular"]["sv_rel_change_max"] < 1e-10
    assert 0.0 <= out["singular"]["align_top"] <= 1.0
    assert out["merge"]["merged_acc_pct_test"] >= 0.0
    # the interpolation curve is part of the rows: 3 points, endpoints consistent with the summary
    path = {k: v for k, v in out["barrier"].items() if k.startswith("path_acc_pct_test_lam")}
    assert sorted(path) == ["path_acc_pct_test_lam0", "path_acc_pct_test_lam0.5", "path_acc_pct_test_lam1"]
    assert out["barrier"]["endpoint_acc_pct_test"] == pytest.approx(
        0.5 * (path["path_acc_pct_test_lam0"] + path["path_acc_pct_test_lam1"]))
    assert out["barrier"]["mid_acc_pct_test"] == path["path_acc_pct_test_lam0.5"]
    ranks = [k for k in out["singular"] if k.startswith("align_rank_fc.1.weight_r")]
    assert ranks and all(0.0 <= out["singular"][k] <= 1.0 for k in ranks)
    # models are cached and reused: one training per pool member
    models = list((tmp_roots / "runs" / "lmc_wm" / "_cache").glob("model-*/model.pt"))
    assert 2 <= len(models) <= 3


def test_smoke_sweep_writes_results_and_figures(tmp_roots):
    from common.cli import reproduce

    report = reproduce("lmc_wm", profile="smoke", tables=["x_barrier", "t1_distance"], update_readme=False)
    assert not report.failed
    folder = tmp_roots / "results" / "lmc_wm" / "smoke"
    cells = pd.read_csv(folder / "t1_distance.csv")
    ratio = cells[(cells.metric == "dist_ratio")].set_index("method")["mean"]
    assert ratio["naive"] == pytest.approx(1.0) and ratio["wm"] < 1.0
    assert (folder / "x_barrier.png").is_file() and (folder / "t1_distance.png").is_file()
    # figures come from results/ alone: delete runs/ and redraw
    import shutil

    from papers.lmc_wm.figures import make_figures, path_curves

    shutil.rmtree(tmp_roots / "runs")
    (folder / "x_barrier.png").unlink()
    make_figures(folder, "smoke")
    assert (folder / "x_barrier.png").is_file()
    curves = path_curves(pd.read_csv(folder / "x_barrier.csv", keep_default_na=False))
    assert sorted(set(curves["lam"])) == [0.0, 0.5, 1.0] and set(curves["split"]) == {"test", "train"}
