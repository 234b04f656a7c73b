"""Figures, drawn from the committed result CSVs only (never runs/)."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd

from common.plotting import STYLE, line_with_bands, save


def _runs(results_dir: Path, table: str, key: str) -> pd.DataFrame | None:
    path = Path(results_dir) / f"{table}_runs.csv"
    if not path.is_file():
        return None
    runs = pd.read_csv(path, keep_default_na=False, dtype={"setting": str})
    runs[key] = runs["setting"].str.extract(rf"{key}=([0-9.eE+-]+)")[0].astype(float)
    runs["value"] = pd.to_numeric(runs["value"], errors="coerce")
    return runs


def _lr_figures(runs: pd.DataFrame, out: Path, profile: str) -> None:
    top = runs[runs.metric == "top_eig_train"]
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(1, 2, figsize=(9, 3.6), sharey=True)
        for ax, method, title in ((axes[0], "adversarial", "adversarial training (closed form)"),
                                  (axes[1], "random_noise", "control: same norm, random directions")):
            line_with_bands(top[top.method == method], x="eps_frac", y="value", hue="dataset", path=out,
                            title=title, xlabel="eps / collapse radius", ylabel="top Hessian eigenvalue",
                            logy=True, ax=ax)
        axes[0].get_legend().remove()
        axes[1].legend(frameon=False, loc="upper left", ncol=2)
        fig.suptitle(f"Logistic regression: sharpness at the optimum vs eps ({profile})")
        save(fig, out / "f1_lr_sharpness.png")
    adv = runs[runs.method == "adversarial"]
    wide = adv.pivot_table(index=["dataset", "eps_frac", "seed"], columns="metric", values="value").reset_index()
    wide["dir_fraction"] = wide["top_share_dir_term"] / wide["top_eig_train"]
    line_with_bands(wide, x="eps_frac", y="dir_fraction", hue="dataset", path=out / "f2_lr_decomposition.png",
                    title=f"Direction term's share of lambda_max ({profile})",
                    xlabel="eps / collapse radius", ylabel="v'H_dir v / lambda_max")


def _deep_figure(runs: pd.DataFrame, out: Path, profile: str) -> None:
    rows = runs[runs.metric.isin(["top_eig_adv", "top_eig_clean"])].copy()
    rows["loss"] = rows["metric"].map({"top_eig_adv": "adversarial loss (PGD batch)",
                                       "top_eig_clean": "clean loss"})
    line_with_bands(rows, x="eps", y="value", hue="loss", path=out / "f3_deep_sharpness.png",
                    title=f"Deep network after PGD training ({profile})", xlabel="training eps (L2)",
                    ylabel="top Hessian eigenvalue")


def make_figures(results_dir: Path, profile: str) -> None:
    out = Path(results_dir)
    lr = _runs(out, "x_lr_sharpness", "eps_frac")
    if lr is not None and not lr.empty:
        _lr_figures(lr, out, profile)
    deep = _runs(out, "x_deep_sharpness", "eps")
    if deep is not None and not deep.empty:
        _deep_figure(deep, out, profile)
