"""Configuration of one run: one task at one sequence length, one RNN (method), one seed.

Defaults are the full profile (ours: the paper's training settings are not readable here; sizes follow
the long-dependency literature: 128 units, Adam 1e-3, gradient clipping 1). ``QUICK`` shrinks models,
data and training for 2 CPU cores; ``SMOKE`` makes a run take seconds.
"""

from __future__ import annotations

from dataclasses import dataclass

from common.config import BaseConfig, ConfigError
from papers.rnn_timescale.data import TASKS, UCR_DATASETS

METHOD_NAMES = ("lstm", "gru", "chrono_lstm", "uniform_lstm", "ur_lstm", "ts_lstm", "ts_gru")


@dataclass(frozen=True)
class Config(BaseConfig):
    task: str = "adding"
    """adding | copy | sfmnist (pixel-wise sequential Fashion-MNIST) | ucr (UCR classification)."""
    seq_len: int = 500
    """Sequence length of the synthetic tasks (adding, copy); sfmnist / ucr lengths follow pool / ucr_stride."""
    method: str = "ts_lstm"
    """lstm | gru (torch.nn, default init) | chrono_lstm | uniform_lstm | ur_lstm (time-scale init
    baselines) | ts_lstm | ts_gru (the proposed gate, method.py)."""
    hidden: int = 128
    """Hidden units of the (single-layer) RNN."""
    steps: int = 10000
    """Adam steps."""
    batch: int = 64
    """Minibatch size."""
    lr: float = 1e-3
    """Adam learning rate."""
    clip: float = 1.0
    """Gradient-norm clipping."""
    n_train: int = 60000
    """Training examples (synthetic: pool size; sfmnist: random subset of the 60,000)."""
    n_test: int = 10000
    """Test examples (synthetic: fresh draws; sfmnist: random subset of the 10,000; ucr: ignored)."""
    pool: int = 1
    """sfmnist: average-pool the 28 x 28 image by this factor; (28 / pool)^2 steps."""
    ucr_name: str = "Trace"
    """ucr: dataset name."""
    ucr_stride: int = 1
    """ucr: block-average the series by this factor."""
    ts_power: float = 2.0
    """Power p of the proposed gate f = 1 - (1 - sigmoid(z))^p (ours)."""
    chrono_tmax: int = 0
    """chrono_lstm: T_max of the bias distribution; 0 = the sequence length (Tallec & Ollivier's choice
    for tasks with dependencies up to the whole sequence)."""
    n_evals: int = 10
    """Test evaluations along training (the learning curve)."""
    early_frac: float = 0.05
    """The 'early in training' gradient diagnostic is taken after this fraction of the steps."""
    diag_batch: int = 64
    """Examples in the gradient diagnostic (from the test set)."""

    def validate(self) -> None:
        if self.method not in METHOD_NAMES:
            raise ConfigError(f"method must be one of {', '.join(METHOD_NAMES)}, got {self.method!r}")
        if self.task not in TASKS:
            raise ConfigError(f"task must be one of {', '.join(TASKS)}, got {self.task!r}")
        if self.task == "ucr" and self.ucr_name not in UCR_DATASETS:
            raise ConfigError(f"ucr_name must be one of {', '.join(UCR_DATASETS)}, got {self.ucr_name!r}")
        if self.task in ("adding", "copy") and self.seq_len < (21 if self.task == "copy" else 2):
            raise ConfigError(f"seq_len={self.seq_len} is too short for {self.task}")
        if min(self.hidden, self.steps, self.batch, self.n_train, self.n_test, self.n_evals, self.diag_batch,
               self.pool, self.ucr_stride) < 1:
            raise ConfigError("hidden, steps, batch, n_train, n_test, n_evals, diag_batch, pool, ucr_stride must be >= 1")
        if self.batch > self.n_train:
            raise ConfigError(f"batch={self.batch} exceeds n_train={self.n_train}")
        if not 0.0 < self.early_frac < 1.0 or self.ts_power < 1.0 or self.lr <= 0 or self.clip <= 0:
            raise ConfigError("need 0 < early_frac < 1, ts_power >= 1, lr > 0, clip > 0")


QUICK = {"threads": 1, "hidden": 32, "batch": 64, "lr": 3e-3, "n_train": 10000, "n_test": 500}
SMOKE = {"threads": 1, "hidden": 8, "steps": 6, "batch": 8, "n_train": 32, "n_test": 16, "n_evals": 2,
         "diag_batch": 8, "seq_len": 24}
