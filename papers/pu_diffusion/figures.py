"""Figures of PU diffusion, drawn from the result CSVs only (never runs/): the non-sensitive rate and
FID per method (``x_methods``), and both against beta (``x_beta`` with the beta = 0.1 cells of
``x_methods``). Sample grids stay per run (``samples_grid.npy`` in each run folder)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from common.plotting import STYLE, save  # noqa: E402

RATE = "nonsensitive_rate_pct"
ORDER = ["unsupervised", "supervised", "pu", "pu_nn"]
LABELS = {RATE: "non-sensitive rate (%)", "fid_judgefeat": "FID (judge features)", "fid_inception": "FID (Inception)"}
REFERENCE = "real_unlabeled_data"


def _runs(results_dir: Path, table: str) -> pd.DataFrame | None:
    path = results_dir / f"{table}_runs.csv"
    if not path.is_file():
        return None
    df = pd.read_csv(path, keep_default_na=False, dtype={"setting": str})
    df["value"] = pd.to_numeric(df["value"], errors="coerce")
    return df


def _metrics(df: pd.DataFrame) -> list[str]:
    return [m for m in (RATE, "fid_judgefeat", "fid_inception") if m in set(df["metric"])]


def _methods_figure(df: pd.DataFrame, path: Path, profile: str) -> None:
    metrics = _metrics(df)
    methods = [m for m in ORDER if m in set(df["method"])]
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(1, len(metrics), figsize=(4.2 * len(metrics), 3.4), squeeze=False)
        for ax, metric in zip(axes[0], metrics):
            sub = df[df["metric"] == metric]
            for i, m in enumerate(methods):
                vals = sub[sub["method"] == m]["value"].to_numpy(float)
                ax.bar(i, vals.mean(), yerr=vals.std(ddof=1) if len(vals) > 1 else 0, capsize=3, color=f"C{i}",
                       alpha=0.7)
                ax.plot(np.full(len(vals), i), vals, "k.", ms=4)
            ref = sub[sub["method"] == REFERENCE]["value"]
            if len(ref):
                ax.axhline(ref.mean(), ls="--", color="gray", lw=1, label="real unlabelled data")
                ax.legend(frameon=False, fontsize=8)
            ax.set_xticks(range(len(methods)))
            ax.set_xticklabels(methods)
            ax.set_ylabel(LABELS[metric])
        fig.suptitle(f"PU diffusion vs baselines, mean ± std and seeds ({profile})", fontsize=10)
        save(fig, path)


def _beta_figure(df: pd.DataFrame, path: Path, profile: str) -> None:
    df = df[df["method"] == "pu"].copy()
    df["beta"] = df["setting"].str.extract(r"beta=([0-9.]+)")[0].astype(float).fillna(0.1)
    metrics = _metrics(df)
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(1, len(metrics), figsize=(4.2 * len(metrics), 3.4), squeeze=False)
        for ax, metric in zip(axes[0], metrics):
            st = df[df["metric"] == metric].groupby("beta")["value"].agg(["mean", "std"]).sort_index()
            xs, mu, sd = st.index.to_numpy(float), st["mean"].to_numpy(), np.nan_to_num(st["std"].to_numpy())
            ax.plot(xs, mu, marker="o", color="C2")
            ax.fill_between(xs, mu - sd, mu + sd, color="C2", alpha=0.2)
            ax.set_xlabel("beta")
            ax.set_ylabel(LABELS[metric])
        fig.suptitle(f"PU diffusion: effect of beta, mean ± std over seeds ({profile})", fontsize=10)
        save(fig, path)


def make_figures(results_dir: Path, profile: str) -> None:
    results_dir = Path(results_dir)
    methods = _runs(results_dir, "x_methods")
    if methods is not None:
        _methods_figure(methods, results_dir / "x_methods.png", profile)
    beta = _runs(results_dir, "x_beta")
    if beta is not None:
        both = pd.concat([beta, methods[methods["method"] == "pu"]]) if methods is not None else beta
        _beta_figure(both, results_dir / "x_beta.png", profile)
