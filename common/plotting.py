"""Consistent matplotlib figures (PNG): line plots with seed bands, one style for every paper."""

from __future__ import annotations

import textwrap
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

STYLE = {"figure.dpi": 120, "savefig.dpi": 150, "axes.grid": True, "grid.alpha": 0.3,
         "axes.spines.top": False, "axes.spines.right": False, "font.size": 9, "legend.fontsize": 8}


def save(fig, path: Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def line_with_bands(df: pd.DataFrame, x: str, y: str, hue: str, path: Path, title: str = "",
                    xlabel: str | None = None, ylabel: str | None = None, logx: bool = False,
                    logy: bool = False, seed_col: str = "seed", ax=None) -> Path | None:
    """Mean over seeds of ``y`` against ``x`` per ``hue`` group, with a +-1 std band.

    ``df`` holds one row per (hue, x, seed), e.g. a filtered ``<table>_runs.csv``. On a log x axis the
    ticks are the measured x values, written plainly (2, 5, 10, not 2 x 10^0); a long title is wrapped.
    """
    with plt.rc_context(STYLE):
        own = ax is None
        if own:
            fig, ax = plt.subplots(figsize=(4.2, 3.2))
        for name, grp in df.groupby(hue, sort=True):
            stats = grp.groupby(x)[y].agg(["mean", "std", "count"]).sort_index()
            xs = stats.index.to_numpy(dtype=float)
            mean, std = stats["mean"].to_numpy(), np.nan_to_num(stats["std"].to_numpy())
            ax.plot(xs, mean, marker="o", ms=3, label=str(name))
            ax.fill_between(xs, mean - std, mean + std, alpha=0.2)
        ax.set_xlabel(xlabel or x)
        ax.set_ylabel(ylabel or y)
        if logx:
            ax.set_xscale("log")
            ticks = np.unique(pd.to_numeric(df[x], errors="coerce").dropna().to_numpy(dtype=float))
            if 0 < len(ticks) <= 12:
                ax.set_xticks(ticks, [f"{t:g}" for t in ticks])
                ax.xaxis.set_minor_locator(matplotlib.ticker.NullLocator())
        if logy:
            ax.set_yscale("log")
        if title:
            ax.set_title("\n".join(textwrap.wrap(title, 46)))
        ax.legend(frameon=False)
        if own:
            return save(fig, path)
    return None
