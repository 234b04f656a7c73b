"""Figures drawn from the committed result CSVs only: ECE / NLL / MSE against the number of shots, and the
calibration curve (observed vs nominal coverage of the predictive quantiles, all test targets pooled)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from common.plotting import STYLE  # noqa: E402

ORDER = ["proposed", "no_gmm", "dkt", "gp_isotonic", "maml", "cnp", "ensemble"]
COLORS = dict(zip(ORDER, plt.get_cmap("tab10").colors))
PANELS = [("test_ece", "test ECE (lower is better)"), ("test_nll_nats", "test NLL (nats)"), ("test_mse", "test MSE")]


def _runs(results_dir: Path) -> pd.DataFrame | None:
    path = Path(results_dir) / "x_fewshot_runs.csv"
    if not path.is_file():
        return None
    df = pd.read_csv(path, keep_default_na=False, dtype={"setting": str})
    df["value"] = pd.to_numeric(df["value"], errors="coerce")
    df["n_support"] = df["setting"].str.extract(r"n_support=(\d+)")[0].astype(int)
    return df


def _metrics(df: pd.DataFrame, results_dir: Path, profile: str) -> None:
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(1, 3, figsize=(14, 3.8))
        for ax, (metric, label) in zip(axes, PANELS):
            sub = df[df["metric"] == metric]
            for m in [m for m in ORDER if m in set(sub["method"])]:
                st = sub[sub["method"] == m].groupby("n_support")["value"].agg(["mean", "std"]).sort_index()
                xs, mu, sd = st.index.to_numpy(float), st["mean"].to_numpy(), np.nan_to_num(st["std"].to_numpy())
                ax.plot(xs, mu, marker="o", ms=3, color=COLORS[m], label=m, lw=2.2 if m == "proposed" else 1.2)
                ax.fill_between(xs, mu - sd, mu + sd, color=COLORS[m], alpha=0.12)
            ax.set_xlabel("support instances (shots)")
            ax.set_ylabel(label)
            if metric == "test_nll_nats":
                ax.set_yscale("log")
        axes[0].legend(frameon=False, fontsize=8)
        fig.suptitle(f"Few-shot regression on held-out PMLB tables ({profile}; mean +- sd over seeds)")
        fig.tight_layout()
        fig.savefig(Path(results_dir) / "x_fewshot.png")
        plt.close(fig)


def _calibration_curve(df: pd.DataFrame, results_dir: Path, profile: str) -> None:
    cov = df[df["metric"].str.startswith("coverage_p")].copy()
    if cov.empty:
        return
    cov["level"] = cov["metric"].str.extract(r"coverage_p(\d+)")[0].astype(float) / 100
    shots = sorted(cov["n_support"].unique())
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(1, len(shots), figsize=(4.4 * len(shots), 4), squeeze=False)
        for ax, k in zip(axes[0], shots):
            sub = cov[cov["n_support"] == k]
            ax.plot([0, 1], [0, 1], color="0.6", lw=0.8, ls="--")
            for m in [m for m in ORDER if m in set(sub["method"])]:
                st = sub[sub["method"] == m].groupby("level")["value"].mean().sort_index()
                ax.plot(st.index, st.to_numpy(), marker="o", ms=3, color=COLORS[m], label=m,
                        lw=2.2 if m == "proposed" else 1.2)
            ax.set_title(f"{k} shots")
            ax.set_xlabel("nominal quantile level p")
            ax.set_ylabel("fraction of test targets below the p-quantile")
        axes[0][0].legend(frameon=False, fontsize=8)
        fig.suptitle(f"Calibration curves, all test targets pooled ({profile}; mean over seeds)")
        fig.tight_layout()
        fig.savefig(Path(results_dir) / "x_calibration_curve.png")
        plt.close(fig)


def make_figures(results_dir: Path, profile: str) -> None:
    df = _runs(results_dir)
    if df is None:
        return
    _metrics(df, results_dir, profile)
    _calibration_curve(df, results_dir, profile)
