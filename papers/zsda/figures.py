"""Figures of zsda, drawn from the committed result CSVs only: per dataset, the unseen-domain metric
of every method (mean over seeds, bar = +-1 std, dots = seeds)."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd

from common.plotting import STYLE, save

ORDER = ["proposed", "proposed_det", "pooled", "pooled_norm", "dann", "moe", "oracle"]
PANELS = [("x_classification", "test_acc_pct", "accuracy on unseen angles (%)"),
          ("x_regression", "test_rmse", "RMSE on unseen months (knots)")]


def make_figures(results_dir: Path, profile: str) -> None:
    panels = []
    for table, metric, label in PANELS:
        path = Path(results_dir) / f"{table}_runs.csv"
        if path.is_file():
            runs = pd.read_csv(path, keep_default_na=False)
            runs = runs[runs["metric"] == metric]
            for ds, sub in runs.groupby("dataset"):
                panels.append((ds, sub, label))
    if not panels:
        return
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(1, len(panels), figsize=(3.6 * len(panels), 3.2), squeeze=False)
        for ax, (ds, sub, label) in zip(axes[0], panels):
            methods = [m for m in ORDER if m in set(sub["method"])]
            stats = sub.groupby("method")["value"].agg(["mean", "std"]).reindex(methods)
            ax.bar(range(len(methods)), stats["mean"], yerr=stats["std"].fillna(0), color="#9ab", capsize=2)
            for i, m in enumerate(methods):
                v = sub[sub["method"] == m]["value"].astype(float)
                ax.plot([i] * len(v), v, "k.", ms=3)
            lo, hi = sub["value"].astype(float).min(), sub["value"].astype(float).max()
            ax.set_ylim(lo - 0.15 * (hi - lo + 1e-9), hi + 0.15 * (hi - lo + 1e-9))
            ax.set_xticks(range(len(methods)), methods, rotation=45, ha="right")
            ax.set_title(f"{ds} ({profile})")
            ax.set_ylabel(label)
        save(fig, Path(results_dir) / "f_unseen_domains.png")
