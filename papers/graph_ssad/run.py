"""One run = one method on one random split (seed) of one graph at one labelled fraction.

Reads top to bottom: load the graph, build the anomaly task (smallest class = anomalous,
attributes in [0, 1]), split the nodes (labelled / 10 % validation / test), train the method
(``baselines.METHODS``) with model selection on the validation nodes, report the test AUC.

    python -m papers.graph_ssad.run --profile smoke --dataset cora --method proposed
    python -m papers.graph_ssad.run --table t1_auc --profile quick
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from common.cache import cache_entry
from common.runtime import derive_seed, paper_logger, setup
from papers.graph_ssad import data as D
from papers.graph_ssad.baselines import METHODS, Task
from papers.graph_ssad.config import Config
from papers.graph_ssad.method import auc

SLUG = "graph_ssad"
log = paper_logger(SLUG)


def shared_cache(kind: str, key: dict, compute) -> np.ndarray:
    """Per-graph arrays that do not depend on the split (DeepWalk embeddings, DOMINANT scores),
    shared by the cells of every labelled fraction: ``runs/graph_ssad/_cache/<kind>-<hash>/``."""
    return cache_entry(SLUG, kind, key).load_or_compute(f"{kind}.npy", compute, fmt="npy")


def run(cfg: Config, workdir: Path | None = None) -> list[dict]:
    device = setup(cfg)
    graph = D.load_graph(cfg.dataset, download=True if cfg.download else None)
    y = D.anomaly_labels(graph.labels)
    split = D.split_nodes(y, cfg.label_frac, cfg.val_frac, derive_seed(cfg.seed, "split"),
                          stratified=cfg.split == "stratified")
    task = Task(D.minmax_01(graph.x), graph.adj, y, split.labelled, split.val, split.test, device)

    fit, extra = METHODS[cfg.method](task, cfg, shared_cache)

    test, n_anomalous = task.test, int(y[task.labelled].sum())
    test_auc = auc(y[test], fit.scores[test])
    log.info("%s %s label_frac=%s seed=%s: %d labelled (%d anomalous), %d val, %d test; kept epoch %d of %d; "
             "test AUC %.4f", cfg.dataset, cfg.method, cfg.label_frac, cfg.seed, len(task.labelled), n_anomalous,
             len(task.val), len(test), fit.epoch, fit.epochs_run, test_auc)
    rows = [{"metric": "test_auc_pct", "value": 100.0 * test_auc, "n": len(test)},
            {"metric": "val_auc_pct", "value": 100.0 * fit.val_auc, "n": len(task.val)},
            {"metric": "labelled_anomalies", "value": n_anomalous, "n": len(task.labelled)}]
    return rows + extra


if __name__ == "__main__":
    from common.cli import paper_main

    sys.exit(paper_main(SLUG))
