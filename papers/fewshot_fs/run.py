"""One run = one (dataset, K selected features, seed) cell: meta-train the proposed model and its
encoder-free ablation on the source tasks, then let every method of ``cfg.methods`` select K features
from the N unlabelled instances of the same target tasks, for every N of ``cfg.n_supports``.

Rows (setting ``n_selected=K;n_support=N``; value = mean over the target tasks, n = their number):
``test_recon_mse`` (common ridge evaluator), ``decoder_recon_mse`` (own decoder, where one exists),
``test_acc_pct`` (downstream 5-NN classification), ``select_time_s`` (selection CPU time per task),
``selection_overlap_pct`` (features shared by the selections of two target tasks: does it adapt?).

    python -m papers.fewshot_fs.run --profile smoke
    make reproduce-fewshot-fs [PROFILE=smoke|quick|full]
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import torch

from common.runtime import derive_seed, paper_logger, setup
from papers.fewshot_fs import baselines as B
from papers.fewshot_fs import method as M
from papers.fewshot_fs.config import Config
from papers.fewshot_fs.data import N_CLASSES, TaskSource, class_split, load_pool
from papers.fewshot_fs.train import evaluate, train_meta_model

SLUG = "fewshot_fs"
log = paper_logger(SLUG)


def overlap_pct(chosen: list[set]) -> float:
    """Mean shared fraction (%) of the K features selected on two different target tasks (100 = the same
    features on every task: the selection does not adapt)."""
    pairs = [len(a & b) / len(a) for i, a in enumerate(chosen) for b in chosen[i + 1:]]
    return float(np.mean(pairs) * 100) if pairs else 100.0


def run(cfg: Config, workdir: Path | None = None) -> list[dict]:
    cfg.validate()
    setup(cfg)
    x, y = load_pool(cfg.dataset, cfg.per_class, derive_seed(cfg.seed, "pool"))
    if cfg.n_selected > x.shape[1]:
        from common.config import ConfigError

        raise ConfigError(f"n_selected={cfg.n_selected} exceeds the {x.shape[1]} features of {cfg.dataset}")
    src_cls, tgt_cls = class_split(derive_seed(cfg.seed, "class_split"), cfg.n_test_classes, N_CLASSES[cfg.dataset])
    source = TaskSource(x[np.isin(y, src_cls)], y[np.isin(y, src_cls)], src_cls, cfg.n_ways)
    target = TaskSource(x[np.isin(y, tgt_cls)], y[np.isin(y, tgt_cls)], tgt_cls, cfg.n_ways)
    supports = sorted(cfg.supports())
    tasks = target.target_tasks(np.random.default_rng(derive_seed(cfg.seed, "target_tasks")), cfg.n_test_tasks,
                                supports[-1], cfg.n_eval_train, cfg.n_query)
    log.info("%s: source classes %s, target classes %s, %d target tasks", cfg.dataset, src_cls, tgt_cls, len(tasks))
    methods = cfg.method_list()
    models = {m: train_meta_model(cfg, source, m == "proposed") for m in methods if B.METHODS[m] == "meta"}

    rows = []
    for n in supports:
        for m in methods:
            rng = np.random.default_rng(derive_seed(cfg.seed, f"select_{m}_{n}"))
            gen = torch.Generator().manual_seed(derive_seed(cfg.seed, f"cae_{n}"))
            scores: dict[str, list[float]] = {}
            chosen = []
            for task in tasks:
                s = task.support[:n]
                t0 = time.process_time()
                recon = None
                if B.METHODS[m] == "meta":
                    idx = M.select(models[m], s)
                    recon = M.decoder_reconstruction(models[m], s, idx, task.query_x)
                elif B.METHODS[m] == "per_task":
                    cae = M.fit_concrete_autoencoder(s, cfg.n_selected, cfg.hidden, cfg.cae_steps, cfg.cae_lr,
                                                     cfg.temp_start, cfg.temp_end, gen)
                    idx = M.select(cae, s)
                    recon = M.decoder_reconstruction(cae, s, idx, task.query_x)
                else:
                    idx = B.select_filter(m, s, cfg.n_selected, cfg, rng)
                took = time.process_time() - t0
                chosen.append(set(np.asarray(idx).tolist()))
                for k, v in {**evaluate(task, np.asarray(idx), cfg, recon), "select_time_s": took}.items():
                    scores.setdefault(k, []).append(v)
            scores["selection_overlap_pct"] = [overlap_pct(chosen)]
            setting = f"n_selected={cfg.n_selected};n_support={n}"
            rows += [{"method": m, "setting": setting, "metric": k, "value": float(np.mean(v)), "n": len(v)}
                     for k, v in scores.items()]
            log.info("N=%d %s: recon %.5f acc %.1f", n, m, np.mean(scores["test_recon_mse"]),
                     np.mean(scores["test_acc_pct"]))
    return rows


if __name__ == "__main__":
    from common.cli import paper_main

    sys.exit(paper_main(SLUG))
