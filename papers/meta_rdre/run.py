"""One run = one (task, dataset, support size, seed) cell: meta-train (or load from the cache) the
meta-learned models, then evaluate every method of ``cfg.methods`` on the same fixed test tasks.

Rows: ``test_rdre_error`` (relative-DRE squared error on query instances; lower is better; equal
to the mean squared error to the true relative ratio up to a task constant), ``comparison_auc_pct``
(AUC of the divergence estimate for shifted vs same pairs), ``outlier_auc_pct`` (AUC of -r on the
unlabelled test set). Meta-trained models are cached in ``runs/meta_rdre/_cache/`` keyed by the
settings that determine them, so the support-size cells and the comparison table reuse them.
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.metrics import roc_auc_score

from common.meta.closed_form import pearson_divergence, rulsif_squared_loss
from common.meta.tasks import ContaminatedTaskSource, MixturePairTaskSource, stack_tasks
from common.results import runs_root
from common.runtime import setup
from papers.meta_rdre import baselines as B
from papers.meta_rdre.config import Config
from papers.meta_rdre.data import anomaly_pools, pair_pools
from papers.meta_rdre.method import MetaRDRE

SLUG = "meta_rdre"
META_METHODS = ("proposed", "proposed_noenc", "ft", "maml")
# fields that determine a meta-trained model (cache key)
TRAIN_FIELDS = ("dataset", "alpha", "n_query", "n_outlier_test", "contamination", "n_active", "dirichlet",
                "pair_split", "class_test_frac", "row_test_frac", "split_seed", "train_support_min", "train_support_max",
                "hidden", "n_hidden", "embed_dim", "set_dim", "meta_iters", "meta_batch", "lr", "maml_iters",
                "maml_inner_steps", "maml_inner_lr", "seed")


# ---------------------------------------------------------------------------------------------
# Task sources


def family(cfg: Config) -> str:
    return "outlier" if cfg.task == "outlier" else "pair"


def sources(cfg: Config):
    """(meta-train source with the largest training support size, meta-test source)."""
    if family(cfg) == "pair":
        train, test = pair_pools(cfg.dataset, cfg.split_seed, cfg.class_test_frac, cfg.pair_split)
        tr = MixturePairTaskSource(train, cfg.train_support_max, cfg.train_support_max, cfg.n_query,
                                   cfg.n_active, cfg.dirichlet)
        te = MixturePairTaskSource(test, cfg.n_support, cfg.n_support, cfg.n_query, cfg.n_active, cfg.dirichlet,
                                   same_prob=0.5 if cfg.task == "comparison" else 0.0)
        return tr, te
    train, test = anomaly_pools(cfg.dataset, cfg.split_seed, cfg.row_test_frac)
    tr = ContaminatedTaskSource(train, cfg.train_support_max, cfg.n_outlier_test, cfg.contamination, cfg.n_query)
    te = ContaminatedTaskSource(test, cfg.n_support, cfg.n_outlier_test, cfg.contamination)
    return tr, te


def training_batch(cfg: Config, src, rng: np.random.Generator) -> dict[str, torch.Tensor]:
    """A batch of meta-training tasks with one random support size in [min, max] (truncation of
    i.i.d., randomly permuted draws keeps them i.i.d.)."""
    n = int(rng.integers(cfg.train_support_min, cfg.train_support_max + 1))
    if family(cfg) == "pair":
        tasks = src.batch(rng, cfg.meta_batch)
        t = stack_tasks(tasks, ["support_a", "support_b", "query_a", "query_b"])
        t["support_a"], t["support_b"] = t["support_a"][:, :n], t["support_b"][:, :n]
        return t
    tasks = [src.sample(rng) for _ in range(cfg.meta_batch)]
    return {"support_a": torch.as_tensor(np.stack([tk.support_a[:n] for tk in tasks]), dtype=torch.float32),
            "support_b": torch.as_tensor(np.stack([tk.support_b for tk in tasks]), dtype=torch.float32),
            "query_a": torch.as_tensor(np.stack([tk.info["query_a"] for tk in tasks]), dtype=torch.float32),
            "query_b": torch.as_tensor(np.stack([tk.info["query_b"] for tk in tasks]), dtype=torch.float32)}


# ---------------------------------------------------------------------------------------------
# Meta-training (cached)


def cache_path(cfg: Config, method: str) -> Path:
    key = {k: getattr(cfg, k) for k in TRAIN_FIELDS}
    key.update(method=method, family=family(cfg))
    if method in ("ft",):
        key.pop("maml_iters"), key.pop("maml_inner_steps"), key.pop("maml_inner_lr")
    digest = hashlib.sha1(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]
    return runs_root() / SLUG / "_cache" / f"{cfg.dataset}_{method}_s{cfg.seed}_{digest}.pt"


def meta_train(cfg: Config, method: str, src, in_dim: int, log=print):
    """Train one meta-learned model; returns a MetaRDRE module or a list of MLP parameters."""
    gen = torch.Generator().manual_seed(cfg.seed)
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(10_000 + cfg.seed)
    if method in ("proposed", "proposed_noenc"):
        model = MetaRDRE(in_dim, cfg.hidden, cfg.embed_dim, cfg.set_dim, cfg.n_hidden, cfg.alpha,
                         use_dataset_encoder=(method == "proposed"))
        params, iters = list(model.parameters()), cfg.meta_iters
    else:
        model = [p.requires_grad_(True) for p in B.init_mlp_params(in_dim, cfg.hidden, cfg.n_hidden, gen)]
        params, iters = model, (cfg.maml_iters if method == "maml" else cfg.meta_iters)
    opt = torch.optim.Adam(params, lr=cfg.lr)
    t0, running = time.time(), None
    for it in range(iters):
        b = training_batch(cfg, src, rng)
        if method in ("proposed", "proposed_noenc"):
            loss = model.meta_loss(b["support_a"], b["support_b"], b["query_a"], b["query_b"])
        elif method == "maml":
            loss = B.maml_meta_loss(model, b["support_a"], b["support_b"], b["query_a"], b["query_b"], cfg.alpha,
                                    cfg.maml_inner_steps, cfg.maml_inner_lr)
        else:
            loss = B.pretrain_loss(model, b["support_a"], b["support_b"], b["query_a"], b["query_b"], cfg.alpha)
        opt.zero_grad()
        loss.backward()
        opt.step()
        running = loss.item() if running is None else 0.98 * running + 0.02 * loss.item()
        if (it + 1) % max(1, iters // 5) == 0:
            log(f"  [{method}] iter {it + 1}/{iters} query loss (EMA) {running:.4f} ({time.time() - t0:.1f}s)")
    return model


def get_meta_model(cfg: Config, method: str, src, in_dim: int, log=print):
    path = cache_path(cfg, method)
    if path.is_file():
        state = torch.load(path, weights_only=True)
        if method in ("proposed", "proposed_noenc"):
            model = MetaRDRE(in_dim, cfg.hidden, cfg.embed_dim, cfg.set_dim, cfg.n_hidden, cfg.alpha,
                             use_dataset_encoder=(method == "proposed"))
            model.load_state_dict(state)
            return model
        return [state[f"p{i}"] for i in range(len(state))]
    model = meta_train(cfg, method, src, in_dim, log)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    state = model.state_dict() if isinstance(model, MetaRDRE) else {f"p{i}": p.detach() for i, p in enumerate(model)}
    torch.save(state, tmp)
    tmp.replace(path)
    return model


# ---------------------------------------------------------------------------------------------
# Estimation under one protocol


def estimate(cfg: Config, method: str, model, sa: torch.Tensor, sb: torch.Tensor,
             points: list[torch.Tensor]) -> list[np.ndarray]:
    """Clipped relative-ratio estimates (T, M) at each points tensor, each task fitted on its supports."""
    a = cfg.alpha
    if method in ("proposed", "proposed_noenc"):
        model.eval()
        return [p.numpy() for p in model.estimate(sa, sb, points)]
    if method in ("rulsif", "ulsif", "kliep"):
        out = [np.zeros(p.shape[:2]) for p in points]
        for t in range(sa.shape[0]):
            xa, xb = sa[t].numpy(), sb[t].numpy()
            if method == "kliep":
                f = B.kliep_ratio(xa, xb, seed=cfg.seed * 100_003 + t)
                vals = [B.relative_from_plain(f(p[t].numpy()), a) for p in points]
            else:
                est = B.KernelRuLSIF(a if method == "rulsif" else 0.0, seed=cfg.seed * 100_003 + t).fit(xa, xb)
                vals = [np.maximum(est.predict(p[t].numpy()), 0.0) for p in points]
                if method == "ulsif":
                    vals = [B.relative_from_plain(v, a) for v in vals]
            for o, v in zip(out, vals):
                o[t] = v
        return out
    if method == "nn":
        params = B.neural_dre_per_task(sa, sb, a, cfg.hidden, cfg.n_hidden, cfg.nn_steps, cfg.nn_lr,
                                       cfg.nn_weight_decay, seed=cfg.seed)
    elif method == "ft":
        params = B.train_per_task(B.expand_shared(model, sa.shape[0]), sa, sb, a, cfg.ft_steps, cfg.nn_lr,
                                  cfg.nn_weight_decay)
    elif method == "maml":
        with torch.enable_grad():
            params = B.maml_adapt([p.detach().requires_grad_(True) for p in model], sa, sb, a,
                                  cfg.maml_inner_steps, cfg.maml_inner_lr, create_graph=False)
        params = [p.detach() for p in params]
    else:
        raise ValueError(f"unknown method {method!r}")
    return [r.numpy() for r in B.clipped(params, points)]


def evaluate(cfg: Config, method: str, model, tasks) -> dict[str, float]:
    if cfg.task in ("rdre", "comparison"):
        t = stack_tasks(tasks, ["support_a", "support_b", "query_a", "query_b"])
        if cfg.task == "rdre":
            ra, rb = estimate(cfg, method, model, t["support_a"], t["support_b"], [t["query_a"], t["query_b"]])
            err = rulsif_squared_loss(torch.as_tensor(ra), torch.as_tensor(rb), cfg.alpha).numpy()
            return {"test_rdre_error": float(err.mean())}
        ra, rb = estimate(cfg, method, model, t["support_a"], t["support_b"], [t["support_a"], t["support_b"]])
        div = pearson_divergence(torch.as_tensor(ra), torch.as_tensor(rb), cfg.alpha).numpy()
        shifted = np.array([0 if tk.info["same"] else 1 for tk in tasks])
        if shifted.min() == shifted.max():
            raise ValueError("comparison test tasks are all same or all shifted; raise n_test_tasks")
        return {"comparison_auc_pct": float(100 * roc_auc_score(shifted, div))}
    sa = torch.as_tensor(np.stack([tk.support_a for tk in tasks]), dtype=torch.float32)
    sb = torch.as_tensor(np.stack([tk.support_b for tk in tasks]), dtype=torch.float32)
    (rb,) = estimate(cfg, method, model, sa, sb, [sb])
    aucs = [roc_auc_score(tk.labels_b, -rb[i]) for i, tk in enumerate(tasks)]
    return {"outlier_auc_pct": float(100 * np.mean(aucs))}


def run(cfg: Config, workdir: Path | None = None) -> list[dict]:
    setup(cfg)
    log = print
    train_src, test_src = sources(cfg)
    in_dim = test_src.pool.x.shape[1]
    if family(cfg) == "pair" and cfg.task == "comparison":
        rng = np.random.default_rng(50_000 + cfg.seed)
        n_same = cfg.n_test_tasks // 2
        tasks = [test_src.sample(rng, same=True) for _ in range(n_same)]
        tasks += [test_src.sample(rng, same=False) for _ in range(cfg.n_test_tasks - n_same)]
    else:
        tasks = test_src.fixed_tasks(cfg.n_test_tasks, seed=50_000 + cfg.seed)
    setting = (f"pair_split={cfg.pair_split};n_support={cfg.n_support}" if family(cfg) == "pair"
               else f"n_support={cfg.n_support}")  # for the log; rows take the cell's setting
    rows = []
    for method in cfg.method_list():
        t0 = time.time()
        model = get_meta_model(cfg, method, train_src, in_dim, log) if method in META_METHODS else None
        t1 = time.time()
        metrics = evaluate(cfg, method, model, tasks)
        t2 = time.time()
        log(f"{cfg.task}/{cfg.dataset}/{setting} {method}: {metrics} (train {t1 - t0:.1f}s, eval {t2 - t1:.1f}s)")
        for k, v in metrics.items():
            rows.append({"method": method, "metric": k, "value": v, "n": len(tasks)})
    return rows


def make_figures(results_dir: Path, profile: str) -> None:
    from papers.meta_rdre.figures import make_all

    make_all(results_dir, profile)


if __name__ == "__main__":
    import sys

    from common.cli import paper_main

    sys.exit(paper_main(SLUG))
