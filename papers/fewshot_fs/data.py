"""Tasks for few-shot unsupervised feature selection, over real images with a shared pixel space.

A *task* is a subset of ``n_ways`` classes of one dataset (Fashion-MNIST, or scikit-learn's digits)
over the same pixels: its instances are an equal mixture of those classes (ours: the paper's own
datasets could not be read). Source and target tasks are class-disjoint: ``n_test_classes`` classes,
drawn per seed, form the target tasks; the rest form the source tasks that meta-train the model.
Each target task holds a support set (the N unlabelled target instances a selector sees), an
evaluation-training set (fits the common ridge evaluator and the downstream classifier, never seen
by a selector) and a query set (where errors are measured). Labels are kept for the downstream
classification score only. Pixels are scaled to [0, 1].
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from common.config import ConfigError
from common.data import load_digits, load_fashion_mnist
from common.data.core import uses

uses("fewshot_fs", "fashion_mnist", "digits")


@functools.lru_cache(maxsize=4)
def _raw(dataset: str) -> tuple[np.ndarray, np.ndarray]:
    if dataset == "digits":
        ds = load_digits()
        return ds.x.reshape(len(ds.x), -1).astype(np.float32) / 16.0, np.asarray(ds.y, dtype=np.int64)
    ds = load_fashion_mnist("train")
    x = ds.x.astype(np.float32) / 255.0
    if dataset == "fashion":  # 2x2 average pooling: 28x28 -> 14x14 (ours, CPU budget)
        x = x.reshape(len(x), 14, 2, 14, 2).mean((2, 4))
    return x.reshape(len(x), -1), np.asarray(ds.y, dtype=np.int64)


def image_shape(dataset: str) -> tuple[int, int]:
    return {"digits": (8, 8), "fashion": (14, 14), "fashion784": (28, 28)}[dataset]


def load_pool(dataset: str, per_class: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """At most ``per_class`` instances of every class (a seeded draw without replacement; all of a smaller
    class, e.g. digits' ~180)."""
    x, y = _raw(dataset)
    rng = np.random.default_rng(seed)
    keep = []
    for c in np.unique(y):
        idx = np.flatnonzero(y == c)
        keep.append(rng.choice(idx, min(per_class, len(idx)), replace=False))
    keep = np.sort(np.concatenate(keep))
    return x[keep], y[keep]


@dataclass
class Task:
    """One target task: N unlabelled support instances, an evaluation-training set and a query set."""

    support: np.ndarray
    eval_x: np.ndarray
    eval_y: np.ndarray
    query_x: np.ndarray
    query_y: np.ndarray
    classes: tuple


class TaskSource:
    """Tasks over a class subset of a pool: each task draws ``n_ways`` of ``classes``, then instances."""

    def __init__(self, x: np.ndarray, y: np.ndarray, classes, n_ways: int) -> None:
        self.classes = np.asarray(sorted(classes))
        if len(self.classes) < n_ways:
            raise ConfigError(f"{len(self.classes)} classes cannot form {n_ways}-class tasks")
        self.n_ways = n_ways
        self.by_class = {int(c): x[y == c] for c in self.classes}
        self.dim = x.shape[1]

    def draw(self, rng: np.random.Generator, sizes: list[int]) -> tuple[list[np.ndarray], list[np.ndarray], tuple]:
        """Disjoint sets of the given sizes from one task (classes drawn first), with their labels."""
        cls = tuple(int(c) for c in rng.choice(self.classes, self.n_ways, replace=False))
        total = sum(sizes)
        lab = np.concatenate([rng.permutation(np.arange(n) % self.n_ways) for n in sizes])   # equal mixture per set
        x = np.empty((total, self.dim), np.float32)
        for j, c in enumerate(cls):
            pos = np.flatnonzero(lab == j)
            pool = self.by_class[c]
            if len(pos) > len(pool):
                raise ConfigError(f"a task needs {len(pos)} instances of class {c}, the pool has {len(pool)}")
            x[pos] = pool[rng.choice(len(pool), len(pos), replace=False)]
        cuts = np.cumsum([0] + sizes)
        return ([x[a:b] for a, b in zip(cuts[:-1], cuts[1:])], [lab[a:b] for a, b in zip(cuts[:-1], cuts[1:])], cls)

    def batch(self, rng: np.random.Generator, n_tasks: int, n_support: int, n_query: int) -> tuple[np.ndarray, np.ndarray]:
        """(support (T, N, D), query (T, Q, D)) of ``n_tasks`` source tasks."""
        s, q = zip(*(self.draw(rng, [n_support, n_query])[0] for _ in range(n_tasks)))
        return np.stack(s), np.stack(q)

    def target_tasks(self, rng: np.random.Generator, n_tasks: int, n_support: int, n_eval: int,
                     n_query: int) -> list[Task]:
        out = []
        for _ in range(n_tasks):
            (s, e, q), (_, ey, qy), cls = self.draw(rng, [n_support, n_eval, n_query])
            out.append(Task(s, e, ey, q, qy, cls))
        return out


def class_split(seed: int, n_test_classes: int) -> tuple[list[int], list[int]]:
    """(source classes, target classes): a seeded class-disjoint split of the 10 classes."""
    perm = np.random.default_rng(seed).permutation(10)
    return sorted(perm[n_test_classes:].tolist()), sorted(perm[:n_test_classes].tolist())
