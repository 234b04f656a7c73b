"""Figures of the quick/full results: error vs support size (t1), AUC bars (t2, t3).
One fixed colour per method across every figure."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from common.plotting import STYLE, save  # noqa: E402

ORDER = ["proposed", "proposed_noenc", "rulsif", "ulsif", "kliep", "nn", "ft", "maml"]
COLORS = dict(zip(ORDER, plt.get_cmap("tab10").colors))


def _parse(df: pd.DataFrame) -> pd.DataFrame:
    kv = df["setting"].astype(str).str.split(";").apply(lambda parts: dict(p.split("=", 1) for p in parts if "=" in p))
    df = df.copy()
    df["n_support"] = kv.apply(lambda d: int(d.get("n_support", 0)))
    df["pair_split"] = kv.apply(lambda d: d.get("pair_split", "-"))
    return df


def _t1(results_dir: Path, profile: str) -> None:
    df = _parse(pd.read_csv(results_dir / "x_rdre_runs.csv", keep_default_na=False))
    df = df[df["metric"] == "test_rdre_error"]
    splits = sorted(df["pair_split"].unique(), reverse=True)
    datasets = sorted(df["dataset"].unique())
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(len(datasets), len(splits), figsize=(4.6 * len(splits) + 1.4, 3.4 * len(datasets)),
                                 squeeze=False)
        for i, ds in enumerate(datasets):
            for j, sp in enumerate(splits):
                ax = axes[i][j]
                sub = df[(df["dataset"] == ds) & (df["pair_split"] == sp)]
                for m in [m for m in ORDER if m in set(sub["method"])]:
                    st = sub[sub["method"] == m].groupby("n_support")["value"].agg(["mean", "std"]).sort_index()
                    xs, mu, sd = st.index.to_numpy(float), st["mean"].to_numpy(), np.nan_to_num(st["std"].to_numpy())
                    ax.plot(xs, mu, marker="o", ms=3, color=COLORS[m], label=m,
                            lw=2.2 if m == "proposed" else 1.2)
                    ax.fill_between(xs, mu - sd, mu + sd, color=COLORS[m], alpha=0.15)
                ax.set_title(f"{ds}: test densities over " + (f"held-out {sp}" if sp != "-" else "unseen classes") + f" ({profile})")
                ax.set_xlabel("support instances per set")
                ax.set_ylabel("test relative-DRE error (lower better)")
        handles, labels = axes[0][0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="center right", frameon=False)
        fig.tight_layout(rect=(0, 0, 1 - 1.3 / fig.get_figwidth(), 1))
        fig.savefig(results_dir / "x_rdre.png")
        plt.close(fig)


def _bars(results_dir: Path, table: str, metric: str, label: str, profile: str) -> None:
    cells = pd.read_csv(results_dir / f"{table}.csv", keep_default_na=False)
    cells = cells[cells["metric"] == metric].copy()
    cells["group"] = cells["dataset"] + "\n" + cells["setting"].str.replace("pair_split=", "", regex=False)
    cells["std"] = pd.to_numeric(cells["std"], errors="coerce").fillna(0.0)
    groups = list(dict.fromkeys(cells.sort_values(["dataset", "setting"])["group"]))
    methods = [m for m in ORDER if m in set(cells["method"])]
    width = 0.8 / len(methods)
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=(1.6 + 1.3 * len(groups) + 1.4, 3.4))
        for k, m in enumerate(methods):
            sub = cells[cells["method"] == m].set_index("group").reindex(groups)
            xs = np.arange(len(groups)) + (k - (len(methods) - 1) / 2) * width
            ax.bar(xs, sub["mean"].to_numpy(float), width, yerr=sub["std"].to_numpy(float), capsize=2,
                   color=COLORS[m], label=m, edgecolor="black" if m == "proposed" else "none", lw=0.8)
        lo = float((cells["mean"] - cells["std"]).min())
        ax.set_ylim(max(0.0, lo - 3), 100.5)
        ax.set_xticks(np.arange(len(groups)))
        ax.set_xticklabels(groups)
        ax.set_ylabel(label)
        ax.set_title(f"{label}, mean +- std over seeds ({profile})")
        ax.legend(frameon=False, loc="center left", bbox_to_anchor=(1.0, 0.5))
        save(fig, results_dir / f"{table}.png")


def make_figures(results_dir: Path, profile: str) -> None:
    results_dir = Path(results_dir)
    if (results_dir / "x_rdre_runs.csv").is_file():
        _t1(results_dir, profile)
    for table, metric, label in (("x_comparison", "comparison_auc_pct", "dataset-comparison AUC (%)"),
                                 ("x_outlier", "outlier_auc_pct", "outlier-detection AUC (%)")):
        if (results_dir / f"{table}.csv").is_file():
            _bars(results_dir, table, metric, label, profile)
