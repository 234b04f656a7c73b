"""Figures of meta_occ, drawn from the committed result CSVs only (never runs/)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

FIGURES = {"t1_auroc": ("f1_auroc.png", "Unseen Fashion-MNIST anomaly tasks"),
           "t2_adbench": ("f2_adbench.png", "ADBench tasks (meta-test rows)")}


def make_figures(results_dir: Path, profile: str) -> None:
    for table, (name, title) in FIGURES.items():
        path = Path(results_dir) / f"{table}_runs.csv"
        if not path.is_file():
            continue
        runs = pd.read_csv(path, keep_default_na=False)
        runs = runs[runs["metric"] == "auroc_pct"]
        stats = runs.groupby("method")["value"].agg(["mean", "std"]).sort_values("mean")
        fig, ax = plt.subplots(figsize=(6, 3.5))
        colors = ["tab:red" if m == "proposed" else "tab:gray" for m in stats.index]
        ax.barh(stats.index, stats["mean"], xerr=stats["std"].fillna(0), color=colors)
        ax.set_xlim(max(0, stats["mean"].min() - 10), 100)
        ax.set_xlabel("mean AUROC (%) over test tasks (bars: sd over seeds)")
        ax.set_title(f"{title} ({profile})")
        fig.tight_layout()
        fig.savefig(Path(results_dir) / name, dpi=120)
        plt.close(fig)
