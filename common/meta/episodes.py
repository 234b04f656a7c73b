"""Few-shot classification tasks (episodes): class-disjoint splits, N-way K-shot Q-query sampling,
and the 95% interval of a per-task metric.

Vocabulary of ``common.meta``: a *task* is one few-shot problem (an *episode* in classification:
N classes, K support and Q query examples each); an impossible task request (more shots than a
class holds, overlapping splits, ...) raises :class:`TaskError` at once, which the sweep counts as
bad input (one clear message, no run folder left).

Usage::

    splits = split_classes(labels, {"train": 0.6, "val": 0.2, "test": 0.2}, seed=0)
    train = EpisodeSampler(labels, splits["train"], n_way=5, k_shot=1, q_query=15)
    ep = train.sample(np.random.default_rng(0))         # random episode for meta-training
    test_eps = EpisodeSampler(labels, splits["test"], 5, 1, 15).fixed_episodes(600, seed=0)

An :class:`Episode` holds indices into the dataset and labels remapped to ``0..n_way-1``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np


class TaskError(ValueError):
    """An impossible task or episode request (e.g. more shots than a class has examples)."""


@dataclass(frozen=True)
class Episode:
    classes: np.ndarray  # original class ids, position = remapped label
    support_idx: np.ndarray
    support_y: np.ndarray
    query_idx: np.ndarray
    query_y: np.ndarray


def split_classes(labels: Sequence[int] | np.ndarray, fractions: Mapping[str, float] | None = None,
                  seed: int = 0, groups: Sequence[str] | None = None,
                  explicit: Mapping[str, Sequence[int]] | None = None) -> dict[str, np.ndarray]:
    """Partition the classes present in ``labels`` into disjoint named splits.

    ``fractions`` (e.g. ``{"train": .6, "val": .2, "test": .2}``) splits a seeded permutation of
    the classes; with ``groups`` (a group name per class id, e.g. Omniglot alphabets) whole
    groups are assigned, so no group is shared between splits. ``explicit`` gives the class
    ids of each split directly (they must be disjoint).
    """
    classes = np.unique(np.asarray(labels))
    if explicit is not None:
        out = {k: np.asarray(sorted(v), dtype=np.int64) for k, v in explicit.items()}
        seen: set[int] = set()
        for k, v in out.items():
            overlap = seen & set(v.tolist())
            if overlap:
                raise TaskError(f"split {k!r} shares classes {sorted(overlap)[:5]} with another split")
            seen |= set(v.tolist())
        return out
    fractions = dict(fractions or {"train": 0.6, "val": 0.2, "test": 0.2})
    if any(f < 0 for f in fractions.values()) or abs(sum(fractions.values()) - 1) > 1e-6:
        raise TaskError(f"split fractions must be >= 0 and sum to 1, got {fractions}")
    rng = np.random.default_rng(seed)
    if groups is not None:
        group_names = sorted(set(groups[c] for c in classes))
        perm = [group_names[i] for i in rng.permutation(len(group_names))]
        units = [[c for c in classes if groups[c] == g] for g in perm]
    else:
        units = [[c] for c in classes[rng.permutation(len(classes))]]
    out, start = {}, 0
    names = list(fractions)
    for i, name in enumerate(names):
        stop = len(units) if i == len(names) - 1 else start + int(round(fractions[name] * len(units)))
        out[name] = np.asarray(sorted(c for u in units[start:stop] for c in u), dtype=np.int64)
        start = stop
    return out


class EpisodeSampler:
    """Draws N-way K-shot Q-query episodes from the classes ``classes`` of ``labels``."""

    def __init__(self, labels: Sequence[int] | np.ndarray, classes: Sequence[int] | np.ndarray,
                 n_way: int, k_shot: int, q_query: int) -> None:
        labels = np.asarray(labels)
        self.classes = np.asarray(sorted(set(np.asarray(classes).tolist())), dtype=np.int64)
        self.n_way, self.k_shot, self.q_query = int(n_way), int(k_shot), int(q_query)
        if self.n_way < 1 or self.k_shot < 1 or self.q_query < 0:
            raise TaskError(f"need n_way >= 1, k_shot >= 1, q_query >= 0; got {n_way}, {k_shot}, {q_query}")
        if len(self.classes) < self.n_way:
            raise TaskError(f"{self.n_way}-way episodes need {self.n_way} classes, the split has {len(self.classes)}")
        self.by_class = {int(c): np.flatnonzero(labels == c) for c in self.classes}
        need = self.k_shot + self.q_query
        small = [(c, len(ix)) for c, ix in self.by_class.items() if len(ix) < need]
        if small:
            c, n = small[0]
            raise TaskError(f"class {c} has {n} examples but {self.k_shot}-shot {self.q_query}-query "
                               f"episodes need {need} per class ({len(small)} classes too small)")

    def sample(self, rng: np.random.Generator) -> Episode:
        chosen = rng.choice(self.classes, size=self.n_way, replace=False)
        s_idx, s_y, q_idx, q_y = [], [], [], []
        for label, c in enumerate(chosen):
            pick = rng.choice(self.by_class[int(c)], size=self.k_shot + self.q_query, replace=False)
            s_idx.append(pick[: self.k_shot])
            q_idx.append(pick[self.k_shot:])
            s_y.append(np.full(self.k_shot, label))
            q_y.append(np.full(self.q_query, label))
        return Episode(chosen.astype(np.int64), np.concatenate(s_idx), np.concatenate(s_y).astype(np.int64),
                       np.concatenate(q_idx), np.concatenate(q_y).astype(np.int64))

    def fixed_episodes(self, n: int, seed: int) -> list[Episode]:
        """The same ``n`` episodes for a given seed, in every process: use for evaluation."""
        rng = np.random.default_rng(seed)
        return [self.sample(rng) for _ in range(n)]


def mean_ci95(values: Sequence[float]) -> tuple[float, float]:
    """Mean and half-width of the normal 95% confidence interval (1.96 * sd / sqrt(n))."""
    arr = np.asarray(values, dtype=float)
    if arr.size == 0:
        return float("nan"), float("nan")
    half = 1.96 * arr.std(ddof=1) / np.sqrt(arr.size) if arr.size > 1 else float("nan")
    return float(arr.mean()), float(half)
