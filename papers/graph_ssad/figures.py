"""Figures of graph_ssad, drawn from the result CSVs in ``results/graph_ssad/<profile>/`` only
(never ``runs/``), so a clean clone redraws them from the committed results:

* ``t1_auc_vs_labelled.png``: test AUC (mean ± std over splits) against the labelled fraction, one
  panel per graph (the paper's results table drawn as lines);
* ``t1_auc_table.md``: the compact methods x (graph, labelled %) table with the paper's numbers;
* ``t1_within_paper.md``: the reproduction bar (claim C9) cell by cell, with its interval.

The paper's results table is stored in two parts, ``t1_auc`` and ``t1_auc_b`` (the costlier
baselines, on fewer splits in the quick profile); both are drawn together.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

TABLE, TABLE_B = "t1_auc", "t1_auc_b"
METHOD_NAMES = {"proposed": "Proposed", "normal_only": "Proposed (normal only)", "ocsvm": "OCSVM",
                "deep_svdd": "Deep SVDD", "deep_svdd_auc": "Deep SVDD + AUC", "deep_sad": "Deep SAD",
                "deep_sad_labelled": "Deep SAD, labelled nodes only (ours)",
                "nn": "NN", "gcn": "GCN classifier", "deepwalk_lr": "DeepWalk + LR", "dominant": "DOMINANT"}


def compact_table(results_dir: Path) -> str:
    """Markdown: methods x (graph, labelled %) of mean ± std test AUC, the paper's value beside the
    proposed method's; written to ``t1_auc_table.md`` (linked from the README)."""
    cells = _read_both(results_dir, "")
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
    n_max = int(pd.to_numeric(cells["n_seeds"]).max())
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
            txt = f"{float(r['mean']):.1f} ± {float(r['std']):.1f}" + ("" if int(r["n_seeds"]) == n_max
                                                                       else f" [{int(r['n_seeds'])} splits]")
            if r["paper_value"] != "":
                txt += f" (paper {float(r['paper_value']):.1f})"
            vals.append(f"**{txt}**" if m == "proposed" else txt)
        pv = " / ".join(paper.loc[paper["method"] == m, "value"]) or "–"
        lines.append(f"| {METHOD_NAMES[m]} | " + " | ".join(vals) + f" | {pd.to_numeric(sub['mean']).mean():.1f} | {pv} |")
    text = "\n".join(lines) + "\n"
    (Path(results_dir) / f"{TABLE}_table.md").write_text(text)
    return text


def _read_both(results_dir: Path, suffix: str) -> pd.DataFrame:
    """``t1_auc{suffix}.csv`` and, where it exists, ``t1_auc_b{suffix}.csv`` as one frame."""
    frames = [pd.read_csv(path, keep_default_na=False, dtype={"paper_value": str, "setting": str})
              for path in (Path(results_dir) / f"{t}{suffix}.csv" for t in (TABLE, TABLE_B)) if path.is_file()]
    return pd.concat(frames, ignore_index=True)


def within_paper_table(results_dir: Path, profile: str) -> str:
    """Markdown: claim C9 (the proposed method within 2 points of the paper's number) cell by cell:
    our mean with its 95 % t interval over splits, the paper's number, ours - paper with its
    interval, and the cell's verdict; written to ``t1_within_paper.md``."""
    from common.claims import NotMeasured, Results
    from papers.graph_ssad import claims as CL

    try:
        parts = CL.within_paper_cells(CL.PaperTable(Results(Path(results_dir), "graph_ssad", profile)))
    except NotMeasured as exc:
        parts, why = {}, str(exc)
    lines = [f"Claim C9, cell by cell: the proposed method's test AUC (%) within ±{CL.PAPER_TOL:g} points of the "
             "paper's number. Held when the 95 % interval of ours - paper (Student t over splits) lies inside "
             f"±{CL.PAPER_TOL:g}, not held when it lies entirely outside, else inconclusive.", "",
             "| graph | labelled | splits | ours: mean [95 % CI] | paper | ours - paper [95 % CI] | verdict |",
             "|---|---|---|---|---|---|---|"]
    cells = _read_both(results_dir, "")
    cells = cells[(cells.method == "proposed") & (cells.metric == "test_auc_pct")].set_index(["dataset", "setting"])
    for key, v in parts.items():
        ds, frac = key.split(" ")
        cell = cells.loc[(ds, f"label_frac={frac}")]
        paper, lo, hi = float(cell["paper_value"]), v.ci[0], v.ci[1]
        lines.append(f"| {ds} | {float(frac) * 100:g} % | {int(cell['n_seeds'])} | {paper + v.effect:.2f} "
                     f"[{paper + lo:.2f}, {paper + hi:.2f}] | {paper:g} | {v.effect:+.2f} [{lo:+.2f}, {hi:+.2f}] "
                     f"| {v.status} |")
    if not parts:
        lines.append(f"| not measured: {why} | | | | | | |")
    text = "\n".join(lines) + "\n"
    (Path(results_dir) / "t1_within_paper.md").write_text(text)
    return text


def make_figures(results_dir: Path, profile: str) -> None:
    """Test AUC (mean ± std over splits) against the labelled fraction, one panel per graph:
    the paper's results table drawn as lines; plus the compact markdown table."""
    runs_csv = Path(results_dir) / f"{TABLE}_runs.csv"
    if not runs_csv.is_file():
        return
    if (Path(results_dir) / f"{TABLE}.csv").is_file():
        compact_table(results_dir)
        within_paper_table(results_dir, profile)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from common.plotting import STYLE

    df = _read_both(results_dir, "_runs")
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
            n = sub.groupby(["method", "label_pct"])["seed"].nunique()
            splits = f"{n.max()}" if n.min() == n.max() else f"{n.min()}-{n.max()}"
            ax.set_title(f"{ds} ({profile}, mean ± std over {splits} splits)")
        axes[0][-1].legend(frameon=False, loc="upper left", bbox_to_anchor=(1.02, 1.0))
        out = Path(results_dir) / f"{TABLE}_vs_labelled.png"
        fig.savefig(out, bbox_inches="tight")
        plt.close(fig)


