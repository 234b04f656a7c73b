"""Meta-training (the outer loop shared by the proposed method and the meta-learned baselines), its
task batches, the cache of meta-trained checkpoints, and the tuning-then-test evaluation protocol.

Tuning budget (the same for every method): ``n_checkpoints`` candidates, chosen by mean accuracy on
the validation tasks (validation classes): evenly spaced checkpoints of meta-training for the
meta-learned methods, the values of the method's hyperparameter grid for the per-task ones.
"""

from __future__ import annotations

import time
from typing import Callable

import numpy as np
import torch
from sklearn.metrics import roc_auc_score
from torch import Tensor, nn

from common.cache import cache_entry
from common.runtime import derive_seed, paper_logger
from papers.meta_pu import baselines as B

SLUG = "meta_pu"
log = paper_logger(SLUG)
FIELDS = ("x_pos", "x_unl", "y_unl", "x_query", "y_query")
# fields that determine every meta-trained model (each method adds its own: Method.key_fields)
TRAIN_FIELDS = ("dataset", "class_fractions", "synthetic_dim", "train_pos_range", "train_unl_range",
                "train_prior_range", "n_query", "hidden", "n_hidden", "meta_batch", "lr", "n_checkpoints", "dtype",
                "seed")


def stack(tasks, dtype) -> dict[str, Tensor]:
    """Equally sized PU tasks -> tensors (T, N, D) / (T, N), and the priors (T,)."""
    out = {f: torch.as_tensor(np.stack([getattr(t, f) for t in tasks])) for f in FIELDS}
    for f in ("x_pos", "x_unl", "x_query"):
        out[f] = out[f].to(dtype)
    out["prior"] = torch.as_tensor([t.prior for t in tasks], dtype=dtype)
    return out


def batch_sampler(cfg, src) -> Callable[[], dict[str, Tensor]]:
    """Meta-training batches: one random (n_pos, n_unl) per batch, a random prior per task."""
    rng = np.random.default_rng(derive_seed(cfg.seed, "meta_train_tasks"))
    dtype = getattr(torch, cfg.dtype)

    def next_batch() -> dict[str, Tensor]:
        n_p = int(rng.integers(cfg.train_pos_range[0], cfg.train_pos_range[1] + 1))
        n_u = int(rng.integers(cfg.train_unl_range[0], cfg.train_unl_range[1] + 1))
        return stack([src.sample(rng, n_pos=n_p, n_unl=n_u) for _ in range(cfg.meta_batch)], dtype)
    return next_batch


def _params(model) -> list[Tensor]:
    return list(model.parameters()) if isinstance(model, nn.Module) else model


def _state(model) -> dict[str, Tensor]:
    if isinstance(model, nn.Module):
        return {k: v.detach().clone() for k, v in model.state_dict().items()}
    return {f"p{i}": p.detach().clone() for i, p in enumerate(model)}


def meta_train_checkpoints(name: str, cfg, in_dim: int, next_batch) -> dict[str, Tensor]:
    """Adam over sampled task batches on the method's meta-loss (the test risk after adaptation); the
    states after each of ``n_checkpoints`` equal shares of the iterations, keyed ``c<k>/<param>``."""
    spec = B.METHODS[name]
    seed = derive_seed(cfg.seed, f"init/{name}")
    torch.manual_seed(seed)
    model = spec.init(cfg, in_dim, torch.Generator().manual_seed(seed))
    iters = getattr(cfg, spec.iters)
    marks = {int(round(iters * (k + 1) / cfg.n_checkpoints)): k for k in range(cfg.n_checkpoints)}
    opt = torch.optim.Adam(_params(model), lr=cfg.lr)
    out, running, t0 = {}, None, time.time()
    for it in range(1, iters + 1):
        loss = spec.loss(cfg, model, next_batch())
        opt.zero_grad()
        loss.backward()
        opt.step()
        running = loss.item() if running is None else 0.98 * running + 0.02 * loss.item()
        if it in marks:
            out.update({f"c{marks[it]}/{k}": v for k, v in _state(model).items()})
            log.info("  [%s] iter %d/%d query risk (EMA) %.4f (%.1fs)", name, it, iters, running, time.time() - t0)
    return out


def checkpoints(cfg, name: str, train_src, in_dim: int) -> list:
    """The meta-trained checkpoints of method ``name`` (cache, or trained now)."""
    key = {k: getattr(cfg, k) for k in TRAIN_FIELDS + B.METHODS[name].key_fields}
    key["method"] = name
    state = cache_entry(SLUG, name, key).load_or_compute(
        "model.pt", lambda: meta_train_checkpoints(name, cfg, in_dim, batch_sampler(cfg, train_src)), fmt="torch")
    models = []
    for k in range(cfg.n_checkpoints):
        model = B.METHODS[name].init(cfg, in_dim, None)
        sub = {n.split("/", 1)[1]: v for n, v in state.items() if n.startswith(f"c{k}/")}
        if isinstance(model, nn.Module):
            model.load_state_dict(sub)
            model.eval()
        else:
            model = [sub[f"p{i}"] for i in range(len(sub))]
        models.append(model)
    return models


def accuracy_pct(scores: Tensor, y: Tensor) -> float:
    """Mean over tasks of the query accuracy (%), positive iff score > 0."""
    return float(100.0 * ((scores > 0).to(torch.int64) == y).double().mean())


def auc_pct(scores: Tensor, y: Tensor) -> float:
    return float(100.0 * np.mean([roc_auc_score(y[i].numpy(), scores[i].numpy()) for i in range(len(y))]))


def _cat(a: dict, b: dict) -> dict:
    return {k: torch.cat([a[k], b[k]]) for k in a}


def tune_and_test(cfg, name: str, candidates: list, val: dict, test: dict, priors: dict) -> dict[str, float]:
    """Pick the candidate (checkpoint or hyperparameter value) with the best validation accuracy; test it.
    Per-task methods score the validation and test tasks in one call per candidate (or one call for the
    whole grid, ``batched_grid``); meta-learned ones score the validation tasks per checkpoint."""
    spec = B.METHODS[name]
    seed = derive_seed(cfg.seed, f"per_task/{name}")
    n_val = val["x_pos"].shape[0]
    with torch.no_grad():
        if spec.meta_learned:
            val_acc = [accuracy_pct(spec.scores(cfg, m, val, priors["val"], None, seed), val["y_query"])
                       for m in candidates]
            best = int(np.argmax(val_acc))
            s = spec.scores(cfg, candidates[best], test, priors["test"], None, seed)
        else:
            both = _cat(val, test)
            prior = torch.cat([priors["val"], priors["test"]])
            if spec.batched_grid:
                all_s = spec.scores(cfg, None, both, prior, tuple(candidates), seed)
            else:
                all_s = torch.stack([spec.scores(cfg, None, both, prior, c, seed) for c in candidates])
            val_acc = [accuracy_pct(a[:n_val], val["y_query"]) for a in all_s]
            best = int(np.argmax(val_acc))
            s = all_s[best, n_val:]
    out = {"test_acc_pct": accuracy_pct(s, test["y_query"]), "test_auc_pct": auc_pct(s, test["y_query"]),
           "val_acc_pct": val_acc[best]}
    out["chosen_checkpoint" if spec.meta_learned else "chosen_hp"] = float(best if spec.meta_learned
                                                                           else candidates[best])
    return out
