"""Figures of the quick/full results: error vs support size (t1), AUC bars (t2, t3)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from common.plotting import STYLE, bar_table, line_with_bands, save  # noqa: E402

ORDER = ["proposed", "proposed_noenc", "rulsif", "ulsif", "kliep", "nn", "ft", "maml"]


def _parse(df: pd.DataFrame) -> pd.DataFrame:
    kv = df["setting"].astype(str).str.split(";").apply(lambda parts: dict(p.split("=", 1) for p in parts if "=" in p))
    df = df.copy()
    df["n_support"] = kv.apply(lambda d: int(d.get("n_support", 0)))
    df["pair_split"] = kv.apply(lambda d: d.get("pair_split", "-"))
    return df


def make_all(results_dir: Path, profile: str) -> None:
    results_dir = Path(results_dir)
    t1 = results_dir / "t1_rdre_runs.csv"
    if t1.is_file():
        df = _parse(pd.read_csv(t1, keep_default_na=False))
        df = df[df["metric"] == "test_rdre_error"]
        splits = sorted(df["pair_split"].unique(), reverse=True)
        datasets = sorted(df["dataset"].unique())
        with plt.rc_context(STYLE):
            fig, axes = plt.subplots(len(datasets), len(splits), figsize=(4.4 * len(splits), 3.4 * len(datasets)),
                                     squeeze=False)
            for i, ds in enumerate(datasets):
                for j, sp in enumerate(splits):
                    sub = df[(df["dataset"] == ds) & (df["pair_split"] == sp)]
                    line_with_bands(sub, "n_support", "value", "method", Path("unused.png"), ax=axes[i][j],
                                    title=f"{ds}, held-out {sp} ({profile})", xlabel="support instances per set",
                                    ylabel="test relative-DRE error (lower better)")
            save(fig, results_dir / "t1_rdre.png")
    for table, metric, label in (("t2_comparison", "comparison_auc_pct", "dataset-comparison AUC (%)"),
                                 ("t3_outlier", "outlier_auc_pct", "outlier-detection AUC (%)")):
        path = results_dir / f"{table}.csv"
        if not path.is_file():
            continue
        cells = pd.read_csv(path, keep_default_na=False)
        cells = cells[cells["metric"] == metric].copy()
        cells["group"] = cells["dataset"] + " " + cells["setting"].str.replace("pair_split=", "", regex=False)
        cells["std"] = pd.to_numeric(cells["std"], errors="coerce").fillna(0.0)
        order = [m for m in ORDER if m in set(cells["method"])]
        bar_table(cells, "group", "method", "mean", results_dir / f"{table}.png", err="std",
                  title=f"{label}, mean +- std over seeds ({profile})", ylabel=label, order=order)
