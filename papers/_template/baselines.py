"""The competitors, under the same protocol as the method, and the registry ``METHODS``.

Every entry maps a method name to ``fit(x_train, y_train, cfg) -> predict(x) -> labels``; ``run.py``
looks methods up here, so adding a method is one function and one registry line.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch
from sklearn.neighbors import NearestCentroid

from papers._template import method as M

Predictor = Callable[[np.ndarray], np.ndarray]


def softmax_regression(x: np.ndarray, y: np.ndarray, cfg) -> Predictor:
    """The method (method.py), fitted in float64 for an exact optimum."""
    model = M.fit_softmax_regression(torch.as_tensor(x, dtype=torch.float64), torch.as_tensor(y),
                                     int(y.max()) + 1, cfg.l2, cfg.tol, cfg.max_iter)
    return lambda xq: M.predict(model, torch.as_tensor(xq, dtype=torch.float64)).numpy()


def nearest_centroid(x: np.ndarray, y: np.ndarray, cfg) -> Predictor:
    """Nearest class mean (scikit-learn's NearestCentroid, Euclidean)."""
    return NearestCentroid().fit(x, y).predict


METHODS: dict[str, Callable[..., Predictor]] = {
    "softmax": softmax_regression,
    "nearest_centroid": nearest_centroid,
}
