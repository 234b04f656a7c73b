"""One run = one (task, dataset, support size, seed) cell: meta-train (or load from the cache) the
meta-learned models, then evaluate every method of ``cfg.methods`` on the same fixed test tasks.

Rows: ``test_rdre_error`` (relative-DRE squared error on query instances; lower is better; equal
to the mean squared error to the true relative ratio up to a task constant), ``comparison_auc_pct``
(AUC of the divergence estimate for shifted vs same pairs), ``outlier_auc_pct`` (AUC of -r on the
unlabelled test set). Meta-trained models are cached (``common.cache``) keyed by the settings that
determine them, so the support-size cells, the comparison table and the class-disjoint outlier
detection (same meta-training classes and tasks) reuse them.

With ``tune``, each method's 3 candidates (``baselines.candidates``) are scored on ``n_val_tasks``
validation tasks drawn from the validation pool (classes or rows seen neither in meta-training nor
at test) with the cell's own metric; the best one is evaluated on the test tasks. Rows
``val_<metric>`` (the chosen candidate's validation score) and ``tuned_<field>`` (its value) go
beside the test metric.

    python -m papers.meta_rdre.run --profile smoke --task outlier --dataset thyroid
"""

from __future__ import annotations

import dataclasses
import sys
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.metrics import roc_auc_score

from common.cache import cache_entry
from common.meta.closed_form import pearson_divergence, rulsif_squared_loss
from common.meta.tasks import ContaminatedTaskSource, MixturePairTaskSource, stack_tasks
from common.runtime import derive_seed, paper_logger, setup
from papers.meta_rdre import baselines as B
from papers.meta_rdre.config import Config
from papers.meta_rdre.data import (
    DATA_VERSION,
    PAIR_DATASETS,
    ClassOutlierTaskSource,
    OverlapMixturePairSource,
    anomaly_pools,
    pair_pools,
)

SLUG = "meta_rdre"
log = paper_logger(SLUG)
# fields that determine every meta-trained model (each method adds its own: baselines.Method.key_fields)
TRAIN_FIELDS = ("dataset", "alpha", "n_query", "n_outlier_test", "contamination", "n_active", "dirichlet",
                "pair_split", "class_test_frac", "row_test_frac", "val_frac", "mixture", "split_seed", "train_support_min",
                "train_support_max", "hidden", "n_hidden", "meta_batch", "lr", "dtype", "seed")
# fields that shape only one family's meta-training tasks (left out of the other family's cache key, so the
# class-disjoint outlier cells reuse the pair models whatever their test-set size)
PAIR_ONLY = ("mixture", "n_active", "dirichlet", "pair_split", "class_test_frac")
OUTLIER_ONLY = ("n_outlier_test", "contamination", "row_test_frac")
METRIC = {"rdre": "test_rdre_error", "comparison": "comparison_auc_pct", "outlier": "outlier_auc_pct"}
QUERY = ["support_a", "support_b", "query_a", "query_b"]


def family(cfg: Config) -> str:
    """How the meta-learners are trained: on class-mixture pairs of a labelled pool (``pair``: relative DRE,
    dataset comparison, and outlier detection on a many-class pool, whose meta-test classes are unseen)
    or on one anomaly table's meta-training rows (``outlier``)."""
    return "pair" if cfg.dataset in PAIR_DATASETS else "outlier"


def split_seed(cfg: Config) -> int:
    """The seed of the meta-train / meta-test split: fixed by ``cfg.split_seed``, else a stream of the run seed."""
    return cfg.split_seed if cfg.split_seed >= 0 else derive_seed(cfg.seed, "split")


def sources(cfg: Config):
    """(meta-train source with the largest training support size, validation source (None unless ``tune``),
    meta-test source)."""
    if family(cfg) == "pair":
        train, val, test = pair_pools(cfg.dataset, split_seed(cfg), cfg.class_test_frac, cfg.pair_split, cfg.val_frac)
        kind = OverlapMixturePairSource if cfg.mixture == "overlap" else MixturePairTaskSource
        tr = kind(train, cfg.train_support_max, cfg.train_support_max, cfg.n_query, cfg.n_active, cfg.dirichlet)

        def target(pool):
            if pool is None:
                return None
            if cfg.task == "outlier":
                return ClassOutlierTaskSource(pool, cfg.n_support, cfg.n_outlier_test, cfg.contamination, cfg.n_active,
                                              cfg.dirichlet)
            return kind(pool, cfg.n_support, cfg.n_support, cfg.n_query, cfg.n_active, cfg.dirichlet,
                        same_prob=0.5 if cfg.task == "comparison" else 0.0)
        return tr, target(val) if cfg.tune else None, target(test)
    if cfg.task != "outlier":
        raise ValueError(f"{cfg.dataset} is an anomaly table: only task=outlier applies")
    train, val, test = anomaly_pools(cfg.dataset, split_seed(cfg), cfg.row_test_frac, cfg.val_frac)
    tr = ContaminatedTaskSource(train, cfg.train_support_max, cfg.n_outlier_test, cfg.contamination, cfg.n_query)
    target = lambda pool: None if pool is None else ContaminatedTaskSource(  # noqa: E731
        pool, cfg.n_support, cfg.n_outlier_test, cfg.contamination)
    return tr, target(val) if cfg.tune else None, target(test)


def batch_sampler(cfg: Config, src):
    """Meta-training task batches, each with one random support size in [min, max] (truncating
    i.i.d., randomly permuted draws keeps them i.i.d.)."""
    rng = np.random.default_rng(derive_seed(cfg.seed, "meta_train_tasks"))
    dtype = getattr(torch, cfg.dtype)

    def next_batch() -> dict[str, torch.Tensor]:
        n = int(rng.integers(cfg.train_support_min, cfg.train_support_max + 1))
        if family(cfg) == "pair":
            t = stack_tasks(src.batch(rng, cfg.meta_batch), QUERY, dtype=dtype)
            t["support_a"], t["support_b"] = t["support_a"][:, :n], t["support_b"][:, :n]
            return t
        tasks = [src.sample(rng) for _ in range(cfg.meta_batch)]
        parts = {"support_a": [tk.support_a[:n] for tk in tasks], "support_b": [tk.support_b for tk in tasks],
                 "query_a": [tk.info["query_a"] for tk in tasks], "query_b": [tk.info["query_b"] for tk in tasks]}
        return {k: torch.as_tensor(np.stack(v), dtype=dtype) for k, v in parts.items()}
    return next_batch


def meta_model(cfg: Config, name: str, train_src, in_dim: int):
    """The meta-trained model of method ``name``, from the cache or trained now."""
    unused = PAIR_ONLY if family(cfg) == "outlier" else OUTLIER_ONLY
    key = {k: getattr(cfg, k) for k in TRAIN_FIELDS + B.METHODS[name].key_fields if k not in unused}
    key.update(method=name, family=family(cfg), data_version=DATA_VERSION)
    state = cache_entry(SLUG, name, key).load_or_compute(
        "model.pt", lambda: B.meta_train_state(name, cfg, in_dim, batch_sampler(cfg, train_src)), fmt="torch")
    return B.from_state(name, cfg, in_dim, state)


def fixed_test_tasks(cfg: Config, test_src, n: int | None = None, stream: str = "test_tasks") -> list:
    """The fixed test (or validation) tasks of this cell, identical for every method (comparison: half same
    pairs)."""
    n = cfg.n_test_tasks if n is None else n
    if cfg.task == "comparison":
        rng = np.random.default_rng(derive_seed(cfg.seed, stream))
        n_same = n // 2
        return ([test_src.sample(rng, same=True) for _ in range(n_same)]
                + [test_src.sample(rng, same=False) for _ in range(n - n_same)])
    return test_src.fixed_tasks(n, seed=derive_seed(cfg.seed, stream))


def evaluate(cfg: Config, name: str, model, tasks) -> dict[str, float]:
    """The cell's metric for one method on the fixed test tasks."""
    estimate, dtype = B.METHODS[name].estimate, getattr(torch, cfg.dtype)
    if cfg.task in ("rdre", "comparison"):
        t = stack_tasks(tasks, QUERY, dtype=dtype)
        if cfg.task == "rdre":
            ra, rb = estimate(cfg, model, t["support_a"], t["support_b"], [t["query_a"], t["query_b"]])
            err = rulsif_squared_loss(torch.as_tensor(ra), torch.as_tensor(rb), cfg.alpha).numpy()
            return {"test_rdre_error": float(err.mean())}
        ra, rb = estimate(cfg, model, t["support_a"], t["support_b"], [t["support_a"], t["support_b"]])
        div = pearson_divergence(torch.as_tensor(ra), torch.as_tensor(rb), cfg.alpha).numpy()
        shifted = np.array([0 if tk.info["same"] else 1 for tk in tasks])
        return {"comparison_auc_pct": float(100 * roc_auc_score(shifted, div))}
    sa = torch.as_tensor(np.stack([tk.support_a for tk in tasks]), dtype=dtype)
    sb = torch.as_tensor(np.stack([tk.support_b for tk in tasks]), dtype=dtype)
    (rb,) = estimate(cfg, model, sa, sb, [sb])
    aucs = [roc_auc_score(tk.labels_b, -rb[i]) for i, tk in enumerate(tasks)]
    return {"outlier_auc_pct": float(100 * np.mean(aucs))}


def tune(cfg: Config, name: str, model, val_tasks) -> tuple[Config, float]:
    """The config with method ``name``'s best candidate on the validation tasks, and its validation score."""
    metric = METRIC[cfg.task]
    sign = 1.0 if cfg.task == "rdre" else -1.0  # lower error, higher AUC
    scored = []
    for cand in B.candidates(cfg, name):
        c = dataclasses.replace(cfg, **cand)
        scored.append((sign * evaluate(c, name, model, val_tasks)[metric], len(scored), c))
    best = min(scored, key=lambda t: (t[0], t[1]))
    return best[2], sign * best[0]


def run(cfg: Config, workdir: Path | None = None) -> list[dict]:
    setup(cfg)
    train_src, val_src, test_src = sources(cfg)
    in_dim = test_src.pool.x.shape[1]
    tasks = fixed_test_tasks(cfg, test_src)
    val_tasks = fixed_test_tasks(cfg, val_src, cfg.n_val_tasks, "val_tasks") if cfg.tune else None
    rows = []
    for name in cfg.method_list():
        t0 = time.time()
        model = meta_model(cfg, name, train_src, in_dim) if B.METHODS[name].meta_learned else None
        t1 = time.time()
        ccfg, extra = cfg, {}
        if cfg.tune:
            ccfg, val_score = tune(cfg, name, model, val_tasks)
            field = next(iter(B.candidates(cfg, name)[0]))
            extra = {f"val_{METRIC[cfg.task]}": val_score, f"tuned_{field}": float(getattr(ccfg, field))}
        metrics = evaluate(ccfg, name, model, tasks)
        log.info("%s/%s/n_support=%d %s: %s %s (train %.1fs, eval %.1fs)", cfg.task, cfg.dataset, cfg.n_support,
                 name, metrics, extra, t1 - t0, time.time() - t1)
        rows += [{"method": name, "metric": k, "value": v, "n": len(tasks)} for k, v in metrics.items()]
        rows += [{"method": name, "metric": k, "value": v, "n": len(val_tasks)} for k, v in extra.items()]
    return rows


if __name__ == "__main__":
    from common.cli import paper_main

    sys.exit(paper_main(SLUG))
