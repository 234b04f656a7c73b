"""Figures: per-corruption error bars (single streams, t1) and the mixed-stream comparison (t2)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from common.plotting import bar_table

from .corruptions import CORRUPTIONS

ORDER = ["source", "bn", "tent", "pl", "shot_im", "tfa", "cafe_nogroup", "cafe"]


def make_all(results_dir: Path, profile: str) -> None:
    t1, t2 = results_dir / "t1.csv", results_dir / "t2.csv"
    if t1.is_file():
        df = pd.read_csv(t1, keep_default_na=False, dtype={"setting": str})
        df = df[df["metric"] == "error_pct"]
        for ds, sub in df.groupby("dataset"):
            per = sub[sub["setting"].isin(CORRUPTIONS + ["mean"])]
            order = [m for m in ORDER if m in set(per["method"])]
            bar_table(per, "setting", "method", "mean", results_dir / f"t1_{ds}_per_corruption.png", err="std",
                      title=f"{ds}: error (%) per corruption, single streams, severity 5 ({profile})",
                      ylabel="error (%)", order=order)
    if t2.is_file():
        df = pd.read_csv(t2, keep_default_na=False, dtype={"setting": str})
        df = df[(df["metric"] == "error_pct") & (df["setting"] == "mixed")]
        if not df.empty:
            df = df.assign(group=df["dataset"])
            order = [m for m in ORDER if m in set(df["method"])]
            bar_table(df, "group", "method", "mean", results_dir / "t2_mixed.png", err="std",
                      title=f"Mixed-corruption stream: error (%) ({profile})", ylabel="error (%)", order=order)
