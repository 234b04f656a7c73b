"""The methods compared, under one protocol, and the registry ``METHODS`` that ``run.py`` looks up.

Each entry maps a method name to ``measure(cfg) -> {metric: value}``:

- ``adversarial``: the paper's subject, linear logistic regression trained on the closed-form
  adversarial loss (Eq. 1) at eps = eps_frac x collapse radius; eps_frac = 0 is standard training,
  the paper's baseline.
- ``random_noise`` (ours, a control for the abstract's "caused by the noise aligned in the
  direction of increasing the loss"): the same radius, directions uniformly random (``noise_draws``
  copies of each example), fitted to its optimum the same way; its Hessian is that of its own
  training loss.
- ``pgd_at``: a deep network trained with PGD-L2 adversarial training at radius eps (eps = 0:
  standard training).
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch

from common.config import ConfigError
from common.runtime import derive_seed, paper_logger
from papers.at_sharpness import method as M
from papers.at_sharpness import train as T
from papers.at_sharpness.data import BINARY_DATASETS, DEEP_DATASETS, load_binary, load_images
from papers.at_sharpness.models import build_model

log = paper_logger("at_sharpness")


def _gen(seed: int, stream: str) -> torch.Generator:
    return torch.Generator().manual_seed(derive_seed(seed, stream))


def _binary_task(cfg):
    if cfg.dataset not in BINARY_DATASETS:
        raise ConfigError(f"method {cfg.method!r} needs a binary task; dataset must be one of "
                          f"{', '.join(BINARY_DATASETS)}, got {cfg.dataset!r}")
    task = load_binary(cfg.dataset, cfg.n_train, cfg.test_frac, derive_seed(cfg.seed, "split"),
                       derive_seed(cfg.seed, "subsample"), cfg.pool)
    t = [torch.as_tensor(a, dtype=torch.float64) for a in (task.x_train, task.y_train, task.x_test, task.y_test)]
    radius = M.collapse_radius(t[0], t[1])
    return (*t, radius)


def _fit(x, y, eps, cfg) -> M.NewtonResult:
    fit = M.fit_newton(x, y, eps, cfg.l2, cfg.tol, cfg.max_newton)
    if not fit.converged:
        raise RuntimeError(f"Newton did not reach ||grad|| <= {cfg.tol:g} in {cfg.max_newton} iterations "
                           f"(last {fit.grad_norm:.3g})")
    return fit


def adversarial_lr(cfg) -> dict[str, float]:
    x, y, xte, yte, radius = _binary_task(cfg)
    eps = cfg.eps_frac * radius
    fit = _fit(x, y, eps, cfg)
    out = T.lr_measurements(fit.theta, x, y, eps, xte, yte, cfg.pgd_check_steps, _gen(cfg.seed, "checks"))
    log.info("%s eps=%.4g (%.2f x radius %.4g): ||grad|| %.2e after %d Newton steps, top eigenvalue %.5g",
             cfg.dataset, eps, cfg.eps_frac, radius, fit.grad_norm, fit.iterations, out["top_eig_train"])
    return {**out, "eps": eps, "collapse_radius": radius, "grad_norm": fit.grad_norm,
            "newton_iters": float(fit.iterations), "n_train": float(len(y)), "dim": float(x.shape[1])}


def random_noise_lr(cfg) -> dict[str, float]:
    x, y, xte, yte, radius = _binary_task(cfg)
    eps = cfg.eps_frac * radius
    xr, yr = T.random_noise_inputs(x, y, eps, cfg.noise_draws, _gen(cfg.seed, "noise"))
    fit = _fit(xr, yr, 0.0, cfg)
    h = M.adversarial_hessian(fit.theta, xr, yr, 0.0)
    w, b = M.split(fit.theta)
    score = yte * (xte @ w + b)
    return {"top_eig_train": float(torch.linalg.eigvalsh(h)[-1]),
            "top_eig_clean": float(torch.linalg.eigvalsh(M.adversarial_hessian(fit.theta, x, y, 0.0))[-1]),
            "test_acc_pct": float((score > 0).double().mean() * 100),
            "test_robust_acc_pct": float((score - eps * w.norm() > 0).double().mean() * 100),
            "w_norm": float(w.norm()), "eps": eps, "collapse_radius": radius, "grad_norm": fit.grad_norm,
            "n_train": float(len(y))}


def pgd_adversarial_training(cfg) -> dict[str, float]:
    if cfg.dataset not in DEEP_DATASETS:
        raise ConfigError(f"method 'pgd_at' needs an image set; dataset must be one of {', '.join(DEEP_DATASETS)}, "
                          f"got {cfg.dataset!r}")
    from common.runtime import resolve_device

    device = resolve_device(cfg.device)
    xtr, ytr = load_images(cfg.dataset, "train")
    xte, yte = load_images(cfg.dataset, "test")
    tr = T.stratified_subset(ytr, cfg.train_subset, derive_seed(cfg.seed, "train_subset"))
    te = T.stratified_subset(yte, cfg.test_subset, derive_seed(cfg.seed, "test_subset"))
    hb = np.random.default_rng(derive_seed(cfg.seed, "hessian_batch")).choice(len(tr), min(cfg.hessian_batch, len(tr)),
                                                                               replace=False)
    x, y = torch.as_tensor(xtr[tr]).to(device), torch.as_tensor(ytr[tr]).to(device)
    xt, yt = torch.as_tensor(xte[te]).to(device), torch.as_tensor(yte[te]).to(device)
    torch.manual_seed(derive_seed(cfg.seed, "init"))
    model = build_model(cfg.model, x.shape[1], x.shape[-1]).to(device)
    losses = T.train_pgd(model, x, y, cfg.eps, cfg.epochs, cfg.batch_size, cfg.lr, cfg.weight_decay,
                         cfg.train_pgd_steps, _gen(cfg.seed, "batch_order"), _gen(cfg.seed, "pgd_train"))
    out = {"train_adv_loss_last_epoch": losses[-1], "test_acc_pct": T.accuracy(model, xt, yt)}
    xt_adv = T.adversarial_examples(model, xt, yt, cfg.eps, cfg.eval_pgd_steps, _gen(cfg.seed, "pgd_test"))
    out["test_robust_acc_pct"] = T.accuracy(model, xt_adv, yt)
    # the fixed Hessian batch: training images, clean and with PGD examples of the trained model
    xh, yh = x[torch.as_tensor(hb).to(device)], y[torch.as_tensor(hb).to(device)]
    xh_adv = T.adversarial_examples(model, xh, yh, cfg.eps, cfg.eval_pgd_steps, _gen(cfg.seed, "pgd_hessian"))
    for name, xb in (("clean", xh), ("adv", xh_adv)):
        s = T.deep_sharpness(model, xb, yh, cfg.power_iters, cfg.power_rtol, cfg.fn_directions, cfg.fn_alpha,
                             _gen(cfg.seed, f"power_{name}"))
        out.update({f"{k}_{name}": v for k, v in s.items()})
    log.info("%s eps=%.3g: test %.1f%%, robust %.1f%%, top eigenvalue clean %.4g adv %.4g", cfg.model, cfg.eps,
             out["test_acc_pct"], out["test_robust_acc_pct"], out["top_eig_clean"], out["top_eig_adv"])
    return out


METHODS: dict[str, Callable[..., dict[str, float]]] = {
    "adversarial": adversarial_lr,
    "random_noise": random_noise_lr,
    "pgd_at": pgd_adversarial_training,
}
