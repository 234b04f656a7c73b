"""The outer loop (meta-training, resumable) and meta-testing, shared by Meta-ticket and the baselines.

Optimisers follow the official code: the MAML family's initial parameters with AdamW (lr 1e-3, no
weight decay); Meta-ticket's scores with SGD (lr 10, momentum ``cfg.score_momentum``) under the
official cosine schedule with linear warm-up (``method.cosine_warmup_factor`` as a ``LambdaLR``),
or AdamW (``ticket_optimizer = adamw``, the official sinusoid setting); Meta-ticket's densely
meta-learned ``aux`` parameters with AdamW (``aux_lr``).

The meta-gradient is one backward pass through the mean query loss of the meta-batch (all its tasks in
one graph, sharing Meta-ticket's masks). :class:`TaskPool` lets ``task_workers`` Python threads share the
meta-test episodes; each thread uses its own copy of the network (``functional_call`` swaps a module's
parameters, so threads must not share one), and every episode is computed exactly as in one thread, so
the result does not depend on the number of workers.
"""

from __future__ import annotations

import copy
import functools
import time
from concurrent.futures import ThreadPoolExecutor
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


class TaskPool:
    """``workers`` threads, each with its own copy of the learner's network; ``map(fn, learner, items)``
    calls ``fn(learner_copy, item)`` for every item (round-robin over workers, each worker in item order)
    and returns the results in item order."""

    def __init__(self, workers: int = 1) -> None:
        self.workers = max(int(workers), 1)
        self._models: dict[int, list] = {}
        self._pool = ThreadPoolExecutor(self.workers) if self.workers > 1 else None

    def _learners(self, learner: TaskLearner) -> list[TaskLearner]:
        models = self._models.setdefault(id(learner.model), [learner.model] + [
            copy.deepcopy(learner.model) for _ in range(self.workers - 1)])
        out = []
        for m in models:
            c = copy.copy(learner)       # shares weights, scores, masks and meta-parameters with `learner`
            c.model = m
            out.append(c)
        return out

    def map(self, fn: Callable, learner: TaskLearner, items: list) -> list:
        if self._pool is None:
            return [fn(learner, it) for it in items]
        learners = self._learners(learner)
        n_threads = torch.get_num_threads()

        def chunk(j: int) -> list:
            # OpenMP / MKL thread counts are per OS thread: without this a worker uses every core for some kernels
            # and its float sums differ from the serial run's (seen with torch 2.14 on 2 cores).
            torch.set_num_threads(n_threads)
            return [fn(learners[j], it) for it in items[j::self.workers]]

        parts = list(self._pool.map(chunk, range(self.workers)))
        out: list = [None] * len(items)
        for j, part in enumerate(parts):
            out[j::self.workers] = part
        return out

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown()


def meta_gradient(learner: TaskLearner, tasks: list, loss_fn, inner_lr: float, steps: int, first_order: bool,
                  metric: Callable | None) -> tuple[float, float]:
    """Set ``.grad`` of every meta-parameter to the gradient of the mean query loss over ``tasks`` (after
    inner adaptation; one graph and one backward pass for the meta-batch); returns (mean loss, mean metric)."""
    params = [p for _, group in learner.meta_param_groups() for p in group]
    loss, score = meta_loss(learner, list(tasks), loss_fn, inner_lr, steps, first_order, metric)
    for p, g in zip(params, torch.autograd.grad(loss, params, materialize_grads=True)):
        p.grad = g
    return float(loss.detach()), score


def curve_iterations(iterations: int, points: int) -> list[int]:
    """``points`` evenly spaced outer iterations ending at ``iterations`` (the learning-curve checkpoints)."""
    return sorted({max(round(iterations * (j + 1) / points), 1) for j in range(points)}) if points else []


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
               metric: Callable, rng: np.random.Generator, checkpoint: Path | None = None,
               pool: TaskPool | None = None, curve_tasks: list | None = None) -> dict:
    """``cfg.iterations`` outer steps on meta-batches ``sample_tasks(rng, cfg.meta_batch)``; returns the
    mean query metric over the last tenth of training, the wall time and the learning curve
    (``curve``: [(iteration, metric on ``curve_tasks`` after ``cfg.test_steps`` inner steps, mean
    meta-train query metric since the previous point)] at :func:`curve_iterations`). With
    ``checkpoint`` the state is saved every ``CHECKPOINT_EVERY`` steps and a run resumes from it."""
    opts = build_optimisers(cfg, learner)
    marks = set(curve_iterations(cfg.iterations, cfg.curve_points)) if curve_tasks else set()
    curve: list[tuple[int, float, float]] = []
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
        curve = [tuple(c) for c in st.get("curve", [])]
        log.info("resumed from iteration %d", start)
    recent, t0 = [], time.time()
    for it in range(start, cfg.iterations):
        tasks = sample_tasks(rng, cfg.meta_batch)
        for o, _ in opts:
            o.zero_grad(set_to_none=True)
        loss, score = meta_gradient(learner, tasks, loss_fn, cfg.inner_lr, cfg.train_steps, cfg.first_order, metric)
        for o, sched in opts:
            o.step()
            if sched is not None:
                sched.step()
        learner.after_step(it)
        recent.append(score)
        if (it + 1) % max(cfg.iterations // 10, 1) == 0:
            log.info("it %d/%d meta-train query metric %.4f loss %.4f (%.1fs)", it + 1, cfg.iterations,
                     np.mean(recent[-50:]), loss, time.time() - t0)
        if it + 1 in marks:
            vals, _ = meta_test(learner, curve_tasks, loss_fn, metric, cfg.inner_lr, cfg.test_steps, 0, pool)
            since = [c[0] for c in curve][-1] if curve else 0
            curve.append((it + 1, float(np.mean(vals)), float(np.mean(recent[since - start:] if since >= start
                                                                         else recent))))
        if checkpoint is not None and (it + 1) % CHECKPOINT_EVERY == 0 and it + 1 < cfg.iterations:
            torch.save({"learner": _state(learner), "opts": [o.state_dict() for o, _ in opts],
                        "scheds": [s.state_dict() if s is not None else {} for _, s in opts],
                        "rng": rng.bit_generator.state, "it": it + 1, "curve": curve}, checkpoint)
    tail = recent[-max(len(recent) // 10, 1):] if recent else [float("nan")]
    return {"train_metric": float(np.mean(tail)), "time_s": time.time() - t0, "curve": curve}


def meta_test(learner: TaskLearner, tasks, loss_fn, metric: Callable, inner_lr: float, steps: int,
              n_feature: int, pool: TaskPool | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """Per-task metric after ``steps`` inner steps, and per-layer CKA (features before vs after
    adaptation, on support + query inputs) averaged over the first ``n_feature`` tasks."""

    def one(lrn: TaskLearner, item) -> tuple[float, list | None]:
        i, (xs, ys, xq, yq) = item
        params0, forward = lrn.initial(train=False)
        adapted = adapt(forward, params0, lrn.adapt_keys, xs, ys, loss_fn, inner_lr, steps, create_graph=False)
        with torch.no_grad():
            score = float(metric(forward(adapted, xq), yq))
            if i >= n_feature:
                return score, None
            xa = torch.cat([xs, xq])
            _, f0 = forward(params0, xa, return_features=True)
            _, f1 = forward(adapted, xa, return_features=True)
            return score, [linear_cka(a, b) for a, b in zip(f0, f1)]

    res = (pool or TaskPool(1)).map(one, learner, list(enumerate(tasks)))
    ckas = [c for _, c in res if c is not None]
    return np.asarray([s for s, _ in res]), (np.nanmean(np.asarray(ckas), axis=0) if ckas else None)
