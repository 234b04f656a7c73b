"""Figures of hetero_ssl, drawn from the committed result CSVs only: accuracy (classification) and MSE
(regression) of the unlabelled instances against the number of labelled instances, one line per method."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from common.plotting import line_with_bands

PANELS = [("pmlb_classification", "test_acc_pct", "accuracy (%)", "labelled instances per class",
           "f1_classification.png"),
          ("pmlb_regression", "test_mse", "MSE (standardised target)", "labelled instances", "f2_regression.png")]


def make_figures(results_dir: Path, profile: str) -> None:
    path = Path(results_dir) / "t1_ssl_runs.csv"
    if not path.is_file():
        return
    runs = pd.read_csv(path, keep_default_na=False, dtype={"setting": str})
    for dataset, metric, ylabel, xlabel, name in PANELS:
        sub = runs[(runs["dataset"] == dataset) & (runs["metric"] == metric)].copy()
        if sub.empty:
            continue
        sub["n_labelled"] = sub["setting"].str.extract(r"n_labelled=(\d+)")[0].astype(int)
        sub["value"] = pd.to_numeric(sub["value"])
        line_with_bands(sub, x="n_labelled", y="value", hue="method", path=Path(results_dir) / name,
                        title=f"held-out tables, {dataset.split('_')[1]} ({profile})", xlabel=xlabel, ylabel=ylabel)
