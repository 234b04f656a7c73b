"""Task (episode) sources over collections of real datasets, for meta-learning with few instances.

Two kinds of task, both drawn from real labelled data:

- :class:`MixturePairTaskSource`: a *pair of densities* (p_A, p_B), each a mixture of the classes
  of a labelled pool with random proportions (a known, controllable shift between two real
  datasets). A task holds few-shot support sets of A and B and query sets of both. Used for
  density-ratio estimation, dataset comparison (same vs shifted pairs), PU learning (A = positive
  class, B = mixture), OOD detection, ...
- :class:`ContaminatedTaskSource`: outlier-detection tasks from normal and anomalous rows of a
  table: a small clean reference set (A) and an unlabelled test set (B) with a given fraction of
  anomalies, whose labels are kept for evaluation.

Meta-training, validation and test tasks use disjoint classes (or disjoint rows): build one
source per split. ``fixed_tasks(n, seed)`` returns the same test tasks on every call, so every
method is evaluated on identical tasks. Impossible settings raise :class:`TaskError` at once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import torch

from common.meta.episodes import TaskError


@dataclass
class LabelledPool:
    """Instances ``x`` (N, D) float32 with integer labels ``y`` (N,), from one named real dataset."""

    x: np.ndarray
    y: np.ndarray
    name: str = "pool"

    def __post_init__(self) -> None:
        self.x = np.asarray(self.x, dtype=np.float32).reshape(len(self.x), -1)
        self.y = np.asarray(self.y).astype(np.int64)
        if len(self.x) != len(self.y):
            raise TaskError(f"{self.name}: {len(self.x)} instances but {len(self.y)} labels")

    def subset_classes(self, classes: Sequence[int]) -> "LabelledPool":
        keep = np.isin(self.y, np.asarray(classes))
        return LabelledPool(self.x[keep], self.y[keep], f"{self.name}[{','.join(map(str, classes))}]")

    def subset_rows(self, idx: np.ndarray, suffix: str = "") -> "LabelledPool":
        return LabelledPool(self.x[idx], self.y[idx], self.name + suffix)


@dataclass
class DensityPairTask:
    """One task: few-shot supports of p_A and p_B, queries of both, and what defines them."""

    support_a: np.ndarray
    support_b: np.ndarray
    query_a: np.ndarray
    query_b: np.ndarray
    info: dict = field(default_factory=dict)


@dataclass
class OutlierTask:
    """A clean reference set (A) and an unlabelled test set (B) with labels (1 = anomaly) kept aside."""

    support_a: np.ndarray
    support_b: np.ndarray
    labels_b: np.ndarray
    info: dict = field(default_factory=dict)


def stack_tasks(tasks: Sequence, fields: Sequence[str], dtype=torch.float32, device="cpu") -> dict:
    """Stack equally sized task arrays into tensors (T, N, D) keyed by field name."""
    out = {}
    for f in fields:
        arrs = [getattr(t, f) for t in tasks]
        shapes = {a.shape for a in arrs}
        if len(shapes) != 1:
            raise TaskError(f"cannot stack field {f!r}: sizes differ across tasks ({sorted(shapes)[:3]})")
        out[f] = torch.as_tensor(np.stack(arrs), dtype=dtype, device=device)
    return out


class MixturePairTaskSource:
    """Pairs of class-mixture densities over one labelled pool (the classes of one split).

    p_A = sum_c pi^A_c p(x | c), p_B = sum_c pi^B_c p(x | c) with the class proportions drawn from a
    symmetric Dirichlet(``concentration``) over ``n_active`` random classes each. ``same_prob``
    is the probability that a task is a null pair (pi^B = pi^A: no shift), which dataset
    comparison needs. Supports and queries are disjoint rows; a draw that would ask a class for
    more rows than it holds is redrawn (rejection), so the class proportions stay as drawn.
    """

    def __init__(self, pool: LabelledPool, n_support_a: int, n_support_b: int, n_query: int,
                 n_active: int = 3, concentration: float = 1.0, same_prob: float = 0.0) -> None:
        self.pool = pool
        self.classes = np.unique(pool.y)
        if n_active < 1 or n_active > len(self.classes):
            raise TaskError(f"{pool.name}: n_active={n_active} classes per mixture but the split has "
                            f"{len(self.classes)} classes ({self.classes.tolist()})")
        for name, v in (("n_support_a", n_support_a), ("n_support_b", n_support_b), ("n_query", n_query)):
            if v < 1:
                raise TaskError(f"{name} must be >= 1, got {v}")
        self.by_class = {int(c): np.flatnonzero(pool.y == c) for c in self.classes}
        need = n_support_a + n_support_b + 2 * n_query
        avail = sorted(len(v) for v in self.by_class.values())
        if need > sum(avail[:n_active]):
            raise TaskError(f"{pool.name}: a task needs {need} instances (n_support_a + n_support_b + 2 n_query) "
                            f"but the {n_active} smallest classes hold only {sum(avail[:n_active])}")
        self.counts = np.array([len(self.by_class[int(c)]) for c in self.classes])
        self.n_support_a, self.n_support_b, self.n_query = n_support_a, n_support_b, n_query
        self.n_active, self.concentration, self.same_prob = n_active, concentration, same_prob

    def mixture(self, rng: np.random.Generator) -> np.ndarray:
        """Class proportions over ``self.classes`` (zeros outside ``n_active`` random classes)."""
        pi = np.zeros(len(self.classes))
        act = rng.choice(len(self.classes), self.n_active, replace=False)
        pi[act] = rng.dirichlet(np.full(self.n_active, self.concentration))
        return pi

    def _draw(self, rng, pis: Sequence[np.ndarray], sizes: Sequence[int]) -> list[np.ndarray] | None:
        """Draw sets of the given sizes (set j from mixture pis[j]) without reusing a row; None when
        the classes cannot supply the drawn counts."""
        for _ in range(20):  # rejection: a draw may not ask a class for more rows than it has
            counts = [rng.multinomial(n, pi) for pi, n in zip(pis, sizes)]
            if (np.sum(counts, 0) <= self.counts).all():
                break
        else:
            return None
        per_class = {}
        for ci, c in enumerate(self.classes):
            total = sum(int(k[ci]) for k in counts)
            if total:
                per_class[ci] = iter(rng.choice(self.by_class[int(c)], total, replace=False).tolist())
        sets = []
        for k in counts:
            idx = [next(per_class[ci]) for ci in range(len(self.classes)) for _ in range(int(k[ci]))]
            idx = np.asarray(idx, dtype=np.int64)
            sets.append(self.pool.x[rng.permutation(idx)] if len(idx) else self.pool.x[:0])
        return sets

    def sample(self, rng: np.random.Generator, same: bool | None = None) -> DensityPairTask:
        if same is None:
            same = bool(rng.random() < self.same_prob)
        sizes = [self.n_support_a, self.n_query, self.n_support_b, self.n_query]
        for _ in range(200):  # mixtures whose sets the classes cannot supply are redrawn
            pi_a = self.mixture(rng)
            pi_b = pi_a.copy() if same else self.mixture(rng)
            sets = self._draw(rng, [pi_a, pi_a, pi_b, pi_b], sizes)
            if sets is not None:
                break
        else:
            raise TaskError(f"{self.pool.name}: could not draw disjoint sets of sizes {sizes} from class "
                            f"mixtures (class sizes {self.counts.tolist()}); use smaller sets")
        sa, qa, sb, qb = sets
        return DensityPairTask(sa, sb, qa, qb, {"pi_a": pi_a, "pi_b": pi_b, "same": same,
                                               "classes": self.classes})

    def batch(self, rng: np.random.Generator, n_tasks: int) -> list[DensityPairTask]:
        return [self.sample(rng) for _ in range(n_tasks)]

    def fixed_tasks(self, n: int, seed: int, same: bool | None = None) -> list[DensityPairTask]:
        rng = np.random.default_rng(seed)
        return [self.sample(rng, same) for _ in range(n)]


class ContaminatedTaskSource:
    """Outlier-detection tasks from the rows of one table: ``y = 1`` anomaly, ``y = 0`` normal.

    A task: ``n_reference`` normal rows (A, the inlier reference set) and an unlabelled test set
    B of ``n_test`` rows with ``round(contamination * n_test)`` (at least one) anomalies.
    ``n_query`` extra rows of each kind may be drawn for a meta-training loss on held-out rows.
    """

    def __init__(self, pool: LabelledPool, n_reference: int, n_test: int, contamination: float,
                 n_query: int = 0) -> None:
        if not 0.0 < contamination < 1.0:
            raise TaskError(f"contamination must be in (0, 1), got {contamination}")
        if n_reference < 1 or n_test < 2 or n_query < 0:
            raise TaskError(f"need n_reference >= 1, n_test >= 2, n_query >= 0; got {n_reference}, {n_test}, "
                            f"{n_query}")
        self.pool = pool
        self.normal = np.flatnonzero(pool.y == 0)
        self.anomal = np.flatnonzero(pool.y == 1)
        self.n_reference, self.n_test, self.n_query = n_reference, n_test, n_query
        self.n_anom = min(n_test - 1, max(1, int(round(contamination * n_test))))
        self.n_query_anom = int(round(contamination * n_query))
        self.need_normal = n_reference + (n_test - self.n_anom) + n_query + (n_query - self.n_query_anom)
        self.need_anom = self.n_anom + self.n_query_anom
        if self.need_normal > len(self.normal) or self.need_anom > len(self.anomal):
            raise TaskError(f"{pool.name}: a task needs {self.need_normal} normal and {self.need_anom} anomalous "
                            f"rows; the split has {len(self.normal)} and {len(self.anomal)}")

    def sample(self, rng: np.random.Generator) -> OutlierTask:
        norm = rng.choice(self.normal, self.need_normal, replace=False)
        anom = rng.choice(self.anomal, self.need_anom, replace=False)
        n_ref, n_tn = self.n_reference, self.n_test - self.n_anom
        ref = norm[:n_ref]
        test_idx = rng.permutation(np.concatenate([norm[n_ref:n_ref + n_tn], anom[:self.n_anom]]))
        info = {"n_anomalies": self.n_anom}
        if self.n_query:
            # held-out rows for a query loss: normals from p_A and a test-like mixture from p_B
            rest = norm[n_ref + n_tn:]
            info["query_a"] = self.pool.x[rest[:self.n_query]]
            qb = np.concatenate([rest[self.n_query:], anom[self.n_anom:]])
            info["query_b"] = self.pool.x[rng.permutation(qb)]
        return OutlierTask(self.pool.x[ref], self.pool.x[test_idx], self.pool.y[test_idx], info)

    def fixed_tasks(self, n: int, seed: int) -> list[OutlierTask]:
        rng = np.random.default_rng(seed)
        return [self.sample(rng) for _ in range(n)]
