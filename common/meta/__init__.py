"""Shared parts of the meta-learning-with-closed-form-adaptation papers (meta_rdre, meta_pu,
meta_ood, meta_occ, gp_calib, fewshot_ts, ...): infrastructure only, no paper's contribution.

- :mod:`common.meta.closed_form`: differentiable batched closed-form solvers (SPD solve,
  weighted ridge regression, least-squares relative density ratio (RuLSIF form), Gaussian fit)
  and the squared-loss criteria that go with them.
- :mod:`common.meta.encoders`: permutation-invariant dataset (set) encoders and MLPs, with masks
  for sets of different sizes.
- :mod:`common.meta.tasks`: task/episode sources over collections of real datasets: pairs of
  densities built as class mixtures of a labelled pool (density-ratio / dataset-comparison
  tasks) and contaminated tasks of normal and anomalous rows (outlier-detection tasks),
  with deterministic fixed test tasks.
"""

from common.meta.closed_form import (
    gaussian_fit,
    pearson_divergence,
    relative_density_ratio_closed_form,
    ridge_regression_closed_form,
    rulsif_squared_loss,
    solve_spd,
)
from common.meta.encoders import DeepSetEncoder, masked_mean, mlp
from common.meta.tasks import (
    ContaminatedTaskSource,
    DensityPairTask,
    LabelledPool,
    MixturePairTaskSource,
    OutlierTask,
    TaskError,
    stack_tasks,
)

__all__ = [
    "solve_spd", "ridge_regression_closed_form", "relative_density_ratio_closed_form", "rulsif_squared_loss",
    "pearson_divergence", "gaussian_fit", "DeepSetEncoder", "masked_mean", "mlp", "LabelledPool",
    "MixturePairTaskSource", "ContaminatedTaskSource", "DensityPairTask", "OutlierTask", "TaskError",
    "stack_tasks",
]
