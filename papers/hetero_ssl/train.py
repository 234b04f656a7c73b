"""Meta-training and evaluation of the meta-learned models (the proposed network and the meta-learning
baselines share this loop: Adam on the loss of the unlabelled instances' estimates, the checkpoint with the
lowest meta-validation loss kept)."""

from __future__ import annotations

import copy

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from papers.hetero_ssl.data import Task, TaskSource


def task_tensors(tasks: list[Task], problem: str, n_way: int) -> tuple[Tensor, Tensor, Tensor]:
    """x (B, N_L + N_U, D) labelled first, y_l (B, N_L, L) one-hot or target, y_u (B, N_U) of tasks of one shape."""
    x = torch.as_tensor(np.stack([np.concatenate([t.x_l, t.x_u]) for t in tasks]))
    yl = torch.as_tensor(np.stack([t.y_l for t in tasks]))
    yu = torch.as_tensor(np.stack([t.y_u for t in tasks]))
    yl = F.one_hot(yl, n_way).float() if problem == "classification" else yl.float().unsqueeze(-1)
    return x, yl, yu


def task_loss(out: Tensor, y_u: Tensor, problem: str) -> Tensor:
    """Mean cross-entropy (classification) or squared error (regression) of the unlabelled estimates."""
    if problem == "classification":
        return F.cross_entropy(out.reshape(-1, out.shape[-1]), y_u.reshape(-1))
    return ((out.squeeze(-1) - y_u) ** 2).mean()


def predict(model: nn.Module, task: Task, problem: str, n_way: int) -> np.ndarray:
    """Class labels or values of a task's unlabelled instances."""
    model.eval()
    x, yl, _ = task_tensors([task], problem, n_way)
    with torch.set_grad_enabled(isinstance(getattr(model, "steps", None), int)):   # MAML adapts with gradients
        out = model(x, yl)[0].detach()
    return out.argmax(-1).numpy() if problem == "classification" else out.squeeze(-1).numpy()


def validation_loss(model: nn.Module, tasks: list[Task], problem: str, n_way: int) -> float:
    model.eval()
    losses = []
    for t in tasks:
        x, yl, yu = task_tensors([t], problem, n_way)
        with torch.set_grad_enabled(isinstance(getattr(model, "steps", None), int)):
            losses.append(float(task_loss(model(x, yl), yu, problem).detach()))
    return float(np.mean(losses))


def meta_train(model: nn.Module, source: TaskSource, val_tasks: list[Task], cfg, seed: int,
               lab_range: tuple[int, int]) -> tuple[nn.Module, dict]:
    """Adam on the query loss of batches of tasks (labelled count drawn per step in ``lab_range``)."""
    rng = np.random.default_rng(seed)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    best, best_state, history = float("inf"), copy.deepcopy(model.state_dict()), []
    for step in range(1, cfg.meta_steps + 1):
        model.train()
        n_lab = int(rng.integers(lab_range[0], lab_range[1] + 1))
        x, yl, yu = task_tensors(source.batch(rng, cfg.meta_batch, (cfg.d_min, cfg.d_max), n_lab), cfg.problem,
                                 cfg.n_way)
        loss = task_loss(model(x, yl), yu, cfg.problem)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 10.0)
        opt.step()
        if step % cfg.val_every == 0 or step == cfg.meta_steps:
            v = validation_loss(model, val_tasks, cfg.problem, cfg.n_way)
            history.append((step, v))
            if v < best:
                best, best_state = v, copy.deepcopy(model.state_dict())
    model.load_state_dict(best_state)
    return model, {"best_val_loss": best, "history": history}
