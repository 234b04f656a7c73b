"""One run = one method on one random split (seed) of one graph at one labelled fraction.

Reads top to bottom: load the graph, build the anomaly task (smallest class = anomalous,
attributes in [0, 1]), split the nodes (labelled / 10 % validation / test), train the method
with model selection on the validation nodes, report the test AUC.

    python -m papers.graph_ssad.run --profile smoke --dataset cora --method proposed
    python -m papers.graph_ssad.run --table auc --profile quick
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from common.results import runs_root
from common.runtime import setup
from papers.graph_ssad import baselines as B
from papers.graph_ssad import data as D
from papers.graph_ssad import method as M
from papers.graph_ssad.config import Config

SLUG = "graph_ssad"
LOG = logging.getLogger(f"repro.{SLUG}")


def _cache_path(kind: str, key: dict) -> Path:
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]
    return runs_root() / SLUG / "_cache" / f"{kind}_{key['dataset']}_{digest}.npy"


def _cached(kind: str, key: dict, compute) -> np.ndarray:
    """Per-graph results that do not depend on the split (DeepWalk embeddings, DOMINANT scores),
    shared by the cells of every labelled fraction; written atomically, read without pickle."""
    path = _cache_path(kind, key)
    if path.is_file():
        return np.load(path, allow_pickle=False)
    arr = compute()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.stem}.{os.getpid()}.tmp.npy")
    np.save(tmp, arr)
    os.replace(tmp, path)
    return arr


def run(cfg: Config, workdir: Path | None = None) -> list[dict]:
    device = setup(cfg)
    graph = D.load_graph(cfg.dataset, download=True if cfg.download else None)
    y = D.anomaly_labels(graph.labels)
    split = D.split_nodes(y, cfg.label_frac, cfg.val_frac, cfg.seed, stratified=cfg.split == "stratified")
    x01 = D.minmax_01(graph.x)
    lab, val, test = split.labelled, split.val, split.test
    n_lab_anom = int(y[lab].sum())

    extra: list[dict] = []
    net = dict(hidden=cfg.hidden, layers=cfg.layers, epochs=cfg.epochs, patience=cfg.patience, lr=cfg.lr)
    if cfg.method in ("proposed", "normal_only", "deep_svdd", "deep_svdd_auc", "deep_sad", "deep_sad_labelled", "nn",
                      "gcn"):
        x = M.to_torch_attributes(x01, device)
        a_hat = M.normalized_adjacency(graph.adj).to(device)
    if cfg.method in ("proposed", "normal_only", "deep_svdd", "deep_svdd_auc"):
        encoder = "gcn" if cfg.method in ("proposed", "normal_only") else "mlp"
        lambdas = cfg.lambdas if cfg.method in ("proposed", "deep_svdd_auc") else (0.0,)
        lam, fit = M.proposed(x, a_hat, y, lab, val, lambdas, cfg.seed, d_out=cfg.out_dim, encoder=encoder,
                              center_eps=0.1 if cfg.method == "deep_svdd" else 0.0, bias=cfg.hypersphere_bias,
                              **net)
        if len(lambdas) > 1:
            extra.append({"metric": "selected_lambda", "value": lam})
    elif cfg.method in ("deep_sad", "deep_sad_labelled"):
        fit = B.deep_sad(x, y, lab, val, cfg.seed, eta=cfg.deep_sad_eta, d_out=cfg.out_dim,
                         bias=cfg.hypersphere_bias, use_unlabelled=cfg.method == "deep_sad", **net)
    elif cfg.method in ("nn", "gcn"):
        fit = B.classifier(x, a_hat, y, lab, val, cfg.seed, encoder="gcn" if cfg.method == "gcn" else "mlp", **net)
    elif cfg.method == "ocsvm":
        nu, fit = B.ocsvm(x01, y, lab, val, cfg.ocsvm_nus)
        extra.append({"metric": "selected_nu", "value": nu})
    elif cfg.method == "deepwalk_lr":
        key = {"dataset": cfg.dataset, "seed": cfg.seed, "dim": cfg.deepwalk_dim, "walks": cfg.deepwalk_walks,
               "length": cfg.deepwalk_length, "window": cfg.deepwalk_window, "nodes": graph.num_nodes}
        z = _cached("deepwalk", key, lambda: B.deepwalk_embeddings(
            graph.adj, cfg.deepwalk_dim, cfg.deepwalk_walks, cfg.deepwalk_length, cfg.deepwalk_window, cfg.seed))
        c, fit = B.logistic_regression(z, y, lab, val, cfg.lr_cs, cfg.seed)
        extra.append({"metric": "selected_C", "value": c})
    elif cfg.method == "dominant":
        init_seed = cfg.seed if cfg.dominant_init_seed < 0 else cfg.dominant_init_seed
        key = {"dataset": cfg.dataset, "seed": init_seed, "hidden": cfg.dominant_hidden,
               "epochs": cfg.dominant_epochs, "lr": cfg.dominant_lr, "dropout": cfg.dominant_dropout,
               "alpha": cfg.dominant_alpha, "nodes": graph.num_nodes, "device": str(device)}
        s = _cached("dominant", key, lambda: B.dominant_scores(
            x01, graph.adj, init_seed, cfg.dominant_hidden, cfg.dominant_epochs, cfg.dominant_lr,
            cfg.dominant_dropout, cfg.dominant_alpha, device))
        fit = M.Fit(M.auc(y[val], s[val]), s, 0, 0)
    else:  # validate() already refuses unknown methods
        raise ValueError(f"unknown method {cfg.method!r}")

    test_auc = M.auc(y[test], fit.scores[test])
    LOG.info("%s %s label_frac=%s seed=%s: %d labelled (%d anomalous), %d val, %d test; kept epoch %d of %d; "
             "test AUC %.4f", cfg.dataset, cfg.method, cfg.label_frac, cfg.seed, len(lab), n_lab_anom, len(val),
             len(test), fit.epoch, fit.epochs_run, test_auc)
    rows = [{"metric": "test_auc_pct", "value": 100.0 * test_auc, "n": len(test)},
            {"metric": "val_auc_pct", "value": 100.0 * fit.val_auc, "n": len(val)}]
    return rows + extra


# --------------------------------------------------------------------------------------
# Figures.

METHOD_NAMES = {"proposed": "Proposed", "normal_only": "Proposed (normal only)", "ocsvm": "OCSVM",
                "deep_svdd": "Deep SVDD", "deep_svdd_auc": "Deep SVDD + AUC", "deep_sad": "Deep SAD",
                "deep_sad_labelled": "Deep SAD, labelled nodes only (ours)",
                "nn": "NN", "gcn": "GCN classifier", "deepwalk_lr": "DeepWalk + LR", "dominant": "DOMINANT"}


def compact_table(results_dir: Path) -> str:
    """Markdown: methods x (graph, labelled %) of mean ± std test AUC, the paper's value beside the
    proposed method's; written to ``auc_table.md`` (the README quotes it)."""
    cells = pd.read_csv(Path(results_dir) / "auc.csv", keep_default_na=False, dtype={"paper_value": str})
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
    (Path(results_dir) / "auc_table.md").write_text(text)
    return text


def make_figures(results_dir: Path, profile: str) -> None:
    """Test AUC (mean ± std over splits) against the labelled fraction, one panel per graph:
    the paper's results table drawn as lines; plus the compact markdown table."""
    runs_csv = Path(results_dir) / "auc_runs.csv"
    if not runs_csv.is_file():
        return
    if (Path(results_dir) / "auc.csv").is_file():
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
        out = Path(results_dir) / "auc_vs_labelled.png"
        fig.savefig(out, bbox_inches="tight")
        plt.close(fig)


if __name__ == "__main__":
    from common.cli import paper_main

    sys.exit(paper_main(SLUG))
