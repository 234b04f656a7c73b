"""The meta-learning family: infrastructure shared by the meta-learning papers (meta_ticket,
meta_rdre, and the few-shot / closed-form-adaptation papers to come), never a paper's contribution.

One vocabulary: a *task* is one few-shot problem drawn from real data (an *episode* in N-way K-shot
classification); meta-training, validation and meta-test tasks come from disjoint classes or rows;
fixed test tasks are the same for every method; an impossible task request raises
:class:`TaskError` at once (the sweep counts it as bad input).

- :mod:`common.meta.episodes`: class-disjoint splits (``split_classes``, optionally by group such
  as alphabet), the N-way K-shot Q-query ``EpisodeSampler`` (label remapping,
  ``fixed_episodes(n, seed)``), ``mean_ci95`` of a per-task metric, and ``TaskError``.
- :mod:`common.meta.tasks`: task sources over labelled pools for density-ratio / dataset-comparison
  tasks (pairs of class mixtures) and outlier-detection tasks (contaminated sets).
- :mod:`common.meta.closed_form`: differentiable batched closed-form solvers (SPD solve, least-squares
  relative density ratio (RuLSIF form), weighted ridge regression) and the squared-loss criteria that go with them.
- :mod:`common.meta.encoders`: permutation-invariant set encoders and MLPs, with masks for ragged sets.
- :mod:`common.meta.attention`: attention across examples and across attributes of a task grid
  (variable-feature self-attention: one network for any attribute space), its masks.

Names are imported lazily (``from common.meta import TaskError`` does not import torch), so the
sweep can name ``TaskError`` without loading the solvers.
"""

from __future__ import annotations

import importlib

_WHERE = {
    "TaskError": "episodes", "Episode": "episodes", "EpisodeSampler": "episodes", "split_classes": "episodes",
    "mean_ci95": "episodes",
    "LabelledPool": "tasks", "MixturePairTaskSource": "tasks", "ContaminatedTaskSource": "tasks",
    "DensityPairTask": "tasks", "OutlierTask": "tasks", "stack_tasks": "tasks",
    "solve_spd": "closed_form", "weighted_ridge": "closed_form", "relative_density_ratio_closed_form": "closed_form",
    "rulsif_squared_loss": "closed_form", "pearson_divergence": "closed_form",
    "DeepSetEncoder": "encoders", "masked_mean": "encoders", "mlp": "encoders",
    "MultiHeadAttention": "attention", "VariableFeatureSelfAttention": "attention", "column_mask": "attention",
    "example_mask": "attention",
}

__all__ = sorted(_WHERE)


def __getattr__(name: str):
    if name not in _WHERE:
        raise AttributeError(f"module 'common.meta' has no attribute {name!r}")
    return getattr(importlib.import_module(f"common.meta.{_WHERE[name]}"), name)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_WHERE))
