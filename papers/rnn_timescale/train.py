"""Training and evaluation shared by every RNN: Adam with gradient clipping on minibatches of the task's
training pool, the test metric along training (learning curve), and the gradient-condition diagnostic
(method.state_gradient_profile) at initialisation, early and at the end of training."""

from __future__ import annotations

import time

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from common.runtime import paper_logger
from papers.rnn_timescale import method as M
from papers.rnn_timescale.data import COPY_LEN, Task

log = paper_logger("rnn_timescale")
PROFILE_POINTS = 16  # distances k stored per gradient profile (for the figure)


def task_loss(task: Task, head: nn.Module, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    if task.loss == "mse":
        return F.mse_loss(head(out[:, -1]), y)
    if task.loss == "ce":
        return F.cross_entropy(head(out[:, -1]), y)
    logits = head(out[:, -COPY_LEN:])
    return F.cross_entropy(logits.reshape(-1, logits.size(-1)), y.reshape(-1))


@torch.no_grad()
def evaluate(task: Task, rnn: nn.Module, head: nn.Module, chunk: int = 500) -> tuple[str, float]:
    """('test_mse', MSE) for regression, ('test_acc_pct', accuracy) otherwise (copy: per symbol)."""
    total, n = 0.0, 0
    for s in range(0, len(task.y_test), chunk):
        x, y = task.x_test[s:s + chunk], task.y_test[s:s + chunk]
        out = rnn(x)
        if task.loss == "mse":
            total += float(((head(out[:, -1]) - y) ** 2).sum())
            n += y.numel()
        elif task.loss == "ce":
            total += float((head(out[:, -1]).argmax(-1) == y).sum())
            n += len(y)
        else:
            total += float((head(out[:, -COPY_LEN:]).argmax(-1) == y).sum())
            n += y.numel()
    return ("test_mse", total / n) if task.loss == "mse" else ("test_acc_pct", 100.0 * total / n)


def diagnose(task: Task, rnn: nn.Module, head: nn.Module, x: torch.Tensor, y: torch.Tensor, stage: str) -> list[dict]:
    """Gradient condition rows: R^2 and slope of the log-linear fit of ||dL/ds_{T-k}||, the mean log
    forget gate, and the profile itself at PROFILE_POINTS distances."""
    gated = rnn.as_gated()
    g, logf = M.state_gradient_profile(gated, lambda out: task_loss(task, head, out, y), x)
    rnn.zero_grad(set_to_none=True)
    head.zero_grad(set_to_none=True)
    start = COPY_LEN if task.loss == "copy" else 0
    fit = M.fit_exponential_decay(g, start=start)
    rows = [{"metric": f"grad_r2_{stage}", "value": fit["r2"], "n": fit["n"]},
            {"metric": f"grad_slope_{stage}", "value": fit["slope"], "n": fit["n"]},
            {"metric": f"logf_mean_{stage}", "value": logf, "n": len(x)}]
    ks = np.unique(np.linspace(0, len(g) - 1, PROFILE_POINTS).round().astype(int))
    g0 = float(g[start]) if float(g[start]) > 0 else float("nan")
    rows += [{"metric": f"gradprof_{stage}_k{int(k):04d}", "value": float(g[k]) / g0} for k in ks]
    log.info("%s: gradient fit R2 %.3f slope %.4f, mean log f %.4f", stage, fit["r2"], fit["slope"], logf)
    return rows


def train(cfg, task: Task, rnn: nn.Module, head: nn.Module, gen: torch.Generator) -> list[dict]:
    params = list(rnn.parameters()) + list(head.parameters())
    opt = torch.optim.Adam(params, lr=cfg.lr)
    xd, yd = task.x_test[:cfg.diag_batch], task.y_test[:cfg.diag_batch]
    rows = diagnose(task, rnn, head, xd, yd, "init")
    early = max(1, round(cfg.early_frac * cfg.steps))
    evals = {round(cfg.steps * j / cfg.n_evals) for j in range(1, cfg.n_evals + 1)}
    t0 = time.perf_counter()
    for step in range(1, cfg.steps + 1):
        idx = torch.randint(0, len(task.y_train), (cfg.batch,), generator=gen)
        loss = task_loss(task, head, rnn(task.x_train[idx]), task.y_train[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(params, cfg.clip)
        opt.step()
        if not torch.isfinite(loss):
            raise FloatingPointError(f"loss is {float(loss)} at step {step}")
        if step == early:
            rows += diagnose(task, rnn, head, xd, yd, "early")
        if step in evals:
            name, value = evaluate(task, rnn, head)
            rows.append({"metric": f"curve_{name}_s{step:06d}", "value": value, "n": len(task.y_test)})
            log.info("step %d: train loss %.4f, %s %.4f", step, float(loss.detach()), name, value)
    train_s = time.perf_counter() - t0
    rows += diagnose(task, rnn, head, xd, yd, "late")
    name, value = evaluate(task, rnn, head)
    rows += [{"metric": name, "value": value, "n": len(task.y_test)}, {"metric": "train_s", "value": train_s}]
    return rows
