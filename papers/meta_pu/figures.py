"""Figures of meta_pu, drawn from the committed result CSVs only (never runs/): one grouped bar chart
per table, test accuracy of every method in every setting (error bars: sd over seeds)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

FIGURES = {"x_pu": ("f_x_pu.png", "Unseen Omniglot characters"),
           "x_synthetic": ("f_x_synthetic.png", "Synthetic Gaussian tasks"),
           "x_anomaly": ("f_x_anomaly.png", "Unseen ADBench anomaly tables (positive = anomaly)")}
ORDER = ["proposed", "upu", "nnpu", "elkan_noto", "ulsif", "protonet", "maml", "pn_oracle", "bayes"]


def _short(setting: str) -> str:
    parts = dict(p.split("=", 1) for p in setting.split(";") if "=" in p)
    known = "" if parts.get("prior_known", "True") == "True" else "\nprior unknown"
    return f"P={parts.get('n_pos')} U={parts.get('n_unl')}\npi={parts.get('prior')}{known}"


def make_figures(results_dir: Path, profile: str) -> None:
    for table, (name, title) in FIGURES.items():
        path = Path(results_dir) / f"{table}_runs.csv"
        if not path.is_file():
            continue
        runs = pd.read_csv(path, keep_default_na=False, dtype={"setting": str})
        runs = runs[runs["metric"] == "test_acc_pct"]
        stats = runs.groupby(["setting", "method"])["value"].agg(["mean", "std"]).reset_index()
        settings = sorted(stats["setting"].unique())
        methods = [m for m in ORDER if m in set(stats["method"])]
        width = 0.8 / len(methods)
        fig, ax = plt.subplots(figsize=(max(6, 1.6 * len(settings) + 2), 4))
        for i, m in enumerate(methods):
            sub = stats[stats["method"] == m].set_index("setting").reindex(settings)
            ax.bar(np.arange(len(settings)) + (i - len(methods) / 2 + 0.5) * width, sub["mean"], width,
                   yerr=sub["std"].fillna(0), label=m, color="tab:red" if m == "proposed" else None)
        ax.set_xticks(np.arange(len(settings)))
        ax.set_xticklabels([_short(s) for s in settings], fontsize=8)
        ax.set_ylim(max(0, stats["mean"].min() - 10), 100)
        ax.set_ylabel("test accuracy (%)")
        ax.set_title(f"{title} ({profile}); bars: sd over seeds")
        ax.legend(fontsize=7, ncol=3)
        fig.tight_layout()
        fig.savefig(Path(results_dir) / name, dpi=120)
        plt.close(fig)
