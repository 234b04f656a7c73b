"""Figures of mgr, drawn from the committed result CSVs only (never runs/): test accuracy against the training
fraction per method with 95 % intervals over seeds (f1_fraction.png), and the same numbers as a Markdown table
with mean ± 95 % CI (t1_ci.md, which the README quotes)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from common.claims import t_interval  # noqa: E402
from common.plotting import STYLE, save  # noqa: E402

ORDER = ["erm", "gda", "gda_cons", "pcr_uniform", "mgr"]
COLORS = {"erm": "black", "gda": "tab:orange", "gda_cons": "tab:brown", "pcr_uniform": "tab:blue", "mgr": "tab:red"}


def ci_table(runs: pd.DataFrame) -> pd.DataFrame:
    """method x fraction: (mean, half-width of the 95 % t interval, seeds)."""
    rows = []
    for (m, f), sub in runs.groupby(["method", "frac"]):
        mean, lo, hi = t_interval(sub["value"].to_numpy(float))
        rows.append({"method": m, "frac": f, "mean": mean, "half": (hi - lo) / 2, "n": len(sub)})
    return pd.DataFrame(rows)


def make_figures(results_dir: Path, profile: str) -> None:
    path = Path(results_dir) / "t1_fraction_runs.csv"
    if not path.is_file():
        return
    runs = pd.read_csv(path, keep_default_na=False, dtype={"setting": str})
    runs = runs[runs["metric"] == "test_acc_pct"].copy()
    runs["frac"] = runs["setting"].str.extract(r"train_frac=([0-9.e-]+)")[0].astype(float)
    tab = ci_table(runs)
    methods = [m for m in ORDER if m in set(tab["method"])] + sorted(set(tab["method"]) - set(ORDER))
    fracs = sorted(tab["frac"].unique())
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(1, 2, figsize=(9, 3.4))
        erm = tab[tab["method"] == "erm"].set_index("frac")["mean"]
        for k, m in enumerate(methods):
            t = tab[tab["method"] == m].sort_values("frac")
            off = (k - len(methods) / 2) * 0.02
            xs = t["frac"].to_numpy() * (1 + off)
            halves = np.nan_to_num(t["half"].to_numpy(), posinf=0.0)
            axes[0].errorbar(xs, t["mean"], yerr=halves, marker="o", ms=3, capsize=2, label=m, color=COLORS.get(m))
            if not erm.empty and m != "erm":
                axes[1].errorbar(xs, t["mean"].to_numpy() - erm.reindex(t["frac"]).to_numpy(), yerr=halves,
                                 marker="o", ms=3, capsize=2, label=m, color=COLORS.get(m))
        for ax in axes:
            ax.set_xscale("log")
            ax.set_xticks(fracs, [f"{f:g}" for f in fracs])
            ax.xaxis.set_minor_locator(matplotlib.ticker.NullLocator())
            ax.set_xlabel("training fraction of Fashion-MNIST")
        axes[0].set_ylabel("test accuracy (%)")
        axes[1].axhline(0, color="black", lw=0.8)
        axes[1].set_ylabel("accuracy - ERM (points)")
        axes[0].legend()
        fig.suptitle(f"Test accuracy by training fraction ({profile}; bars: 95% CI of the mean over seeds)")
        save(fig, Path(results_dir) / "f1_fraction.png")
    head = "| method | " + " | ".join(f"train_frac={f:g}" for f in fracs) + " |"
    lines = [f"Test accuracy (%) on Fashion-MNIST, mean ± 95 % CI half-width over seeds ({profile}).", "", head,
             "|---" * (len(fracs) + 1) + "|"]
    for m in methods:
        t = tab[tab["method"] == m].set_index("frac")
        cells = [f"{t.loc[f, 'mean']:.2f} ± {t.loc[f, 'half']:.2f} (n={t.loc[f, 'n']})" if f in t.index else ""
                 for f in fracs]
        lines.append(f"| {m} | " + " | ".join(cells) + " |")
    (Path(results_dir) / "t1_ci.md").write_text("\n".join(lines) + "\n")
