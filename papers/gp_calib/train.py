"""Meta-training (shared by the proposed method and the meta-learned baselines) and the test metrics."""

from __future__ import annotations

import copy
import time

import numpy as np
import torch
from torch import Tensor

from common.runtime import paper_logger
from papers.gp_calib import method as M
from papers.gp_calib.data import TaskBatch

log = paper_logger("gp_calib")
COVERAGE_LEVELS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)


def to_tensors(batch: TaskBatch, dtype) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    return tuple(torch.as_tensor(a, dtype=dtype) for a in (batch.xs, batch.ys, batch.xq, batch.yq))


def meta_train(cfg, model: torch.nn.Module, loss_fn, train_src, val_batch: TaskBatch, rng: np.random.Generator,
               name: str = "") -> dict:
    """Adam on ``loss_fn`` over random task batches of the meta-training tables; every ``val_every``
    iterations the loss on the fixed validation tasks is computed and the best state is kept
    (early stopping by meta-validation). Returns a summary (best iteration, losses)."""
    dtype = getattr(torch, cfg.dtype)
    val = to_tensors(val_batch, dtype)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    best, best_state, best_it, t0, running = float("inf"), copy.deepcopy(model.state_dict()), 0, time.time(), None

    def validate() -> float:
        with torch.enable_grad() if name == "maml" else torch.no_grad():
            return float(loss_fn(cfg, model, val).detach())

    for it in range(1, cfg.meta_iters + 1):
        loss = loss_fn(cfg, model, to_tensors(train_src.sample(rng, cfg.meta_batch), dtype))
        opt.zero_grad()
        loss.backward()
        opt.step()
        running = loss.item() if running is None else 0.95 * running + 0.05 * loss.item()
        if it % cfg.val_every == 0 or it == cfg.meta_iters:
            v = validate()
            if v < best:
                best, best_state, best_it = v, copy.deepcopy(model.state_dict()), it
            if it % max(cfg.val_every, cfg.meta_iters // 5) == 0:
                log.info("  [%s] iter %d/%d train loss (EMA) %.4f val %.4f (best %.4f at %d) %.1fs", name, it,
                         cfg.meta_iters, running, v, best, best_it, time.time() - t0)
    model.load_state_dict(best_state)
    return {"best_iter": best_it, "best_val_loss": best}


def task_metrics(pred, yq: Tensor) -> dict[str, float]:
    """Means over the test tasks of the per-task ECE of the predictive quantiles, NLL per query point (nats)
    and MSE of the predictive mean; the ECE of all query targets pooled, and the pooled coverage of the
    predictive quantiles at a few levels (the calibration curve)."""
    with torch.no_grad():
        cdf = pred.cdf(yq)
        out = {"test_ece": float(M.ece(cdf).mean()),
               "test_ece_pooled": float(M.ece(cdf.reshape(1, -1))),
               "test_nll_nats": float((-pred.log_prob(yq)).mean()),
               "test_mse": float((pred.mean() - yq).pow(2).mean())}
        for p in COVERAGE_LEVELS:   # the pooled calibration curve (figures.py)
            out[f"coverage_p{round(100 * p):02d}"] = float((cdf <= p).to(cdf.dtype).mean())
        return out
