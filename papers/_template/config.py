"""Configuration of one run of the template paper: one method, one training fraction, one seed.

Defaults are the "paper's" setting (the full profile); ``QUICK`` holds the quick profile's
overrides (none needed here: the template is already CPU-sized); ``SMOKE`` makes a run take a
fraction of a second for the tests.
"""

from __future__ import annotations

from dataclasses import dataclass

from common.config import BaseConfig

METHOD_NAMES = ("softmax", "nearest_centroid")


@dataclass(frozen=True)
class Config(BaseConfig):
    dataset: str = "digits"
    """Dataset (only scikit-learn's digits)."""
    method: str = "softmax"
    """softmax (the method, Eq. 1) | nearest_centroid (baseline)."""
    train_frac: float = 0.1
    """Fraction of the 1,797 images used for training (stratified)."""
    test_frac: float = 0.5
    """Fraction of the images held out as the test set (drawn first, fixed per seed)."""
    l2: float = 1e-3
    """L2 penalty of Eq. 1."""
    tol: float = 1e-6
    """L-BFGS stops when the largest gradient entry is below this."""
    max_iter: int = 500
    """L-BFGS iteration cap."""

    def validate(self) -> None:
        if self.method not in METHOD_NAMES:
            raise ValueError(f"method must be one of {', '.join(METHOD_NAMES)}, got {self.method!r}")
        if not 0.0 < self.train_frac < 1.0 or not 0.0 < self.test_frac < 1.0:
            raise ValueError("train_frac and test_frac must be in (0, 1)")
        if self.l2 < 0 or self.tol <= 0 or self.max_iter < 1:
            raise ValueError("l2 >= 0, tol > 0 and max_iter >= 1 are required")


QUICK = {"threads": 1}
SMOKE = {"max_iter": 50}
