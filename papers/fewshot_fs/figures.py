"""Figures of fewshot_fs (one set per dataset of x_fewshot and x_tables), drawn from the committed result CSVs
only (never runs/)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from common.plotting import line_with_bands


def make_figures(results_dir: Path, profile: str) -> None:
    paths = [Path(results_dir) / f"{t}_runs.csv" for t in ("x_fewshot", "x_tables")]
    frames = [pd.read_csv(p, keep_default_na=False, dtype={"setting": str}) for p in paths if p.is_file()]
    if not frames:
        return
    runs = pd.concat(frames, ignore_index=True)
    runs = runs[runs["metric"].isin(["test_recon_mse", "test_acc_pct"])].copy()
    runs["K"] = runs["setting"].str.extract(r"n_selected=(\d+)")[0].astype(int)
    runs["N"] = runs["setting"].str.extract(r"n_support=(\d+)")[0].astype(int)
    few, k_mid = runs["N"].min(), sorted(runs["K"].unique())[len(runs["K"].unique()) // 2]
    for ds, sub in runs.groupby("dataset"):
        err = sub[sub["metric"] == "test_recon_mse"]
        line_with_bands(err[err["N"] == few], x="K", y="value", hue="method",
                        path=Path(results_dir) / f"f_recon_vs_k_{ds}.png",
                        title=f"{ds}: reconstruction error, N = {few} target instances ({profile})",
                        xlabel="selected features K", ylabel="test reconstruction MSE", logx=True)
        line_with_bands(err[err["K"] == k_mid], x="N", y="value", hue="method",
                        path=Path(results_dir) / f"f_recon_vs_n_{ds}.png",
                        title=f"{ds}: reconstruction error, K = {k_mid} ({profile})",
                        xlabel="target instances N", ylabel="test reconstruction MSE", logx=True)
        acc = sub[sub["metric"] == "test_acc_pct"]
        line_with_bands(acc[acc["N"] == few], x="K", y="value", hue="method",
                        path=Path(results_dir) / f"f_acc_vs_k_{ds}.png",
                        title=f"{ds}: 5-NN accuracy, N = {few} ({profile})",
                        xlabel="selected features K", ylabel="test accuracy (%)", logx=True)
