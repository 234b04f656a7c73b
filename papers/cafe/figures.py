"""Figures: per-corruption error bars (single streams, t1) and the mixed-stream comparison (t2)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from common.plotting import bar_table

from .corruptions import CORRUPTIONS

ORDER = ["source", "bn", "tent", "pl", "shot_im", "tfa", "cafe_nogroup", "cafe"]


def make_all(results_dir: Path, profile: str) -> None:
    if profile in ("quick", "smoke"):
        corruption_examples(results_dir, profile)
    t1, t2 = results_dir / "t1.csv", results_dir / "t2.csv"
    if t1.is_file():
        df = pd.read_csv(t1, keep_default_na=False, dtype={"setting": str})
        df = df[df["metric"] == "error_pct"]
        for ds, sub in df.groupby("dataset"):
            per = sub[sub["setting"].isin(CORRUPTIONS + ["mean"])]
            order = [m for m in ORDER if m in set(per["method"])]
            bar_table(per, "setting", "method", "mean", results_dir / f"t1_{ds}_per_corruption.png", err="std",
                      title=f"{ds}: error (%) per corruption, single streams, severity 5 ({profile})",
                      ylabel="error (%)", order=order)
    if t2.is_file():
        df = pd.read_csv(t2, keep_default_na=False, dtype={"setting": str})
        df = df[(df["metric"] == "error_pct") & (df["setting"] == "mixed")]
        if not df.empty:
            df = df.assign(group=df["dataset"])
            order = [m for m in ORDER if m in set(df["method"])]
            bar_table(df, "group", "method", "mean", results_dir / "t2_mixed.png", err="std",
                      title=f"Mixed-corruption stream: error (%) ({profile})", ylabel="error (%)", order=order)


def corruption_examples(results_dir: Path, profile: str) -> None:
    """The first test image of each corruption in the quick benchmarks (from the cache the run made)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    import papers.cafe.config as CM
    from common.config import resolve

    from . import run as R

    panels = []
    for ds in ("cifar10sub", "fmnist"):
        cfg = resolve(CM.Config, CM, profile, cell={"dataset": ds})
        folder = R.cache_dir("bench", {"dataset": ds, "severity": cfg.severity, "n": cfg.n_per_corruption,
                                       "seed": cfg.train_seed})
        if (folder / "done").is_file():
            panels.append((ds, R.get_benchmark(cfg)))
    if not panels:
        return
    names = ["clean"] + CORRUPTIONS
    fig, axes = plt.subplots(2 * len(panels), len(names), figsize=(1.0 * len(names), 2.2 * len(panels)))
    for p, (ds, bench) in enumerate(panels):
        for r in range(2):
            for j, c in enumerate(names):
                ax = axes[2 * p + r, j]
                ax.imshow(bench[c][0][r])
                ax.set_xticks([])
                ax.set_yticks([])
                if r == 0 and p == 0:
                    ax.set_title(c.replace("_", "\n"), fontsize=6)
            axes[2 * p + r, 0].set_ylabel(ds, fontsize=6)
    fig.suptitle(f"Our CIFAR-10-C-style benchmarks, severity 5 ({profile}); each column is its own random draw of test images",
                 fontsize=8)
    fig.tight_layout()
    fig.savefig(results_dir / "corruption_examples.png", dpi=110)
    plt.close(fig)
