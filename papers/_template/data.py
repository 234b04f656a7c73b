"""The template paper's data: scikit-learn's digits (1,797 8x8 images, bundled, no download),
scaled to [0, 1] and split into a stratified training subset and a fixed-size test set."""

from __future__ import annotations

import numpy as np
from sklearn.model_selection import train_test_split

from common.config import ConfigError
from common.data import load_digits


def load_split(train_frac: float, test_frac: float, seed: int):
    """(x_train, y_train, x_test, y_test). The test set is drawn first with ``seed``, so the
    training fraction changes the training set only."""
    ds = load_digits()
    x = ds.x.reshape(len(ds.x), -1).astype(np.float64) / 16.0
    y = np.asarray(ds.y)
    if train_frac + test_frac > 1.0:
        raise ConfigError(f"train_frac + test_frac = {train_frac + test_frac:g} > 1: the sets would overlap")
    x_pool, x_te, y_pool, y_te = train_test_split(x, y, test_size=test_frac, stratify=y, random_state=seed)
    n_train = int(round(train_frac * len(y)))
    if n_train < len(np.unique(y)):
        raise ConfigError(f"train_frac={train_frac:g} gives {n_train} training images, fewer than the 10 classes")
    if n_train < len(y_pool):
        x_pool, _, y_pool, _ = train_test_split(x_pool, y_pool, train_size=n_train, stratify=y_pool,
                                                random_state=seed)
    return x_pool, y_pool, x_te, y_te
