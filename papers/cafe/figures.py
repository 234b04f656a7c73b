"""Figures of the CAFe reproduction, drawn from the committed result CSVs only (never ``runs/``):
per-corruption error bars of every method, for the single-corruption streams (``x_single_stream``)
and inside the mixed stream (``x_mixed_stream``).

``python -m papers.cafe.figures --examples OUT.png`` draws, separately, what the quick benchmarks
look like (one clean test image of each quick dataset under the 15 corruptions); it reads the
datasets, so it is not part of ``make_figures``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from .corruptions import CORRUPTIONS

ORDER = ["source", "bn", "tent", "pl", "shot_im", "tfa", "cafe_nogroup", "cafe_symkl", "cafe"]
PANELS = [("x_single_stream", CORRUPTIONS + ["mean", "clean"], "one corruption per stream (reset between streams)"),
          ("x_mixed_stream", ["mixed"] + [f"mixed:{c}" for c in CORRUPTIONS],
           "all 15 corruptions shuffled into one stream ('mixed' = whole stream)")]


def _bars(ax, df, groups, order, title):
    width = 0.8 / len(order)
    for i, m in enumerate(order):
        sub = df[df["method"] == m].set_index("setting").reindex(groups)
        xs = np.arange(len(groups)) + (i - (len(order) - 1) / 2) * width
        ax.bar(xs, sub["mean"].astype(float), width, yerr=sub["std"].replace("", 0).astype(float),
               label=m, capsize=1.5, error_kw={"lw": 0.6})
    ax.set_xticks(range(len(groups)))
    ax.set_xticklabels([g.replace("mixed:", "").replace("_", "\n") for g in groups], fontsize=6)
    ax.set_ylabel("error (%)")
    ax.set_title(title, fontsize=8)
    ax.grid(axis="y", alpha=0.3)


def make_figures(results_dir: Path, profile: str) -> None:
    """``<table>_per_corruption.png`` for each table with results in ``results_dir``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    for table, settings, what in PANELS:
        path = Path(results_dir) / f"{table}.csv"
        if not path.is_file():
            continue
        df = pd.read_csv(path, keep_default_na=False, dtype={"setting": str})
        df = df[df["metric"] == "error_pct"]
        datasets = sorted(set(df["dataset"]))
        if not datasets:
            continue
        fig, axes = plt.subplots(len(datasets), 1, figsize=(13, 3.0 * len(datasets)), squeeze=False)
        for ax, ds in zip(axes[:, 0], datasets):
            sub = df[df["dataset"] == ds]
            order = [m for m in ORDER if m in set(sub["method"])]
            groups = [g for g in settings if g in set(sub["setting"])]
            _bars(ax, sub, groups, order, f"{ds}: error (%) at severity 5, {what} [{profile}; mean ± std over seeds]")
        axes[0, 0].legend(ncol=len(ORDER), fontsize=7, loc="lower center", bbox_to_anchor=(0.5, 1.12), frameon=False)
        fig.tight_layout()
        fig.savefig(Path(results_dir) / f"{table}_per_corruption.png", dpi=110)
        plt.close(fig)


def corruption_examples(out: Path, severity: int = 5, seed: int = 0) -> None:
    """One random clean test image of each quick dataset and its 15 corruptions at ``severity``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from . import data as D
    from .corruptions import corrupt_batch

    datasets = list(D.QUICK_DATASETS)
    fig, axes = plt.subplots(len(datasets), 1 + len(CORRUPTIONS), figsize=(16, 1.2 * len(datasets)), squeeze=False)
    for r, ds in enumerate(datasets):
        x, _ = D.load_clean(ds, "test")
        rng = np.random.default_rng(seed)
        img = x[rng.integers(len(x))][None]
        for j, c in enumerate(["clean"] + CORRUPTIONS):
            ax = axes[r, j]
            ax.imshow(img[0] if c == "clean" else corrupt_batch(img, c, severity, rng)[0])
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(c.replace("_", "\n"), fontsize=6)
        axes[r, 0].set_ylabel(ds, fontsize=6)
    fig.suptitle(f"The quick CIFAR-10-C-style benchmarks at severity {severity} (one test image, seed {seed})", fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=90)
    plt.close(fig)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m papers.cafe.figures", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--examples", type=Path, required=True, help="output PNG of the corruption examples")
    parser.add_argument("--severity", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    corruption_examples(args.examples, args.severity, args.seed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
