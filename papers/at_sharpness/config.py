"""Configuration of one run: one model adversarially trained at one perturbation radius, one seed.

Two kinds of run share this dataclass (the method picks the kind, see ``baselines.METHODS``):

- logistic regression (``adversarial``: the closed-form adversarial loss, Eq. 1 of method.py;
  ``random_noise``: the same radius in random directions, our control) on a binary task, eps given
  as ``eps_frac`` of the task's collapse radius ||mu_+ - mu_-|| / 2, fitted to its optimum by
  Newton's method;
- a deep network (``pgd_at``: PGD adversarial training with L2 perturbations of radius ``eps`` in
  pixel units of images in [0, 1]), sharpness by power iteration on Hessian-vector products.

Defaults are the full profile (ResNet-18 on CIFAR-10, reconstructed: the paper's training recipe
could not be read; standard PGD-AT practice, Madry et al. / Rice et al.); ``QUICK`` is the CPU
profile (a small CNN on a Fashion-MNIST subset); ``SMOKE`` makes a run take seconds.
"""

from __future__ import annotations

from dataclasses import dataclass

from common.config import BaseConfig, ConfigError

LR_METHODS = ("adversarial", "random_noise")
DEEP_METHODS = ("pgd_at",)
METHOD_NAMES = LR_METHODS + DEEP_METHODS
MODELS = ("small_cnn", "resnet18")


@dataclass(frozen=True)
class Config(BaseConfig):
    dataset: str = "cifar10"
    """Binary task for logistic regression (data.BINARY_DATASETS) or image set of the deep case
    (fashion_mnist | cifar10)."""
    method: str = "pgd_at"
    """adversarial (closed-form adversarial LR) | random_noise (LR on inputs moved eps in random
    directions) | pgd_at (deep network, PGD adversarial training)."""

    # ---- logistic regression
    eps_frac: float = 0.4
    """LR: perturbation radius as a fraction of the task's collapse radius ||mu_+ - mu_-|| / 2
    (at 1 the adversarial optimum is w = 0); must be in [0, 1)."""
    n_train: int = 0
    """LR: training examples (stratified subsample; 0 = the whole training split)."""
    pool: int = 1
    """LR: average-pool the 28x28 image pairs over pool x pool blocks (1 = raw 784 pixels; 2 = 196)."""
    test_frac: float = 0.3
    """LR: test fraction for tasks without an official test split."""
    l2: float = 1e-3
    """LR: L2 penalty (l2 / 2) ||w||^2 on the weights (not the bias), the same for every eps; keeps the
    optimum finite on separable data."""
    tol: float = 1e-9
    """LR: Newton stops when the gradient's L2 norm is below this."""
    max_newton: int = 200
    """LR: Newton iteration cap (a run that hits it without reaching tol fails)."""
    noise_draws: int = 4
    """LR random_noise: random directions drawn per training example."""
    pgd_check_steps: int = 10
    """LR: PGD steps of the check that the closed-form inner maximum equals PGD's."""

    # ---- deep case
    model: str = "resnet18"
    """small_cnn | resnet18 (CIFAR variant: 3x3 stem, no max-pool)."""
    eps: float = 0.5
    """Deep: L2 radius of the PGD perturbations (pixel units, images in [0, 1])."""
    train_subset: int = 0
    """Deep: training images (stratified subsample; 0 = all)."""
    epochs: int = 100
    """Deep: training epochs (SGD, momentum 0.9, step decay x0.1 at 50% and 75% of training)."""
    batch_size: int = 128
    """Deep: minibatch size."""
    lr: float = 0.1
    """Deep: SGD learning rate."""
    weight_decay: float = 5e-4
    """Deep: SGD weight decay."""
    train_pgd_steps: int = 10
    """Deep: PGD steps of the inner maximisation during training (step 2.5 eps / steps)."""
    eval_pgd_steps: int = 20
    """Deep: PGD steps for robust accuracy and for the adversarial examples of the Hessian batch."""
    hessian_batch: int = 1000
    """Deep: training images of the fixed batch on which the Hessian is measured."""
    power_iters: int = 100
    """Deep: power-iteration cap (stops earlier at relative change < 1e-4)."""
    power_rtol: float = 1e-4
    """Deep: power iteration stops when the Rayleigh quotient changes by less than this (relative)."""
    test_subset: int = 2000
    """Deep: test images for clean and robust accuracy (0 = all)."""
    fn_directions: int = 5
    """Deep: random filter-normalised directions for the landscape sharpness (0 = skip)."""
    fn_alpha: float = 0.5
    """Deep: step along each filter-normalised direction."""

    def validate(self) -> None:
        if self.method not in METHOD_NAMES:
            raise ConfigError(f"method must be one of {', '.join(METHOD_NAMES)}, got {self.method!r}")
        if not 0.0 <= self.eps_frac < 1.0:
            raise ConfigError(f"eps_frac={self.eps_frac}: must be in [0, 1); at or beyond the collapse radius the "
                              "adversarial optimum is w = 0, where the loss has no Hessian")
        if self.eps < 0:
            raise ConfigError(f"eps={self.eps}: a radius must be >= 0")
        if not 0.0 < self.test_frac < 1.0:
            raise ConfigError(f"test_frac={self.test_frac}: must be in (0, 1)")
        if self.l2 <= 0:
            raise ConfigError(f"l2={self.l2}: must be > 0 (without it the optimum is at infinity on separable data)")
        if self.tol <= 0 or self.max_newton < 1 or self.noise_draws < 1 or self.pgd_check_steps < 1:
            raise ConfigError("tol > 0, max_newton >= 1, noise_draws >= 1 and pgd_check_steps >= 1 are required")
        if self.pool not in (1, 2, 4, 7):
            raise ConfigError(f"pool={self.pool}: must divide 28 (1, 2, 4 or 7)")
        if self.model not in MODELS:
            raise ConfigError(f"model must be one of {', '.join(MODELS)}, got {self.model!r}")
        if min(self.epochs, self.batch_size, self.hessian_batch, self.power_iters) < 1 or self.lr <= 0 \
                or self.power_rtol <= 0:
            raise ConfigError("epochs, batch_size, hessian_batch, power_iters >= 1, lr > 0 and power_rtol > 0 "
                              "are required")
        if min(self.n_train, self.train_subset, self.test_subset, self.fn_directions, self.train_pgd_steps,
               self.eval_pgd_steps, self.weight_decay) < 0:
            raise ConfigError("n_train, train_subset, test_subset, fn_directions, PGD steps and weight_decay "
                              "must be >= 0")


QUICK = {"threads": 1, "deterministic": True, "pool": 2, "model": "small_cnn", "dataset": "fashion_mnist",
         "train_subset": 1500, "epochs": 8, "batch_size": 50, "lr": 0.05, "weight_decay": 0.0,
         "train_pgd_steps": 2, "eval_pgd_steps": 5, "hessian_batch": 200, "power_iters": 50, "power_rtol": 1e-3,
         "test_subset": 500, "fn_directions": 3}
SMOKE = {"epochs": 1, "train_subset": 300, "hessian_batch": 50, "power_iters": 3, "test_subset": 100,
         "fn_directions": 1, "eval_pgd_steps": 2, "pgd_check_steps": 5}
