"""Configuration of one run: one method on one random split of one graph.

Defaults are the paper's own setting (the full profile; from the paper as transcribed in the
project brief, BRIEFS §21 [paper]); ``QUICK`` shortens training for 2 CPU cores; ``SMOKE`` makes a
run take seconds for the tests.
"""

from __future__ import annotations

from dataclasses import dataclass

from common.config import BaseConfig
from papers.graph_ssad.data import DATASETS


@dataclass(frozen=True)
class Config(BaseConfig):
    dataset: str = "cora"
    """Graph: cora | citeseer | pubmed | amazon_photo | amazon_computers (the paper's five graphs)."""
    method: str = "proposed"
    """proposed | normal_only | ocsvm | deep_svdd | deep_svdd_auc | deep_sad | nn | gcn | deepwalk_lr | dominant
    | deep_sad_labelled (our variant: Deep SAD on the labelled nodes only)."""
    label_frac: float = 0.05
    """Fraction of all nodes that are labelled (paper: 0.025, 0.05, 0.1)."""
    val_frac: float = 0.1
    """Fraction of all nodes used for validation (paper: 0.1); the rest are test nodes."""
    split: str = "random"
    """How nodes are drawn: 'random' (plain random draw, the paper's protocol; redrawn until the
    labelled, validation and test nodes each hold both classes) or 'stratified' (anomaly rate kept)."""
    hypersphere_bias: bool = False
    """Bias terms in the hypersphere networks (proposed, normal-only, Deep SVDD(+AUC), Deep SAD)."""
    hidden: int = 32
    """Hidden units of the GCN / MLP (paper: 32)."""
    out_dim: int = 32
    """Embedding dimension of the hypersphere methods (paper: 32)."""
    layers: int = 3
    """Layers of the GCN / MLP (paper: 3)."""
    lambdas: tuple[float, ...] = (1.0, 10.0, 100.0, 1000.0, 10000.0)
    """Candidate weights of the AUC term, chosen by validation AUC (paper: 1 ... 10^4)."""
    lr: float = 1e-3
    """Adam learning rate of every neural method (paper: 0.001)."""
    epochs: int = 500
    """Maximum training epochs (paper: 500; 1000 for the Amazon graphs, set in the table)."""
    patience: int = 100
    """Early stopping: epochs without a better validation AUC before stopping (not in the paper)."""
    ocsvm_nus: tuple[float, ...] = (0.01, 0.05, 0.1, 0.2, 0.5)
    """OCSVM nu candidates, chosen by validation AUC."""
    deep_sad_eta: float = 1.0
    """Deep SAD weight of the labelled term (Ruff et al. 2020 default: 1)."""
    deep_sad_eps: float = 1e-6
    """Deep SAD's eps in the inverse distance of labelled anomalies (Ruff et al.'s code: 1e-6)."""
    svdd_center_eps: float = 0.1
    """Deep SVDD / Deep SAD centre guard: coordinates of c closer to 0 than this move to +-it (Ruff et al.'s
    code: 0.1; not used by the proposed method, the normal-only variant or Deep SVDD + AUC)."""
    lr_cs: tuple[float, ...] = (0.01, 0.1, 1.0, 10.0, 100.0)
    """Inverse L2 strengths of the logistic regression on DeepWalk embeddings, chosen by validation AUC."""
    lr_max_iter: int = 2000
    """L-BFGS iterations of that logistic regression (scikit-learn)."""
    deepwalk_dim: int = 128
    """DeepWalk embedding size (Perozzi et al. 2014: 128)."""
    deepwalk_walks: int = 80
    """DeepWalk walks started per node (Perozzi et al. 2014: 80)."""
    deepwalk_length: int = 40
    """DeepWalk walk length (Perozzi et al. 2014: 40)."""
    deepwalk_window: int = 10
    """DeepWalk skip-gram window (Perozzi et al. 2014: 10)."""
    deepwalk_epochs: int = 1
    """Passes of the skip-gram over the walks (Perozzi et al. 2014: one)."""
    dominant_hidden: int = 64
    """DOMINANT hidden units (authors' code: 64)."""
    dominant_epochs: int = 100
    """DOMINANT training epochs (authors' code: 100)."""
    dominant_lr: float = 5e-3
    """DOMINANT Adam learning rate (authors' code: 0.005)."""
    dominant_dropout: float = 0.3
    """DOMINANT dropout (authors' code: 0.3)."""
    dominant_alpha: float = 0.8
    """DOMINANT weight of the attribute error vs the structure error (authors' code: 0.8)."""
    dominant_init_seed: int = -1
    """Seed of DOMINANT's training (-1: the run's ``init`` seed stream, so it varies with the seed like
    every other network). DOMINANT ignores the labels, so its scores do not depend on the split; a
    fixed seed >= 0 makes all splits share one trained model (faster, but the seeds then vary only
    the split)."""
    download: bool = False
    """Download a missing dataset from its pinned GitHub source (also REPRO_DOWNLOAD=1)."""

    def validate(self) -> None:
        if self.dataset not in DATASETS:
            raise ValueError(f"dataset must be one of {', '.join(DATASETS)}; got {self.dataset!r}")
        if self.split not in ("stratified", "random"):
            raise ValueError(f"split must be 'stratified' or 'random'; got {self.split!r}")
        from papers.graph_ssad.baselines import METHODS

        if self.method not in METHODS:
            raise ValueError(f"method must be one of {', '.join(METHODS)}; got {self.method!r}")
        if not 0.0 < self.label_frac < 1.0 or not 0.0 < self.val_frac < 1.0:
            raise ValueError(f"label_frac and val_frac must be in (0, 1); got {self.label_frac}, {self.val_frac}")
        if self.label_frac + self.val_frac >= 1.0:
            raise ValueError(f"label_frac + val_frac must leave test nodes; got {self.label_frac} + {self.val_frac}")
        for name in ("hidden", "out_dim", "layers", "epochs", "patience", "deepwalk_dim", "deepwalk_walks",
                     "deepwalk_length", "deepwalk_window", "deepwalk_epochs", "dominant_hidden", "dominant_epochs",
                     "lr_max_iter"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1; got {getattr(self, name)}")
        if not self.lambdas or any(lam <= 0 for lam in self.lambdas):
            raise ValueError(f"lambdas must be positive (lambda = 0 is method=normal_only); got {self.lambdas}")
        if not self.ocsvm_nus or any(not 0.0 < nu <= 1.0 for nu in self.ocsvm_nus):
            raise ValueError(f"ocsvm_nus must lie in (0, 1]; got {self.ocsvm_nus}")
        if not self.lr_cs or any(c <= 0 for c in self.lr_cs):
            raise ValueError(f"lr_cs must be positive; got {self.lr_cs}")
        if not 0.0 <= self.dominant_alpha <= 1.0:
            raise ValueError(f"dominant_alpha must be in [0, 1]; got {self.dominant_alpha}")
        if self.deep_sad_eps <= 0 or self.svdd_center_eps < 0:
            raise ValueError("deep_sad_eps must be positive and svdd_center_eps non-negative")
        if self.lr <= 0 or self.dominant_lr <= 0:
            raise ValueError("learning rates must be positive")


# Quick profile (2 CPU cores): shorter training budgets; everything else is the paper's. One torch thread:
# the sparse products run in scipy (one thread) anyway, on a shared 2-core machine two torch threads
# spin-waiting for each other made the first cell 25x slower (250 s instead of 10 s), and a fixed thread
# count fixes the summation order of the dense products (the cross-thread drift is stated in the README).
QUICK = {"epochs": 300, "patience": 50, "deepwalk_walks": 10, "threads": 1, "deterministic": True}
# Smoke profile (tests): seconds per run.
SMOKE = {"epochs": 15, "patience": 5, "lambdas": (1.0, 100.0), "deepwalk_walks": 2, "deepwalk_length": 10,
         "deepwalk_dim": 16, "dominant_epochs": 3}
