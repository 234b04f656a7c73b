"""Figures of lmc_width, drawn from the committed result CSVs only (never runs/).

- ``f_barrier_width{,_mnist5k}.png``: loss barrier at lambda = 1/2 vs width, raw, calibrated and with
  REPAIR, per method (Fashion-MNIST, MNIST-5k);
- ``f_merged_acc_width{,_mnist5k}.png``: merged accuracy vs width, per method;
- ``f_lewc_width.png``: LEWC relative error per layer vs width (no permutation), strong vs weak decay;
- ``f_path.png``: calibrated test loss along the path, one line per width (no permutation).
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd

from common.plotting import STYLE, line_with_bands, save


def _runs(results_dir: Path, table: str) -> pd.DataFrame | None:
    path = Path(results_dir) / f"{table}_runs.csv"
    if not path.is_file():
        return None
    df = pd.read_csv(path, keep_default_na=False, dtype={"setting": str})
    df["value"] = pd.to_numeric(df["value"], errors="coerce")
    df["width_mult"] = pd.to_numeric(df["setting"].str.extract(r"width_mult=([0-9.]+)")[0], errors="coerce")
    return df


def make_figures(results_dir: Path, profile: str) -> None:
    out = Path(results_dir)
    for table, suffix, name in (("x_width", "", "Fashion-MNIST"), ("x_width_mnist5k", "_mnist5k", "MNIST-5k")):
        df = _runs(out, table)
        if df is None or not df["width_mult"].notna().any():
            continue
        with plt.rc_context(STYLE):
            fig, axes = plt.subplots(1, 3, figsize=(12.0, 3.2), sharey=True)
            for ax, metric, what in zip(axes, ("barrier_mid_loss_test", "barrier_mid_loss_cal_test",
                                               "barrier_mid_loss_repair_test"),
                                        ("raw", "temperature calibrated", "REPAIR (no calibration)")):
                line_with_bands(df[df.metric == metric], x="width_mult", y="value", hue="method", path=None,
                                title=f"{name}: loss barrier, {what}", xlabel="width multiplier", ylabel="nats",
                                logx=True, ax=ax)
            save(fig, out / f"f_barrier_width{suffix}.png")
        line_with_bands(df[df.metric == "merged_acc_pct_test"], x="width_mult", y="value", hue="method",
                        path=out / f"f_merged_acc_width{suffix}.png",
                        title=f"merged model (lambda = 1/2), {name}, {profile}",
                        xlabel="width multiplier", ylabel="test accuracy (%)", logx=True)
        if suffix:
            continue
        path = df[(df.method == "naive") & df.metric.str.startswith("path_loss_cal_t")].copy()
        if not path.empty:
            path["t"] = path["metric"].str.replace("path_loss_cal_t", "", regex=False).astype(float)
            path["width"] = "x" + path["width_mult"].map(lambda w: f"{w:g}")
            line_with_bands(path.sort_values("width_mult"), x="t", y="value", hue="width",
                            path=out / "f_path.png", title="calibrated test loss along the path (no perm.)",
                            xlabel="t  (theta = (1 - t) theta_a + t theta_b)", ylabel="nats")
    lewc = []
    for table in ("x_width", "x_weight_decay"):
        d = _runs(out, table)
        if d is None:
            continue
        d = d[(d.method == "naive") & d.metric.str.match(r"lewc_relerr_l\d")].copy()
        wd = d["setting"].str.extract(r"weight_decay=([0-9.e-]+)")[0].fillna("0.003")
        d["curve"] = d["metric"].str.replace("lewc_relerr_", "", regex=False) + ", wd " + wd
        lewc.append(d if table == "x_width" else d[wd != "0.003"])
    if lewc and not pd.concat(lewc).empty:
        line_with_bands(pd.concat(lewc), x="width_mult", y="value", hue="curve", path=out / "f_lewc_width.png",
                        title="LEWC relative error per layer (no permutation)", xlabel="width multiplier",
                        ylabel="||f_l(merged) - LEWC|| / ||f_l(merged)||", logx=True)
