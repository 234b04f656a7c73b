from dataclasses import dataclass

from common.config import BaseConfig


@dataclass(frozen=True)
class Config(BaseConfig):
    dataset: str = "digits"
    """Dataset name (only sklearn digits here)."""
    method: str = "logreg"
    """'logreg' (multinomial logistic regression), 'centroid' (nearest class mean), 'noop' (returns at once) or
    'crash' (raises: a failed cell)."""
    C: float = 1.0
    """Inverse L2 regularisation strength of the logistic regression."""
    train_frac: float = 0.5
    """Fraction of the data used for training (stratified, seeded split)."""
    sleep_s: float = 0.0
    """Seconds to wait inside the run (lets tests interrupt a sweep mid-cell)."""

    def validate(self) -> None:
        if not 0.0 < self.train_frac < 1.0:
            raise ValueError(f"train_frac must be in (0, 1), got {self.train_frac}")
        if self.method not in ("logreg", "centroid", "noop", "crash"):
            raise ValueError(f"method must be 'logreg', 'centroid', 'noop' or 'crash', got {self.method!r}")
        if self.C <= 0:
            raise ValueError(f"C must be > 0, got {self.C}")


QUICK = {"C": 0.5}
SMOKE = {"train_frac": 0.3}
