"""The outer loop (meta-training, resumable) and meta-testing, shared by Meta-ticket and the baselines.

Optimisers follow the official code: the MAML family's initial parameters with AdamW (lr 1e-3, no
weight decay); Meta-ticket's scores with SGD (lr 10, momentum ``cfg.score_momentum``) under the
official cosine schedule with linear warm-up (``method.cosine_warmup_factor`` as a ``LambdaLR``),
or AdamW (``ticket_optimizer = adamw``, the official sinusoid setting); Meta-ticket's densely
meta-learned ``aux`` parameters with AdamW (``aux_lr``).
"""

from __future__ import annotations

import functools
import time
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch.optim.lr_scheduler import LambdaLR, LRScheduler

from common.runtime import paper_logger
from papers.meta_ticket.method import MetaTicket, TaskLearner, adapt, cosine_warmup_factor, linear_cka, meta_loss

log = paper_logger("meta_ticket")

#: Outer iterations between checkpoints (an interrupted cell resumes from the last one; execution only).
CHECKPOINT_EVERY = 1000


def build_optimisers(cfg, learner: TaskLearner) -> list[tuple[torch.optim.Optimizer, LRScheduler | None]]:
    """[(optimiser, scheduler or None)] following the official per-method optimisers."""
    out: list[tuple[torch.optim.Optimizer, LRScheduler | None]] = []
    for name, params in learner.meta_param_groups():
        if name == "init":
            out.append((torch.optim.AdamW(params, lr=cfg.outer_lr or 1e-3, weight_decay=0.0), None))
        elif name == "score" and cfg.ticket_optimizer == "sgd":
            opt = torch.optim.SGD(params, lr=cfg.outer_lr or 10.0, momentum=cfg.score_momentum, weight_decay=0.0)
            factor = functools.partial(cosine_warmup_factor, total=cfg.iterations, warmup=cfg.warmup_iters)
            out.append((opt, LambdaLR(opt, factor)))
        elif name == "score":
            out.append((torch.optim.AdamW(params, lr=cfg.outer_lr or 1e-3, weight_decay=0.0), None))
        else:  # aux
            out.append((torch.optim.AdamW(params, lr=cfg.aux_lr, weight_decay=0.0), None))
    return out


def _state(learner: TaskLearner) -> dict:
    if isinstance(learner, MetaTicket):
        return {"weights": learner.weights, "scores": {k: v.detach() for k, v in learner.scores.items()},
                "aux": {k: v.detach() for k, v in learner.aux.items()}}
    return {"meta": {k: v.detach() for k, v in learner.meta.items()}}


def _load_state(learner: TaskLearner, st: dict) -> None:
    with torch.no_grad():
        if isinstance(learner, MetaTicket):
            learner.weights = dict(st["weights"])
            for d, key in ((learner.scores, "scores"), (learner.aux, "aux")):
                for k in d:
                    d[k].copy_(st[key][k])
        else:
            for k in learner.meta:
                learner.meta[k].copy_(st["meta"][k])


def meta_train(cfg, learner: TaskLearner, sample_tasks: Callable[[np.random.Generator, int], list], loss_fn,
               metric: Callable, rng: np.random.Generator, checkpoint: Path | None = None) -> dict:
    """``cfg.iterations`` outer steps on meta-batches ``sample_tasks(rng, cfg.meta_batch)``; returns the
    mean query metric over the last tenth of training and the wall time. With ``checkpoint`` the
    state is saved every ``CHECKPOINT_EVERY`` steps and a run resumes from it."""
    opts = build_optimisers(cfg, learner)
    start = 0
    if checkpoint is not None and checkpoint.exists():
        st = torch.load(checkpoint, weights_only=True)
        _load_state(learner, st["learner"])
        for (o, sched), osd, ssd in zip(opts, st["opts"], st["scheds"]):
            o.load_state_dict(osd)
            if sched is not None:
                sched.load_state_dict(ssd)
        rng.bit_generator.state = st["rng"]
        start = int(st["it"])
        log.info("resumed from iteration %d", start)
    recent, t0 = [], time.time()
    for it in range(start, cfg.iterations):
        tasks = sample_tasks(rng, cfg.meta_batch)
        loss, score = meta_loss(learner, tasks, loss_fn, cfg.inner_lr, cfg.train_steps, cfg.first_order, metric)
        for o, _ in opts:
            o.zero_grad(set_to_none=True)
        loss.backward()
        for o, sched in opts:
            o.step()
            if sched is not None:
                sched.step()
        learner.after_step(it)
        recent.append(score)
        if (it + 1) % max(cfg.iterations // 10, 1) == 0:
            log.info("it %d/%d meta-train query metric %.4f loss %.4f (%.1fs)", it + 1, cfg.iterations,
                     np.mean(recent[-50:]), loss.item(), time.time() - t0)
        if checkpoint is not None and (it + 1) % CHECKPOINT_EVERY == 0 and it + 1 < cfg.iterations:
            torch.save({"learner": _state(learner), "opts": [o.state_dict() for o, _ in opts],
                        "scheds": [s.state_dict() if s is not None else {} for _, s in opts],
                        "rng": rng.bit_generator.state, "it": it + 1}, checkpoint)
    tail = recent[-max(len(recent) // 10, 1):] if recent else [float("nan")]
    return {"train_metric": float(np.mean(tail)), "time_s": time.time() - t0}


def meta_test(learner: TaskLearner, tasks, loss_fn, metric: Callable, inner_lr: float, steps: int,
              n_feature: int) -> tuple[np.ndarray, np.ndarray | None]:
    """Per-task metric after ``steps`` inner steps, and per-layer CKA (features before vs after
    adaptation, on support + query inputs) averaged over the first ``n_feature`` tasks."""
    params0, forward = learner.initial()
    params0 = {k: v.detach() for k, v in params0.items()}
    scores, ckas = [], []
    for i, (xs, ys, xq, yq) in enumerate(tasks):
        adapted = adapt(forward, params0, learner.adapt_keys, xs, ys, loss_fn, inner_lr, steps, create_graph=False)
        with torch.no_grad():
            scores.append(float(metric(forward(adapted, xq), yq)))
            if i < n_feature:
                xa = torch.cat([xs, xq])
                _, f0 = forward(params0, xa, return_features=True)
                _, f1 = forward(adapted, xa, return_features=True)
                ckas.append([linear_cka(a, b) for a, b in zip(f0, f1)])
    return np.asarray(scores), (np.nanmean(np.asarray(ckas), axis=0) if ckas else None)
