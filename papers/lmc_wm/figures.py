"""Figures of the lmc_wm reproduction, drawn from the result CSVs only (``results/``, never ``runs/``).

* ``x_barrier.png``: test loss and accuracy along the path ``theta_a -> pi(theta_b)`` (rows
  ``path_<loss|acc_pct>_test_lam<lam>`` of ``x_barrier.csv``), mean ± std over seeds.
* ``t1_distance.png``: ``||a - pi(b)|| / ||a - b||`` per search (``t1_distance.csv``).
* ``t2_alignment.png``: singular-vector alignment against the singular-value rank, per layer
  (rows ``align_rank_<layer>_r<first>-<last>`` of ``t2_alignment.csv``, log-spaced rank bins), one
  row of panels per setting.
* ``t2_R_gamma.png``: the paper's statistic R against the threshold gamma (rows ``R_gamma<g>``).
* ``t3_merge.png``: test accuracy of the average of n aligned models (``t3_merge.csv``).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from common.plotting import STYLE, save

COLORS = {"naive": "tab:gray", "wm": "tab:blue", "am": "tab:green", "ste": "tab:red"}
ORDER = ["naive", "wm", "am", "ste"]
PATH_METRIC = re.compile(r"^path_(loss|acc_pct)_(test|train)_lam([0-9.e-]+)$")
RANK_METRIC = re.compile(r"^align_rank_(.+)_r(\d+)-(\d+)$")
R_METRIC = re.compile(r"^R_gamma([0-9.]+)$")


def _label(method: str) -> str:
    return method if method == "naive" else method.upper()


def _cells(results_dir: Path, table: str) -> pd.DataFrame | None:
    path = results_dir / f"{table}.csv"
    if not path.is_file():
        return None
    df = pd.read_csv(path, keep_default_na=False, dtype={"setting": str})
    df["mean"] = pd.to_numeric(df["mean"], errors="coerce")
    df["std"] = pd.to_numeric(df["std"], errors="coerce").fillna(0.0)
    return df


def path_curves(cells: pd.DataFrame) -> pd.DataFrame:
    """Rows ``path_<what>_<split>_lam<lam>`` as columns what, split, lam (plus method, mean, std)."""
    parts = cells["metric"].str.extract(PATH_METRIC)
    parts.columns = ["what", "split", "lam"]
    out = pd.concat([cells, parts], axis=1).dropna(subset=["lam"])
    return out.assign(lam=out["lam"].astype(float))


def rank_curves(cells: pd.DataFrame) -> pd.DataFrame:
    """Rows ``align_rank_<layer>_r<first>-<last>`` as columns layer and rank (the bin's mean rank)."""
    parts = cells["metric"].str.extract(RANK_METRIC)
    parts.columns = ["layer", "first", "last"]
    out = pd.concat([cells, parts], axis=1).dropna(subset=["layer"])
    return out.assign(rank=(out["first"].astype(float) + out["last"].astype(float)) / 2)


def make_figures(results_dir: Path, profile: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    results_dir = Path(results_dir)
    with plt.rc_context(STYLE):
        _barrier(plt, results_dir, profile)
        _distance(plt, results_dir, profile)
        _alignment(plt, results_dir, profile)
        _r_curve(plt, results_dir, profile)
        _merge(plt, results_dir, profile)


def _barrier(plt, results_dir: Path, profile: str) -> None:
    cells = _cells(results_dir, "x_barrier")
    curves = None if cells is None else path_curves(cells)
    if curves is None or curves.empty:
        return
    settings = sorted(set(curves.setting))
    fig, axes = plt.subplots(len(settings), 2, figsize=(9, 3.2 * len(settings)), squeeze=False)
    for row, setting in zip(axes, settings):
        for ax, what, label in ((row[0], "loss", "test loss"), (row[1], "acc_pct", "test accuracy (%)")):
            for meth in ORDER:
                g = curves[(curves.setting == setting) & (curves.method == meth) & (curves.split == "test")
                           & (curves.what == what)].sort_values("lam")
                if g.empty:
                    continue
                ax.plot(g["lam"], g["mean"], marker="o", ms=3, color=COLORS[meth], label=_label(meth))
                ax.fill_between(g["lam"], g["mean"] - g["std"], g["mean"] + g["std"], color=COLORS[meth], alpha=0.2)
            ax.set_xlabel(r"$\lambda$ (model A $\to$ permuted model B)")
            ax.set_ylabel(label)
            ax.set_title(setting, fontsize=9)
        row[0].legend(frameon=False)
    fig.suptitle(f"Linear interpolation, {curves.dataset.iloc[0]} ({profile}; mean ± std over seeds)")
    save(fig, results_dir / "x_barrier.png")


def _grouped_bars(ax, df: pd.DataFrame) -> None:
    """Bars of ``mean ± std`` per setting (x) and method (colour)."""
    methods = [m for m in ORDER if m in set(df.method)]
    settings = sorted(set(df.setting))
    w = 0.8 / max(1, len(methods))
    for i, meth in enumerate(methods):
        g = df[df.method == meth].set_index("setting").reindex(settings)
        xs = np.arange(len(settings)) + (i - (len(methods) - 1) / 2) * w
        ax.bar(xs, g["mean"], w, yerr=g["std"].fillna(0), color=COLORS[meth], capsize=2, label=_label(meth))
    ax.set_xticks(np.arange(len(settings)))
    ax.set_xticklabels(settings, fontsize=8)


def _distance(plt, results_dir: Path, profile: str) -> None:
    cells = _cells(results_dir, "t1_distance")
    if cells is None:
        return
    df = cells[cells.metric == "dist_ratio"]
    if df.empty:
        return
    fig, ax = plt.subplots(figsize=(5.5, 3.4))
    _grouped_bars(ax, df)
    ax.axhline(1.0, color="k", lw=0.8, ls="--")
    ax.axhspan(0.80, 0.94, color="tab:orange", alpha=0.15, label="paper, as quoted (0.80-0.94)")
    ax.set_ylabel(r"$\|\theta_a-\pi(\theta_b)\| / \|\theta_a-\theta_b\|$")
    ax.set_ylim(0, 1.1)
    ax.legend(frameon=False, fontsize=7, loc="lower right")
    ax.set_title(f"L2 distance ratio after permutation ({profile})")
    save(fig, results_dir / "t1_distance.png")


def _alignment(plt, results_dir: Path, profile: str) -> None:
    cells = _cells(results_dir, "t2_alignment")
    curves = None if cells is None else rank_curves(cells)
    if curves is None or curves.empty:
        return
    settings = sorted(set(curves.setting))
    layers = list(dict.fromkeys(curves.layer))
    fig, axes = plt.subplots(len(settings), len(layers), figsize=(3.2 * len(layers), 3.0 * len(settings)),
                             squeeze=False)
    for row, setting in zip(axes, settings):
        for ax, layer in zip(row, layers):
            for meth in ORDER:
                g = curves[(curves.setting == setting) & (curves.layer == layer) & (curves.method == meth)]
                g = g.sort_values("rank")
                if g.empty:
                    continue
                ax.plot(g["rank"], g["mean"], marker="o", ms=3, color=COLORS[meth], ls="--" if meth == "ste" else "-",
                        label=_label(meth))
            ax.set_xscale("log")
            ax.set_xlabel("singular value rank (1 = largest)")
            ax.set_title(f"{setting}: {layer}", fontsize=8)
            ax.set_ylim(0, 1)
        row[0].set_ylabel(r"$|u_i^a\cdot u_i^b|\,|v_i^a\cdot v_i^b|$")
        row[0].legend(frameon=False)
    fig.suptitle(f"Our statistic: alignment of the i-th singular vectors of model A and permuted model B ({profile})")
    save(fig, results_dir / "t2_alignment.png")


def r_curves(cells: pd.DataFrame) -> pd.DataFrame:
    """Rows ``R_gamma<g>`` as a column gamma (plus method, setting, mean, std)."""
    parts = cells["metric"].str.extract(R_METRIC)
    parts.columns = ["gamma"]
    out = pd.concat([cells, parts], axis=1).dropna(subset=["gamma"])
    return out.assign(gamma=out["gamma"].astype(float))


def _r_curve(plt, results_dir: Path, profile: str) -> None:
    cells = _cells(results_dir, "t2_alignment")
    curves = None if cells is None else r_curves(cells)
    if curves is None or curves.empty:
        return
    settings = sorted(set(curves.setting))
    fig, axes = plt.subplots(1, len(settings), figsize=(4.2 * len(settings), 3.4), squeeze=False)
    for ax, setting in zip(axes[0], settings):
        for meth in ORDER:
            g = curves[(curves.setting == setting) & (curves.method == meth)].sort_values("gamma")
            if g.empty:
                continue
            ax.errorbar(g["gamma"], g["mean"], yerr=g["std"], marker="o", ms=3, capsize=2, color=COLORS[meth],
                        label=_label(meth))
        ax.axvline(0.3, color="k", lw=0.6, ls=":")
        ax.set_xlabel(r"singular-value threshold $\gamma$")
        ax.set_title(setting, fontsize=9)
    axes[0][0].set_ylabel(r"$R$ (paper's statistic)")
    axes[0][0].legend(frameon=False)
    fig.suptitle(f"The paper's R vs gamma ({profile}; mean ± std over seeds)")
    save(fig, results_dir / "t2_R_gamma.png")


def _merge(plt, results_dir: Path, profile: str) -> None:
    cells = _cells(results_dir, "t3_merge")
    if cells is None:
        return
    df = cells[cells.metric == "merged_acc_pct_test"]
    if df.empty:
        return
    fig, ax = plt.subplots(figsize=(7.5, 3.8))
    _grouped_bars(ax, df)
    ax.set_ylabel("merged model test accuracy (%)")
    ax.set_title(f"Merging models matched to an anchor ({profile})")
    ax.legend(frameon=False, fontsize=8, ncol=4, loc="upper center", bbox_to_anchor=(0.5, -0.18))
    save(fig, results_dir / "t3_merge.png")
