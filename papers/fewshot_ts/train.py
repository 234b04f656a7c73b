"""Training loops shared by the proposed method and the neural baselines.

- ``meta_train``: episodic training over the meta-training tasks (proposed, no_attention, MAML) or
  plain next-step training on batches of series pooled over all meta-training tasks (pooled LSTM,
  whose model ignores the support set); model selection by the validation tasks' next-step error.
- ``maml_loss`` / ``maml_adapt``: MAML (Finn et al. 2017), second order, SGD inner loop on the
  support series' next-step error.
- ``train_on_support``: Adam on the support series' next-step error (per-task LSTM from scratch,
  fine-tuning of the pooled LSTM).
"""

from __future__ import annotations

import copy

import numpy as np
import torch
from torch.func import functional_call

from common.runtime import derive_seed
from papers.fewshot_ts import method as M
from papers.fewshot_ts.data import Task, sample_episodes


def _t(x: np.ndarray) -> torch.Tensor:
    return torch.as_tensor(x, dtype=torch.float32)


def mse_next(model, series: torch.Tensor, params=None) -> torch.Tensor:
    """Next-step squared error of ``model`` over every step of ``series`` (N, T), support ignored."""
    pred = model(None, series[:, :-1]) if params is None else functional_call(model, params, (None, series[:, :-1]))
    return (pred - series[:, 1:]).pow(2).mean()


def maml_adapt(model, support: torch.Tensor, steps: int, lr: float, create_graph: bool) -> dict:
    """Inner loop: ``steps`` SGD steps from the meta-learned initialisation on the support series."""
    params = dict(model.named_parameters())
    for _ in range(steps):
        loss = mse_next(model, support, params)
        grads = torch.autograd.grad(loss, list(params.values()), create_graph=create_graph)
        params = {k: p - lr * g for (k, p), g in zip(params.items(), grads)}
    return params


def maml_loss(model, support: torch.Tensor, query: torch.Tensor, steps: int, lr: float) -> torch.Tensor:
    """MAML objective of one task: the query series' next-step error after adapting on the support."""
    return mse_next(model, query, maml_adapt(model, support, steps, lr, create_graph=True))


def maml_adapted_copy(model, support: torch.Tensor, steps: int, lr: float):
    with torch.enable_grad():
        params = maml_adapt(model, support, steps, lr, create_graph=False)
    adapted = copy.deepcopy(model)
    adapted.load_state_dict({k: v.detach() for k, v in params.items()}, strict=False)
    return adapted


def train_on_support(model, support: torch.Tensor, steps: int, lr: float):
    """Adam on the support series' next-step error (in place); returns the model."""
    if steps == 0:
        return model
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    with torch.enable_grad():
        for _ in range(steps):
            opt.zero_grad()
            mse_next(model, support).backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
    return model


def validation_error(predict, tasks: list[Task], episodes, sizes, horizon: int) -> float:
    """Mean next-step MSE on the forecast part of the validation query series, over support sizes."""
    errs = []
    for ep in episodes:
        t = tasks[ep.task]
        q = _t(t.series[ep.query])
        for n in sizes:
            nxt, _ = predict(_t(t.series[ep.support[:n]]), q, t.context, 1)
            errs.append(float((nxt - q[:, t.context:]).pow(2).mean()))
    return float(np.mean(errs))


def meta_train(model, loss_fn, predict, train_tasks: list[Task], val_tasks: list[Task], cfg, seed: int,
               log=None) -> dict:
    """Adam on ``loss_fn(model, support, query)`` over random training tasks; returns the state with
    the lowest validation error (checked every ``eval_every`` steps and at the end)."""
    rng = np.random.default_rng(derive_seed(seed, "meta_batches"))
    sizes = [n for n in cfg.n_support if n <= cfg.train_support_max] or [cfg.train_support_max]
    val_eps = sample_episodes(val_tasks, cfg.val_episodes, max(sizes), cfg.n_query, derive_seed(seed, "val_episodes"))
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    best, best_state, history = np.inf, copy.deepcopy(model.state_dict()), []
    for step in range(1, cfg.meta_steps + 1):
        task = train_tasks[rng.integers(len(train_tasks))]
        n_sup = int(rng.integers(1, cfg.train_support_max + 1))
        idx = rng.permutation(len(task.series))[:n_sup + cfg.train_query]
        support, query = _t(task.series[idx[:n_sup]]), _t(task.series[idx[n_sup:]])
        opt.zero_grad()
        loss = loss_fn(model, support, query)
        loss.backward()
        loss = loss.detach()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if step % cfg.eval_every == 0 or step == cfg.meta_steps:
            model.eval()
            v = validation_error(lambda s, q, t0, h: predict(model, s, q, t0, h), val_tasks, val_eps, sizes,
                                 cfg.horizon)
            model.train()
            history.append((step, v))
            if v < best:
                best, best_state = v, copy.deepcopy(model.state_dict())
            if log is not None:
                log.info("step %d: train loss %.4f, validation next-step MSE %.4f", step, loss.item(), v)
    model.load_state_dict(best_state)
    return {"best_val_mse": best, "history": history}


def attention_loss(model, support, query):
    return M.next_step_loss(model, support, query)
