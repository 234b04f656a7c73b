"""Data of meta_ood: few-shot OoD-detection tasks over the classes of an image dataset.

Per seed the classes are split into meta-training and held-out classes (Omniglot: whole alphabets, so
no alphabet is shared; ``common.meta.episodes.split_classes``). A task draws N in-distribution (ID)
classes, K support instances of each (the only labelled data of the task) and ``n_query`` ID queries
per class; its OoD queries (as many as ID queries) are drawn uniformly from the rows of the *other*
classes of the same split. Test tasks use held-out classes only, so neither their ID nor their OoD
classes were seen in meta-training (nor in pre-training or the PCA).

Features: pixels scaled to [0, 1] (``pca_dim = 0``), or ``pca_dim`` principal components fitted on a
subsample of the meta-training rows only and scaled to unit average variance.

Datasets, all through ``common.data`` (verified download on first use; offline copies via $REPRO_DATA):
``omniglot_small`` (images_background_small1 + small2, deduplicated: 8 alphabets, 242 characters x 20
drawers; 28 x 28), ``omniglot`` (images_background + images_evaluation: 50 alphabets, 1,623 characters),
``fmnist`` / ``mnist`` (training split, 60,000), ``digits`` (scikit-learn, 1,797 8 x 8 images, /16),
``cifar10`` / ``cifar100`` (training split, 32 x 32 x 3, fine labels).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from common.cache import cache_entry
from common.data import load_cifar, load_digits, load_fashion_mnist, load_mnist, load_omniglot, uses
from common.data.images import merge_omniglot
from common.meta.episodes import TaskError, split_classes

SLUG = "meta_ood"


@dataclass(frozen=True)
class OodTask:
    """Support xs (N*K, D) class-major with labels ys in 0..N-1; queries xq with is_ood (1 = OoD)."""
    xs: np.ndarray
    ys: np.ndarray
    xq: np.ndarray
    is_ood: np.ndarray
    id_classes: np.ndarray


@dataclass(frozen=True)
class Pools:
    x: np.ndarray
    y: np.ndarray
    train_classes: np.ndarray
    test_classes: np.ndarray
    name: str


@functools.lru_cache(maxsize=4)
def load_images(dataset: str) -> tuple[np.ndarray, np.ndarray, tuple[str, ...] | None, str]:
    """(x (n, D) float32 in [0, 1], y, group name per class id or None, what was loaded)."""
    groups = None
    if dataset in ("omniglot_small", "omniglot"):
        ds = (load_omniglot("background_small", 28) if dataset == "omniglot_small"
              else merge_omniglot([load_omniglot("background", 28), load_omniglot("evaluation", 28)], "omniglot"))
        x = ds.x
        groups = tuple(c.split("/")[0] for c in ds.classes)
    elif dataset == "fmnist":
        ds = load_fashion_mnist("train")
        x = ds.x.astype(np.float32) / 255.0
    elif dataset == "mnist":
        ds = load_mnist("train", allow_subset=False)
        x = ds.x.astype(np.float32) / 255.0
    elif dataset == "digits":
        ds = load_digits()
        x = ds.x / 16.0
    elif dataset in ("cifar10", "cifar100"):
        ds = load_cifar(dataset, "train")
        x = ds.x.astype(np.float32) / 255.0
    else:
        raise TaskError(f"unknown dataset {dataset!r}")
    return (np.ascontiguousarray(x.reshape(len(x), -1), dtype=np.float32), np.asarray(ds.y, dtype=np.int64),
            groups, ds.name)


@functools.lru_cache(maxsize=4)
def load_pools(dataset: str, test_frac: float, pca_dim: int, split_seed: int) -> Pools:
    x, y, groups, name = load_images(dataset)
    splits = split_classes(y, {"train": 1.0 - test_frac, "test": test_frac}, seed=split_seed, groups=groups)
    if pca_dim:   # content-keyed on-disk cache shared by the cells of a sweep (common.cache)
        key = {"dataset": dataset, "name": name, "n": len(y), "train_classes": splits["train"].tolist(),
               "pca_dim": pca_dim, "split_seed": split_seed, "version": 1}
        x = cache_entry(SLUG, "pca", key).load_or_compute(
            "x.npy", lambda: pca_features(x, np.isin(y, splits["train"]), pca_dim, split_seed), fmt="npy")
    return Pools(x, y, splits["train"], splits["test"], name)


def pca_features(x: np.ndarray, fit_rows: np.ndarray, k: int, seed: int, max_fit: int = 5000) -> np.ndarray:
    """``k`` leading principal components fitted on (a random subsample of at most ``max_fit`` of) ``fit_rows``
    only, scaled to unit average variance over the k components (eigenvectors of the sample covariance)."""
    rows = np.flatnonzero(fit_rows)
    if k > min(len(rows), x.shape[1]):
        raise TaskError(f"pca_dim {k} exceeds the rank available ({len(rows)} rows, {x.shape[1]} columns)")
    sub = x[np.random.default_rng(seed).choice(rows, min(max_fit, len(rows)), replace=False)].astype(np.float64)
    mean = sub.mean(0)
    evals, evecs = np.linalg.eigh((sub - mean).T @ (sub - mean) / len(sub))
    top = np.argsort(evals)[::-1][:k]
    proj = evecs[:, top] / np.sqrt(evals[top].sum() / k)
    return ((x - mean) @ proj).astype(np.float32)


class TaskSampler:
    """Draws OoD tasks from the classes ``classes`` of ``pools`` (module docstring)."""

    def __init__(self, pools: Pools, classes: np.ndarray, n_way: int, k_shot: int, n_query: int) -> None:
        self.pools, self.classes = pools, np.asarray(classes)
        self.n_way, self.k_shot, self.n_query = n_way, k_shot, n_query
        if len(self.classes) < n_way + 1:
            raise TaskError(f"{pools.name}: {len(self.classes)} classes in the split; a {n_way}-way task needs at least "
                            f"{n_way + 1} (N in-distribution classes and one OoD class)")
        self.by_class = {int(c): np.flatnonzero(pools.y == c) for c in self.classes}
        need = k_shot + n_query
        small = [c for c, r in self.by_class.items() if len(r) < need]
        if small:
            raise TaskError(f"{pools.name}: class {small[0]} has {len(self.by_class[small[0]])} instances, a {k_shot}-shot "
                            f"task with {n_query} queries per class needs {need} ({len(small)} classes too small)")

    def sample(self, rng: np.random.Generator) -> OodTask:
        chosen = rng.choice(self.classes, self.n_way, replace=False)
        s_idx, q_idx = [], []
        for c in chosen:
            pick = rng.choice(self.by_class[int(c)], self.k_shot + self.n_query, replace=False)
            s_idx.append(pick[: self.k_shot])
            q_idx.append(pick[self.k_shot:])
        others = np.concatenate([r for c, r in self.by_class.items() if c not in set(chosen.tolist())])
        n_id = self.n_way * self.n_query
        ood = rng.choice(others, n_id, replace=len(others) < n_id)
        x = self.pools.x
        return OodTask(x[np.concatenate(s_idx)], np.repeat(np.arange(self.n_way), self.k_shot),
                       x[np.concatenate(q_idx + [ood])], np.r_[np.zeros(n_id), np.ones(n_id)].astype(np.int64),
                       chosen.astype(np.int64))


def make_test_tasks(pools: Pools, n_way: int, k_shot: int, n_query: int, n_tasks: int, seed: int) -> list[OodTask]:
    """The fixed test tasks of a seed (the same for every method), from the held-out classes."""
    rng = np.random.default_rng(seed)
    sampler = TaskSampler(pools, pools.test_classes, n_way, k_shot, n_query)
    return [sampler.sample(rng) for _ in range(n_tasks)]


def train_task_sampler(pools: Pools, n_way: int, k_shot: int, n_query: int, seed: int):
    """An endless stream of meta-training tasks from the meta-training classes."""
    rng = np.random.default_rng(seed)
    sampler = TaskSampler(pools, pools.train_classes, n_way, k_shot, n_query)
    return lambda: sampler.sample(rng)


for _name in ("omniglot_small", "omniglot", "fashion_mnist", "mnist", "digits", "cifar10", "cifar100"):
    uses("meta_ood", _name)
