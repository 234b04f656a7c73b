"""Figures of pp_pssl, drawn from the committed result CSVs only (never runs/)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from common.plotting import line_with_bands


def make_figures(results_dir: Path, profile: str) -> None:
    path = Path(results_dir) / "t1_accuracy_runs.csv"
    if not path.is_file():
        return
    runs = pd.read_csv(path, keep_default_na=False, dtype={"setting": str})
    runs = runs[runs["metric"] == "test_acc_pct"].copy()
    runs["n_per_class"] = runs["setting"].str.extract(r"n_per_class=([0-9]+)")[0].astype(float)
    line_with_bands(runs, x="n_per_class", y="value", hue="method", path=Path(results_dir) / "f1_accuracy.png",
                    title=f"Target test accuracy vs labelled examples per class ({profile})",
                    xlabel="labelled target examples per class", ylabel="test accuracy (%)", logx=True)
