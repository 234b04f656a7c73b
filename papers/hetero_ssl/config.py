"""Configuration of hetero_ssl. Defaults = our full (paper-scale) profile; QUICK = the CPU profile.

Only the abstract and the introduction of the paper could be read, so every number below (task
construction, network sizes, budgets) is our reconstruction, not a value quoted from the paper (README,
"Reconstructed choices"). One run = one (problem type, seed) cell: the meta-learned models are trained once
on the meta-training tables and every method is evaluated on the same tasks of the held-out tables at every
number of labelled instances of ``n_labelled``.
"""

from __future__ import annotations

from dataclasses import dataclass

from common.config import BaseConfig, ConfigError
from papers.hetero_ssl.baselines import METHODS
from papers.hetero_ssl.data import PROBLEMS


@dataclass(frozen=True)
class Config(BaseConfig):
    problem: str = "classification"
    """classification (61 PMLB tables, accuracy) | regression (35 PMLB tables, MSE of the standardised target)."""
    openml_ids: str = ""
    """Comma-separated OpenML dataset ids of this problem type to use instead of the PMLB tables (empty: PMLB)."""
    methods: str = "all"
    """Comma-separated methods (baselines.METHODS of the problem type), or all."""
    n_labelled: str = "1,3,5"
    """Comma-separated numbers of labelled instances: per class (classification) or per task (regression)."""
    n_way: int = 2
    """Classes per classification task (drawn from the table's classes)."""
    n_unlabelled: int = 30
    """Unlabelled instances per task (class-balanced for classification); their labels are estimated and scored."""
    d_min: int = 2
    """Fewest attributes per task (capped by the table's attributes)."""
    d_max: int = 10
    """Most attributes per task (a random subset of the table's attributes, in random order)."""
    n_test_tables: int = 15
    """Held-out meta-test tables (a new split per seed; never seen in meta-training)."""
    n_val_tables: int = 6
    """Meta-validation tables (model selection: the checkpoint with the lowest validation loss)."""
    test_tasks_per_table: int = 20
    """Evaluation tasks per meta-test table (the same tasks for every method and number of labelled instances)."""
    val_tasks_per_table: int = 5
    """Validation tasks per meta-validation table."""
    meta_steps: int = 20000
    """Meta-training steps (Adam) of every meta-learned model."""
    meta_batch: int = 16
    """Tasks per meta-training step (one number of attributes per step)."""
    lr: float = 1e-3
    """Adam learning rate of meta-training."""
    val_every: int = 1000
    """Steps between validation checks."""
    dim: int = 64
    """Cell width of the variable-feature self-attention layers."""
    heads: int = 4
    """Attention heads."""
    layers: int = 3
    """Variable-feature self-attention layers."""
    embed: int = 32
    """Size of the instance embedding in which the head is adapted."""
    head_steps: int = 2
    """Semi-supervised closed-form steps of the head (0 = labelled instances only)."""
    raw_skip: bool = True
    """Append the raw attributes to the embedding in which the head is adapted (ours)."""
    rf_trees: int = 100
    """Trees of the per-task random forest."""
    hidden_2020: int = 32
    """Width of the DeepSets MLPs of the 2020 meta-learner (3-layer MLPs of 32 units, brief)."""
    hidden_padded: int = 64
    """Width of the MLPs of ProtoNet and MAML on padded attributes."""
    maml_steps: int = 5
    """MAML inner SGD steps."""
    maml_lr: float = 0.1
    """MAML inner learning rate."""

    def table_list(self) -> tuple[str, ...] | None:
        """``openml_<id>`` names of ``openml_ids``, or None for the PMLB tables."""
        ids = [s.strip() for s in str(self.openml_ids).split(",") if s.strip()]
        if not ids:
            return None
        if not all(s.isdigit() for s in ids):
            raise ConfigError(f"openml_ids must be comma-separated OpenML dataset ids, got {self.openml_ids!r}")
        return tuple(f"openml_{s}" for s in ids)

    def labelled_list(self) -> list[int]:
        try:
            return sorted(int(s) for s in str(self.n_labelled).split(",") if s.strip())
        except ValueError as e:
            raise ConfigError(f"n_labelled must be comma-separated integers, got {self.n_labelled!r}") from e

    def method_list(self) -> list[str]:
        if self.problem not in PROBLEMS:
            raise ConfigError(f"problem must be one of {', '.join(PROBLEMS)}, got {self.problem!r}")
        if str(self.methods).strip() == "all":
            return list(METHODS[self.problem])
        return [m.strip() for m in str(self.methods).split(",") if m.strip()]

    def validate(self) -> None:
        self.table_list()
        methods = self.method_list()
        bad = [m for m in methods if m not in METHODS[self.problem]]
        if bad or not methods:
            raise ConfigError(f"unknown {self.problem} methods {bad}; valid: {', '.join(METHODS[self.problem])}")
        lab = self.labelled_list()
        least = 1 if self.problem == "classification" else 2
        if not lab or lab[0] < least:
            raise ConfigError(f"every n_labelled must be >= {least} for {self.problem}, got {self.n_labelled!r}")
        if self.problem == "classification" and (self.n_way < 2 or self.n_unlabelled % self.n_way):
            raise ConfigError(f"need n_way >= 2 and n_unlabelled a multiple of n_way, got n_way={self.n_way}, "
                              f"n_unlabelled={self.n_unlabelled}")
        if not 1 <= self.d_min <= self.d_max:
            raise ConfigError(f"need 1 <= d_min <= d_max, got {self.d_min}, {self.d_max}")
        if min(self.n_test_tables, self.n_val_tables, self.test_tasks_per_table, self.val_tasks_per_table,
               self.meta_steps, self.meta_batch, self.val_every, self.n_unlabelled) < 1:
            raise ConfigError("table counts, task counts, meta_steps, meta_batch, val_every and n_unlabelled "
                              "must be >= 1")
        if self.dim % self.heads:
            raise ConfigError(f"dim={self.dim} must be divisible by heads={self.heads}")


QUICK = dict(meta_steps=1000, lr=2e-3, rf_trees=50, meta_batch=8, val_every=200, dim=32, heads=4, layers=2, embed=16,
             test_tasks_per_table=5, val_tasks_per_table=3, maml_steps=3, threads=1)
SMOKE = dict(meta_steps=6, meta_batch=2, val_every=3, dim=8, heads=2, layers=1, embed=4, hidden_2020=8,
             hidden_padded=8, maml_steps=1, test_tasks_per_table=1, val_tasks_per_table=1, n_test_tables=3,
             n_val_tables=2, n_unlabelled=10, n_labelled="1,2", d_max=4, threads=1)
