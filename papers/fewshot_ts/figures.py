"""Figures of fewshot_ts, drawn from ``results/fewshot_ts/<profile>/t1_forecast_runs.csv`` only:
``f_error_vs_support.png``, next-step and multi-step MSE on dataset ``all`` (mean +- std over seeds) against the number of
support series, one line per method."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from common.plotting import STYLE, line_with_bands  # noqa: E402

TABLE = "t1_forecast"
PANELS = (("next_mse", "next-step MSE"), ("multi_mse", "multi-step MSE"))


def make_figures(results_dir: Path, profile: str) -> None:
    path = Path(results_dir) / f"{TABLE}_runs.csv"
    if not path.is_file():
        return
    runs = pd.read_csv(path, keep_default_na=False, dtype={"setting": str})
    runs = runs[runs["setting"].str.startswith("n_support=") & (runs["dataset"] == "all")].copy()
    runs["n_support"] = runs["setting"].str.split("=").str[1].astype(int)
    runs["value"] = pd.to_numeric(runs["value"])
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(1, 2, figsize=(9.5, 3.8))
        for ax, (metric, label) in zip(axes, PANELS):
            line_with_bands(runs[runs["metric"] == metric], x="n_support", y="value", hue="method", path=None,
                            title=f"{label}, unseen datasets ({profile})", xlabel="support series",
                            ylabel=label, logx=True, logy=True, ax=ax)
        axes[0].get_legend().remove()
        axes[1].legend(frameon=False, fontsize=6, loc="center left", bbox_to_anchor=(1.0, 0.5))
        fig.tight_layout()
        fig.savefig(Path(results_dir) / "f_error_vs_support.png", dpi=150)
        plt.close(fig)
