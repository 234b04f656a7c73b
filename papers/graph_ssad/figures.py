"""Figures of graph_ssad, drawn from the result CSVs in ``results/graph_ssad/<profile>/`` only
(never ``runs/``), so a clean clone redraws them from the committed results:

* ``t1_auc_vs_labelled.png``: test AUC (mean ± std over splits) against the labelled fraction, one
  panel per graph (the paper's results table drawn as lines);
* ``t1_auc_table.md``: the compact methods x (graph, labelled %) table with the paper's numbers.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

TABLE = "t1_auc"
METHOD_NAMES = {"proposed": "Proposed", "normal_only": "Proposed (normal only)", "ocsvm": "OCSVM",
                "deep_svdd": "Deep SVDD", "deep_svdd_auc": "Deep SVDD + AUC", "deep_sad": "Deep SAD",
                "deep_sad_labelled": "Deep SAD, labelled nodes only (ours)",
                "nn": "NN", "gcn": "GCN classifier", "deepwalk_lr": "DeepWalk + LR", "dominant": "DOMINANT"}


def compact_table(results_dir: Path) -> str:
    """Markdown: methods x (graph, labelled %) of mean ± std test AUC, the paper's value beside the
    proposed method's; written to ``t1_auc_table.md`` (linked from the README)."""
    cells = pd.read_csv(Path(results_dir) / f"{TABLE}.csv", keep_default_na=False, dtype={"paper_value": str})
    cells = cells[cells["metric"] == "test_auc_pct"]
    cols = []
    for ds in dict.fromkeys(cells["dataset"]):
        for st in sorted(set(cells.loc[cells.dataset == ds, "setting"]), key=lambda t: float(t.split("=")[1])):
            cols.append((ds, st))
    paper = pd.read_csv(Path(__file__).with_name("paper_results.csv"), dtype=str, keep_default_na=False)
    paper = paper[paper["dataset"] == "mean_of_5_datasets"]
    head = ("| method | " + " | ".join(f"{ds} {float(st.split('=')[1]) * 100:g}%" for ds, st in cols)
            + " | mean (ours) | paper: mean of its 5 graphs at 2.5 / 5 / 10 % |")
    lines = [head, "|---" * (len(cols) + 3) + "|"]
    for m in METHOD_NAMES:
        sub = cells[cells["method"] == m]
        if sub.empty:
            continue
        vals = []
        for ds, st in cols:
            r = sub[(sub.dataset == ds) & (sub.setting == st)]
            if r.empty:
                vals.append("")
                continue
            r = r.iloc[0]
            txt = f"{float(r['mean']):.1f} ± {float(r['std']):.1f}"
            if r["paper_value"] != "":
                txt += f" (paper {float(r['paper_value']):.1f})"
            vals.append(f"**{txt}**" if m == "proposed" else txt)
        pv = " / ".join(paper.loc[paper["method"] == m, "value"]) or "–"
        lines.append(f"| {METHOD_NAMES[m]} | " + " | ".join(vals) + f" | {pd.to_numeric(sub['mean']).mean():.1f} | {pv} |")
    text = "\n".join(lines) + "\n"
    (Path(results_dir) / f"{TABLE}_table.md").write_text(text)
    return text


def make_figures(results_dir: Path, profile: str) -> None:
    """Test AUC (mean ± std over splits) against the labelled fraction, one panel per graph:
    the paper's results table drawn as lines; plus the compact markdown table."""
    runs_csv = Path(results_dir) / f"{TABLE}_runs.csv"
    if not runs_csv.is_file():
        return
    if (Path(results_dir) / f"{TABLE}.csv").is_file():
        compact_table(results_dir)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from common.plotting import STYLE

    df = pd.read_csv(runs_csv, keep_default_na=False)
    df = df[df["metric"] == "test_auc_pct"].copy()
    df["label_pct"] = df["setting"].str.replace("label_frac=", "", regex=False).astype(float) * 100
    datasets = list(dict.fromkeys(df["dataset"]))
    methods = [m for m in METHOD_NAMES if m in set(df["method"])]
    markers = "o^sDvP*Xh<"
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(1, len(datasets), figsize=(4.2 * len(datasets) + 2.2, 3.6), squeeze=False)
        for ax, ds in zip(axes[0], datasets):
            sub = df[df["dataset"] == ds]
            fracs = sorted(sub["label_pct"].unique())
            for i, m in enumerate(methods):
                stats = sub[sub["method"] == m].groupby("label_pct")["value"].agg(["mean", "std"]).reindex(fracs)
                pos = np.arange(len(fracs)) + (i - len(methods) / 2) * 0.025
                bold = m == "proposed"
                ax.errorbar(pos, stats["mean"], yerr=stats["std"].fillna(0), marker=markers[i % len(markers)],
                            ms=4, lw=2.2 if bold else 1.0, capsize=2, label=METHOD_NAMES[m],
                            color="black" if bold else None, zorder=3 if bold else 2)
            ax.set_xticks(np.arange(len(fracs)))
            ax.set_xticklabels([f"{f:g}" for f in fracs])
            ax.set_xlabel("labelled nodes (%)")
            ax.set_ylabel("test AUC (%)")
            ax.axhline(50, color="grey", lw=0.8, ls=":")
            ax.set_title(f"{ds} ({profile}, mean ± std over {sub['seed'].nunique()} splits)")
        axes[0][-1].legend(frameon=False, loc="upper left", bbox_to_anchor=(1.02, 1.0))
        out = Path(results_dir) / f"{TABLE}_vs_labelled.png"
        fig.savefig(out, bbox_inches="tight")
        plt.close(fig)


