"""Figures from the committed result CSVs only: test metric vs sequence length (adding), learning curves
per task, and the gradient-condition profiles ||dL/ds_{T-k}|| / ||dL/ds_T|| at init / early / late."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from common.plotting import STYLE, line_with_bands, save  # noqa: E402

METRIC = {"t1_adding": ("test_mse", "test MSE"), "t2_copy": ("test_acc_pct", "test accuracy (%)"),
          "t3_sfmnist": ("test_acc_pct", "test accuracy (%)"), "t4_ucr": ("test_acc_pct", "test accuracy (%)")}


def _runs(results_dir: Path, table: str) -> pd.DataFrame | None:
    path = Path(results_dir) / f"{table}_runs.csv"
    if not path.is_file():
        return None
    df = pd.read_csv(path, keep_default_na=False, dtype={"setting": str})
    df["value"] = pd.to_numeric(df["value"], errors="coerce")
    return df


def _longest(df: pd.DataFrame) -> str:
    return max(df["setting"].unique(), key=lambda s: float(s.split("=")[1]) if "=" in s else 0.0)


def make_figures(results_dir: Path, profile: str) -> None:
    results_dir = Path(results_dir)
    for table, (metric, label) in METRIC.items():
        df = _runs(results_dir, table)
        if df is None:
            continue
        if table in ("t1_adding", "t2_copy"):
            sub = df[df.metric == metric].copy()
            sub["seq_len"] = sub["setting"].str.extract(r"seq_len=(\d+)")[0].astype(float)
            line_with_bands(sub, x="seq_len", y="value", hue="method", path=results_dir / f"{table}_vs_length.png",
                            title=f"{table} ({profile})", xlabel="sequence length", ylabel=label)
        longest = _longest(df)
        cur = df[df.metric.str.startswith(f"curve_{metric}_s") & (df.setting == longest)].copy()
        cur["step"] = cur["metric"].str.extract(r"_s(\d+)$")[0].astype(float)
        line_with_bands(cur, x="step", y="value", hue="method", path=results_dir / f"{table}_curves.png",
                        title=f"{table} {longest} ({profile})", xlabel="training step", ylabel=label)
        _gradient_profiles(df[df.setting == longest], results_dir / f"{table}_gradient.png", f"{table} {longest}")


def _gradient_profiles(df: pd.DataFrame, path: Path, title: str) -> None:
    stages = ("init", "early", "late")
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(1, 3, figsize=(11, 3.2), sharey=True)
        for ax, stage in zip(axes, stages):
            sub = df[df.metric.str.startswith(f"gradprof_{stage}_k")].copy()
            if sub.empty:
                continue
            sub["k"] = sub["metric"].str.extract(r"_k(\d+)$")[0].astype(float)
            sub = sub[sub["value"] > 0]
            line_with_bands(sub, x="k", y="value", hue="method", path=path, ax=ax, logy=True,
                            title=f"{stage}", xlabel="steps back from the loss k", ylabel="||dL/ds_{T-k}|| (rel.)")
        fig.suptitle(title)
        save(fig, path)
        plt.close(fig)
