"""One cell = one domain-adaptation instance (dataset, sizes, classes, gamma, rho, seed) on which
the original method, the fast method and the peers (``baselines.METHODS``) run side by side;
every ratio (speedup, objective difference) is measured within the run::

    python -m papers.fast_gsot.run --profile smoke --dataset mnist5k_to_digits
    make reproduce-fast-gsot [PROFILE=smoke]
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from common.cache import cache_entry
from common.runtime import derive_seed, setup
from papers.fast_gsot import baselines as B
from papers.fast_gsot import data as D
from papers.fast_gsot import method as F
from papers.fast_gsot.config import METHODS, Config

SLUG = "fast_gsot"
PAIR_CACHE_VERSION = "v2"  # v2: Omniglot drawer pair on the deduplicated 242 characters


def load_pair(name: str) -> D.DomainPair:
    """The domain pair; the quick pairs' features (deterministic; 8x8 MNIST conversion) are cached."""
    if name not in D.QUICK_DATASETS:
        return D.load_pair(name)

    def compute():
        pair = D.load_pair(name)
        return {"name": np.array(pair.name), "xs": pair.xs, "ys": pair.ys, "xt": pair.xt, "yt": pair.yt}

    z = cache_entry(SLUG, "pair", {"dataset": name, "version": PAIR_CACHE_VERSION}).load_or_compute(
        "pair.npz", compute, fmt="npz")
    return D.DomainPair(str(z["name"]), z["xs"], z["ys"], z["xt"], z["yt"])


def make_instance(cfg: Config) -> B.Instance:
    """Stratified source and target subsets of ``n_classes`` classes (a random subset when fewer
    than all), their squared-Euclidean cost, and the blocked dual problem. The seed draws the
    classes, the source subset and the target subset from three named streams."""
    pair = load_pair(cfg.dataset)
    all_classes = np.unique(pair.ys)
    pick = np.random.default_rng(derive_seed(cfg.seed, "classes"))
    classes = all_classes if cfg.n_classes == len(all_classes) else \
        np.sort(pick.choice(all_classes, cfg.n_classes, replace=False))
    i = D.stratified_subset(pair.ys, cfg.n_source, classes, np.random.default_rng(derive_seed(cfg.seed, "source")))
    j = D.stratified_subset(pair.yt, cfg.n_target, classes, np.random.default_rng(derive_seed(cfg.seed, "target")))
    xs, ys, xt, yt = pair.xs[i], pair.ys[i], pair.xt[j], pair.yt[j]
    C = D.sq_euclidean_cost(xs, xt)
    m, n = C.shape
    prob = F.make_problem(C, ys, np.full(m, 1.0 / m), np.full(n, 1.0 / n), cfg.gamma, cfg.rho)
    return B.Instance(pair.name, xs, ys, xt, yt, C, prob)


def run(cfg: Config, workdir: Path | None = None) -> list[dict]:
    setup(cfg)
    # BLAS/OpenMP threads of everything outside the solvers (cost matrix, 1-NN); the solvers
    # themselves always run on one thread (baselines), so their timings compare alike
    with threadpool_limits(limits=cfg.threads or None):
        inst = make_instance(cfg)
        done: dict = {}
        results = [B.METHODS[m](inst, cfg, done) for m in METHODS if m in cfg.method_list]
    rows: list[dict] = []
    for out in results + [B.exact_speedups(done)]:
        for name, metrics in out.items():
            rows += [{"dataset": inst.name, "method": name, "metric": k, "value": float(v), "n": inst.C.shape[1]}
                     for k, v in metrics.items()]
    return rows


if __name__ == "__main__":
    from common.cli import paper_main

    sys.exit(paper_main(SLUG))
