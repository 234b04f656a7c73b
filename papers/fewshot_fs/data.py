"""Tasks for few-shot unsupervised feature selection, over real data with one shared feature space per family.

A *task* is a subset of ``n_ways`` classes of one dataset (Fashion-MNIST or scikit-learn's digits over the
same pixels; or a feature-aligned PMLB table, ``letter`` (26 letters, 16 shape statistics) or ``satimage``
(6 land covers, 36 Landsat values = 9 pixels x 4 bands), over the table's features): its instances are an equal mixture of those classes (ours: the paper's own
datasets could not be read). Source and target tasks are class-disjoint: ``n_test_classes`` classes,
drawn per seed, form the target tasks; the rest form the source tasks that meta-train the model.
Each target task holds a support set (the N unlabelled target instances a selector sees), an
evaluation-training set (fits the common ridge evaluator and the downstream classifier, never seen
by a selector) and a query set (where errors are measured). Labels are kept for the downstream
classification score only. Features are scaled to [0, 1] by their fixed known range (pixels /255 or /16,
letter's integer statistics /15, Landsat's 8-bit values /255), so no statistic of a target task leaks in.
PMLB tables are read from ``$REPRO_DATA/tabular/classification/`` or downloaded from EpistasisLab/pmlb at
a pinned commit, sha256-verified.
"""

from __future__ import annotations

import functools
import gzip
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from common.config import ConfigError
from common.data import DataFormatError, Resource, find_or_fetch, load_digits, load_fashion_mnist, reading
from common.data.core import find_files, register_dataset, uses

uses("fewshot_fs", "fashion_mnist", "digits")

PMLB_COMMIT = "0820182add20998ed3f88b30efd273107286c695"  # the last commit before the files moved to Git LFS
PMLB_URL = "https://github.com/EpistasisLab/pmlb/raw/{commit}/datasets/{name}/{name}.tsv.gz"
#: feature-aligned PMLB tables: name -> (sha256 of the .tsv.gz, fixed range of every feature)
TABLES = {"letter": ("f8ffe4f9920dc63fb85b864cc1afffb66e45c6e302d175905fd7db04ba67b8c6", 15.0),
          "satimage": ("1ee8cf9693351db7afe68f6fc32942845caae3e1030c688efa6c5d0b24229f46", 255.0)}
TABLE_SUBDIRS = ("tabular/classification", "pmlb/classification", "pmlb")
TABLE_HOW = ("PMLB .tsv.gz (github.com/EpistasisLab/pmlb, datasets/<name>/<name>.tsv.gz, commit "
             f"{PMLB_COMMIT[:7]}) in $REPRO_DATA/tabular/classification/, or downloaded there on first use "
             "(sha256-verified) unless REPRO_OFFLINE=1")
N_CLASSES = {"fashion": 10, "fashion784": 10, "digits": 10, "letter": 26, "satimage": 6}


def table_resource(name: str) -> Resource:
    return Resource(f"{name}.tsv.gz", PMLB_URL.format(commit=PMLB_COMMIT, name=name), f"sha256:{TABLES[name][0]}")


def read_table(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(X, integer labels 0..C-1) of a PMLB classification file: gzip TSV, a header row, label column ``target``."""
    with reading(path, "PMLB tsv.gz"), gzip.open(path, "rt") as fh:
        header = fh.readline().rstrip("\n").split("\t")
        body = np.loadtxt(fh, delimiter="\t", ndmin=2)
    if "target" not in header or body.shape[1] != len(header) or len(body) == 0:
        raise DataFormatError(f"{path}: expected a header with a 'target' column and {len(header)} values per row")
    t = header.index("target")
    return np.delete(body, t, axis=1), np.unique(body[:, t], return_inverse=True)[1].astype(np.int64)


def load_table(name: str, download: bool | None = None) -> tuple[np.ndarray, np.ndarray]:
    if name not in TABLES:
        raise ConfigError(f"unknown table {name!r}; known: {', '.join(TABLES)}")
    _, (path,) = find_or_fetch(f"pmlb_{name}", TABLE_SUBDIRS, [table_resource(name)], TABLE_HOW, download=download)
    return read_table(path)


for _name in TABLES:
    register_dataset(f"fewshot_fs_{_name}", f"PMLB classification table {_name} (feature-aligned tasks)", TABLE_HOW,
                     paper="fewshot_fs", sources=[table_resource(_name).url],
                     locate=lambda n=_name: str(find_files(f"pmlb_{n}", TABLE_SUBDIRS, [f"{n}.tsv.gz"], (), TABLE_HOW)[0]))


@functools.lru_cache(maxsize=4)
def _raw(dataset: str) -> tuple[np.ndarray, np.ndarray]:
    if dataset in TABLES:
        x, y = load_table(dataset)
        return (x / TABLES[dataset][1]).astype(np.float32), y
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


def class_split(seed: int, n_test_classes: int, n_classes: int = 10) -> tuple[list[int], list[int]]:
    """(source classes, target classes): a seeded class-disjoint split of the ``n_classes`` classes."""
    perm = np.random.default_rng(seed).permutation(n_classes)
    return sorted(perm[n_test_classes:].tolist()), sorted(perm[:n_test_classes].tolist())
