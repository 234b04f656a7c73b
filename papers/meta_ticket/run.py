"""One cell of a Meta-ticket table: meta-train one method on one setting, meta-test it, return rows.

    python -m papers.meta_ticket.run --profile smoke --method meta_ticket --width_factor 2
    python -m papers.meta_ticket.run --table t1_omniglot_1shot --profile quick

Rows: ``test_acc_pct`` (classification) or ``test_mse`` (sinusoid), mean over the evaluation
episodes, with ``test_ci95_*`` (normal 95% half-width over episodes); ``meta_train_query_*`` (query
metric over the last tenth of meta-training); ``n_params``; ``sparsity_pct`` (Meta-ticket: fraction
of pruned weights); ``feature_cka_l<i>`` (linear CKA between each hidden block's features before and
after inner adaptation, averaged over episodes: lower = more task-specific feature change);
``meta_train_time_s``; the learning curve ``curve_<metric>_it<N>`` (fixed curve episodes of the meta-test
classes, their own seed stream) and ``curve_train_<metric>_it<N>`` (meta-train query metric since the
previous point) at ``curve_points`` evenly spaced iterations.
"""

from __future__ import annotations

import ctypes
import functools
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch import nn

from common.meta.episodes import mean_ci95
from common.runtime import derive_seed, paper_logger, setup
from papers.meta_ticket import data as D
from papers.meta_ticket.baselines import build_learner
from papers.meta_ticket.config import Config
from papers.meta_ticket.method import MetaTicket, accuracy
from papers.meta_ticket.models import SinusoidMLP, build_image_model
from papers.meta_ticket.train import TaskPool, meta_test, meta_train

SLUG = "meta_ticket"
log = paper_logger(SLUG)


@dataclass
class Problem:
    """What a cell meta-trains on and how it is scored."""

    model: nn.Module
    loss_fn: Callable
    metric: Callable                                   # (output, target) -> float, per task
    sample: Callable[[np.random.Generator, int], list]  # meta-training tasks
    test_tasks: list                                   # fixed meta-test tasks
    curve_tasks: list                                  # fixed learning-curve tasks (meta-test classes)
    unit: str                                          # metric suffix: "pct" or "mse"
    scale: float                                       # 100 for accuracy (%), 1 for MSE


def sinusoid_problem(cfg: Config, device) -> Problem:
    def mse(out, y):
        return float(nn.functional.mse_loss(out, y))

    def sample(rng, n):
        return D.sinusoid_tasks(rng, n, cfg.k_shot, device=device)

    test_rng = np.random.default_rng(derive_seed(cfg.seed, "test_tasks"))
    test = D.sinusoid_tasks(test_rng, cfg.eval_episodes, cfg.k_shot, device=device)
    curve_rng = np.random.default_rng(derive_seed(cfg.seed, "curve_tasks"))
    curve = D.sinusoid_tasks(curve_rng, cfg.curve_episodes, cfg.k_shot, device=device) if cfg.curve_points else []
    return Problem(SinusoidMLP(int(cfg.sin_hidden * cfg.width_factor)), nn.MSELoss(), mse, sample, test, curve,
                   "mse", 1.0)


@functools.lru_cache(maxsize=2)
def _image_meta(dataset: str, size: int | None, rotations: bool):
    """Meta-train / meta-test splits, read once per process (a worker of EXECUTOR=local runs many cells;
    cells index the splits and never modify them)."""
    return D.load_image_meta(dataset, size, rotations)


def image_problem(cfg: Config, device) -> Problem:
    train, test = _image_meta(cfg.dataset, cfg.image_size or None, cfg.rotations)
    if cfg.eval_dataset:   # cross-domain: meta-train on `dataset`, meta-test on another dataset's test classes
        test = D.load_eval_split(cfg.eval_dataset, cfg.image_size or None, int(train.y.max()) + 1)
        if test.image_shape != train.image_shape:
            raise ValueError(f"eval_dataset {cfg.eval_dataset} has images {test.image_shape}, meta-train "
                             f"{cfg.dataset} {train.image_shape}: set image_size so that they match")
    q = cfg.q_query or cfg.k_shot
    train_sampler = D.make_sampler(train, cfg.n_way, cfg.k_shot, q)
    test_sampler = D.make_sampler(test, cfg.n_way, cfg.k_shot, q)
    model = build_image_model(cfg.arch, train.image_shape, cfg.n_way, cfg.width_factor, cfg.wrn_widen, cfg.hidden_sizes)

    def sample(rng, n):
        return [D.episode_tensors(train, train_sampler.sample(rng), device) for _ in range(n)]

    episodes = test_sampler.fixed_episodes(cfg.eval_episodes, seed=derive_seed(cfg.seed, "test_tasks"))
    tasks = [D.episode_tensors(test, e, device) for e in episodes]
    curve = [D.episode_tensors(test, e, device) for e in
             test_sampler.fixed_episodes(cfg.curve_episodes, seed=derive_seed(cfg.seed, "curve_tasks"))] \
        if cfg.curve_points and cfg.curve_episodes else []
    return Problem(model, nn.CrossEntropyLoss(), accuracy, sample, tasks, curve, "pct", 100.0)


def random_mask_control(cfg: Config, learner: MetaTicket, prob: Problem, name: str, pool: TaskPool) -> list[dict]:
    """Rows of method ``<method>_random_mask``: the meta-trained Meta-ticket with every mask replaced by a
    random one of the same per-layer sparsity, on the same weights and the same test tasks (the first
    ``control_episodes`` of them)."""
    control = learner.with_random_masks(torch.Generator().manual_seed(derive_seed(cfg.seed, "random_mask")))
    tasks = prob.test_tasks[:cfg.control_episodes] if cfg.control_episodes else prob.test_tasks
    vals, _ = meta_test(control, tasks, prob.loss_fn, prob.metric, cfg.inner_lr, cfg.test_steps, 0, pool)
    m, ci = mean_ci95(prob.scale * vals)
    method = f"{cfg.method}_random_mask"
    return [{"method": method, "metric": f"test_{name}", "value": m, "n": len(vals)},
            {"method": method, "metric": f"test_ci95_{prob.unit}", "value": ci, "n": len(vals)},
            {"method": method, "metric": "sparsity_pct", "value": 100 * control.overall_sparsity()}]


def _keep_freed_memory() -> None:
    """Execution only: keep freed heap memory in the process (glibc mallopt) instead of returning it to the OS
    and page-faulting it back, which the megabyte-sized weight tensors of a width-4 MLP did every outer step
    (23 million minor page faults in one quick run at baeda2b); arithmetic is unchanged. A no-op off glibc."""
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(-3, 1 << 30)           # M_MMAP_THRESHOLD: large tensors from the heap, not fresh mmaps
        libc.mallopt(-1, 2**31 - 1)         # M_TRIM_THRESHOLD: do not give the heap top back after each step
    except (OSError, AttributeError):
        pass


def run(cfg: Config, workdir: Path | None = None) -> list[dict]:
    cfg.validate()
    _keep_freed_memory()
    device = setup(cfg)
    # named seed streams: every random choice of a cell changes with its seed, independently
    generator = torch.Generator().manual_seed(derive_seed(cfg.seed, "weights"))  # Meta-ticket's weights and scores
    torch.manual_seed(derive_seed(cfg.seed, "init"))       # the network's initialisation (MAML family: its start)
    prob = sinusoid_problem(cfg, device) if cfg.dataset == "sinusoid" else image_problem(cfg, device)
    learner = build_learner(cfg, prob.model, generator).to(device)
    checkpoint = workdir / "checkpoint.pt" if workdir else None
    train_rng = np.random.default_rng(derive_seed(cfg.seed, "train_tasks"))
    pool = TaskPool(cfg.task_workers)
    info = meta_train(cfg, learner, prob.sample, prob.loss_fn, prob.metric, train_rng, checkpoint, pool,
                      prob.curve_tasks)
    vals, cka = meta_test(learner, prob.test_tasks, prob.loss_fn, prob.metric, cfg.inner_lr, cfg.test_steps,
                          cfg.feature_episodes, pool)
    m, ci = mean_ci95(prob.scale * vals)
    name = "acc_pct" if prob.unit == "pct" else "mse"
    rows = [{"metric": f"test_{name}", "value": m, "n": len(vals)},
            {"metric": f"test_ci95_{prob.unit}", "value": ci, "n": len(vals)},
            {"metric": f"meta_train_query_{name}", "value": prob.scale * info["train_metric"]}]
    for it, val, train_val in info["curve"]:
        rows += [{"metric": f"curve_{name}_it{it:05d}", "value": prob.scale * val, "n": len(prob.curve_tasks)},
                 {"metric": f"curve_train_{name}_it{it:05d}", "value": prob.scale * train_val}]
    if prob.unit == "pct":
        rows.append({"metric": "n_params", "value": float(sum(p.numel() for p in prob.model.parameters()))})
    if cka is not None:
        rows += [{"metric": f"feature_cka_l{i + 1}", "value": float(v), "n": min(cfg.feature_episodes, cfg.eval_episodes)}
                 for i, v in enumerate(cka)]
    if isinstance(learner, MetaTicket):
        rows.append({"metric": "sparsity_pct", "value": 100 * learner.overall_sparsity()})
        rows += random_mask_control(cfg, learner, prob, name, pool)
    pool.close()
    rows.append({"metric": "meta_train_time_s", "value": info["time_s"]})
    log.info("%s: test %s %.4f ± %.4f over %d tasks", cfg.method, name, m, ci, len(vals))
    if cfg.eval_dataset:   # cross-domain cells are named source->target
        rows = [{**r, "dataset": f"{cfg.dataset}->{cfg.eval_dataset}"} for r in rows]
    if checkpoint is not None and checkpoint.exists():
        checkpoint.unlink()
    return rows


if __name__ == "__main__":
    from common.cli import paper_main

    sys.exit(paper_main(SLUG))
