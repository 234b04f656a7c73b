"""Figures of meta_annotators, drawn from the committed result CSVs only (never runs/): accuracy against the
support size K and the number of annotators J (synthetic annotators), and a bar chart of the real crowds."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

COLORS = {"proposed": "tab:red", "proposed_noannot": "salmon", "protonet_mv": "tab:blue", "em_fixed": "tan",
          "crowdlayer": "tab:green", "mv_clf": "tab:gray", "ds_clf": "tab:purple", "glad_clf": "tab:olive",
          "mace_clf": "tab:cyan"}


def _synthetic(runs: pd.DataFrame, out: Path, profile: str) -> None:
    runs = runs[runs["metric"] == "test_acc_pct"].copy()
    runs["K"] = runs["setting"].str.extract(r"K=(\d+)")[0].astype(int)
    runs["J"] = runs["setting"].str.extract(r"J=(\d+)")[0].astype(int)
    datasets = sorted(runs["dataset"].unique())
    fig, axes = plt.subplots(len(datasets), 2, figsize=(10, 3.8 * len(datasets)), squeeze=False)
    for row, ds in zip(axes, datasets):
        sub = runs[runs["dataset"] == ds]
        j0 = sub["J"].mode().iloc[0]   # the base J appears in every K setting
        k0 = sub["K"].mode().iloc[0]
        for ax, (x, fixed, val) in zip(row, [("K", "J", j0), ("J", "K", k0)]):
            part = sub[sub[fixed] == val]
            for m, g in part.groupby("method"):
                st = g.groupby(x)["value"].agg(["mean", "std"]).sort_index()
                ax.errorbar(st.index, st["mean"], yerr=st["std"].fillna(0), marker="o", capsize=3, label=m,
                            color=COLORS.get(m), lw=2.5 if m == "proposed" else 1.2)
            ax.set_xlabel(f"{x} ({'support shots per class' if x == 'K' else 'annotators'}; {fixed} = {val})")
            ax.set_ylabel("test accuracy (%)")
            ax.set_title(ds)
    axes[0][1].legend(fontsize=7)
    fig.suptitle(f"Synthetic annotators, held-out classes ({profile}; bars: sd over seeds)")
    fig.tight_layout()
    fig.savefig(out / "f1_synthetic.png", dpi=100)
    plt.close(fig)


def _real(runs: pd.DataFrame, out: Path, profile: str) -> None:
    runs = runs[runs["metric"] == "test_acc_pct"]
    datasets = sorted(runs["dataset"].unique())
    fig, axes = plt.subplots(1, len(datasets), figsize=(4.2 * len(datasets), 4), squeeze=False)
    for ax, ds in zip(axes[0], datasets):
        st = runs[runs["dataset"] == ds].groupby("method")["value"].agg(["mean", "std"]).sort_values("mean")
        ax.barh(st.index, st["mean"], xerr=st["std"].fillna(0), color=[COLORS.get(m, "gray") for m in st.index])
        ax.set_xlim(max(0, st["mean"].min() - 15), 100)
        ax.set_xlabel("test accuracy (%)")
        ax.set_title(ds)
    fig.suptitle(f"Real crowds ({profile}; bars: sd over seeds)")
    fig.tight_layout()
    fig.savefig(out / "f2_real.png", dpi=100)
    plt.close(fig)


def make_figures(results_dir: Path, profile: str) -> None:
    out = Path(results_dir)
    for table, draw in (("t1_synthetic", _synthetic), ("t2_real", _real)):
        path = out / f"{table}_runs.csv"
        if path.is_file():
            draw(pd.read_csv(path, keep_default_na=False, dtype={"setting": str}), out, profile)
