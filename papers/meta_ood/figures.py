"""Figures of meta_ood, drawn from the committed result CSVs only (never runs/)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

COLORS = {"proposed": "tab:red", "proposed_diag": "salmon", "proposed_shared": "salmon", "gmm_pretrained": "tan",
          "gmm_input": "tan", "protonet": "tab:blue", "maml": "tab:blue"}


def make_figures(results_dir: Path, profile: str) -> None:
    path = Path(results_dir) / "t1_auroc_runs.csv"
    if not path.is_file():
        return
    runs = pd.read_csv(path, keep_default_na=False)
    runs = runs[runs["metric"] == "auroc_pct"]
    datasets = sorted(runs["dataset"].unique())
    fig, axes = plt.subplots(1, len(datasets), figsize=(4.2 * len(datasets), 4.2), squeeze=False)
    for ax, ds in zip(axes[0], datasets):
        stats = runs[runs["dataset"] == ds].groupby("method")["value"].agg(["mean", "std"]).sort_values("mean")
        ax.barh(stats.index, stats["mean"], xerr=stats["std"].fillna(0),
                color=[COLORS.get(m, "tab:gray") for m in stats.index])
        ax.set_xlim(max(0, stats["mean"].min() - 10), 100)
        ax.set_xlabel("mean AUROC (%) over test tasks")
        ax.set_title(ds)
    fig.suptitle(f"Few-shot OoD detection on held-out classes ({profile}; bars: sd over seeds)")
    fig.tight_layout()
    fig.savefig(Path(results_dir) / "f1_auroc.png", dpi=110)
    plt.close(fig)
