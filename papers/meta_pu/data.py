"""Data of meta_pu: PU tasks drawn from real class pairs and from a synthetic Gaussian task family.

A PU *task* (Section 3 of the paper, reconstructed: ours): a positive class-conditional density p_P,
a negative one p_N and a class prior pi. The learner sees
- P: ``n_pos`` instances from p_P (labelled positives),
- U: ``n_unl`` instances from the marginal p = pi p_P + (1 - pi) p_N (``round(pi n_unl)`` positives),
and is scored on ``n_query`` labelled test instances from the same marginal (``round(pi n_query)``
positives). Meta-training tasks additionally give the labels of their queries (the paper's
"related tasks that consist of positive, negative, and unlabeled data").

Task families (``dataset``):
- ``synthetic`` (ours, reconstructed: the paper's synthetic set could not be read): p_P = N(mu_P, I),
  p_N = N(mu_N, I) in ``synthetic_dim`` dimensions with mu_P ~ N(0, 4 I) and mu_N = mu_P + d u, u a
  random unit vector, d ~ U[1, 3]; every task is new; the Bayes-optimal accuracy is known per task.
- ``omniglot`` (background_small: 242 characters x 20 drawers, 28 x 28 pixels, 64 principal components
  fitted on the meta-training characters): a task's positive class is one character and its negatives
  are drawn from every other character of the split (positive vs rest).
- ``digits`` (scikit-learn, 64 pixels / 16), ``fmnist_pca32`` (Fashion-MNIST train set, 32 principal
  components fitted on the meta-training classes), ``fmnist`` (784 pixels / 255): a task is an
  ordered class pair (positive class, negative class) of one split; meta-training, validation
  and test classes are disjoint (``common.meta.episodes.split_classes``).
- ``anomaly`` (ours): PU tasks from the real ADBench Classical tables
  (``$REPRO_DATA/anomaly/adbench_classical``, ``load_anomaly_table``: papers may not import each
  other, so this is a short reader on ``common.data``'s search path). Positive = anomaly
  (the labelled positives are a few known anomalies, U is contaminated with a share ``prior`` of
  anomalies). A task draws one table of its split, then P, U and queries from that table's rows. The
  ``ANOMALY_TABLES`` are split into meta-training / validation / test *tables* (disjoint, by
  ``class_fractions``; tables built from the same source data, e.g. landsat and satellite, always
  share a split), so every test task comes from a table never seen in meta-training. Each table is
  capped (``ANOMALY_MAX_NORMAL`` normals, ``ANOMALY_MAX_ANOMALY`` anomalies, drawn with the split
  seed), standardised with its own (label-free) statistics and projected on its ``ANOMALY_DIM``
  leading principal components (unit average variance), or zero-padded when it has fewer columns,
  so one encoder serves every table.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import numpy as np

from common.config import ConfigError
from common.data import DataFormatError, load_digits, load_fashion_mnist, load_omniglot, reading
from common.data.core import candidate_dirs, missing, uses
from common.meta.episodes import TaskError, split_classes
from common.meta.tasks import LabelledPool

REAL_DATASETS = ("omniglot", "digits", "fmnist_pca32", "fmnist")
DATASETS = ("synthetic",) + REAL_DATASETS + ("anomaly",)
PCA_DIMS = {"fmnist_pca32": 32, "omniglot": 64}
uses("meta_pu", "digits", "fashion_mnist", "omniglot")


@dataclass
class PUTask:
    """One PU task: positives ``x_pos``, unlabelled ``x_unl`` (true labels ``y_unl`` kept for the PN
    oracle only), labelled queries ``x_query``/``y_query`` (1 = positive, 0 = negative), prior ``prior``."""

    x_pos: np.ndarray
    x_unl: np.ndarray
    y_unl: np.ndarray
    x_query: np.ndarray
    y_query: np.ndarray
    prior: float
    info: dict = field(default_factory=dict)


def n_positives(prior: float, n: int) -> int:
    """Positives among ``n`` instances of the marginal with class prior ``prior`` (at least 1 and at
    most n - 1, so both classes are present)."""
    return int(min(n - 1, max(1, round(prior * n))))


class ClassPairTaskSource:
    """PU tasks over ordered (positive, negative) class pairs of one labelled pool (one split)."""

    def __init__(self, pool: LabelledPool, n_pos: int, n_unl: int, n_query: int, prior_range: tuple[float, float],
                 negatives: str = "pair"):
        self.pool, self.negatives = pool, negatives
        self.classes = np.unique(pool.y)
        if len(self.classes) < 2:
            raise TaskError(f"{pool.name}: a PU task needs two classes, the split has {self.classes.tolist()}")
        self.by_class = {int(c): np.flatnonzero(pool.y == c) for c in self.classes}
        self.n_pos, self.n_unl, self.n_query = n_pos, n_unl, n_query
        self.prior_range = prior_range
        lo = prior_range[0]
        need_p = n_pos + n_positives(lo, n_unl) + n_positives(lo, n_query)
        need_n = (n_unl - n_positives(lo, n_unl)) + (n_query - n_positives(lo, n_query))
        self.smallest = min(len(v) for v in self.by_class.values())
        neg_avail = self.smallest if negatives == "pair" else len(pool.y) - max(map(len, self.by_class.values()))
        if need_p > self.smallest or need_n > neg_avail:
            raise TaskError(f"{pool.name}: a task needs {need_p} positive and {need_n} negative instances "
                            f"(n_pos={n_pos}, n_unl={n_unl}, n_query={n_query}, prior {lo}) but the smallest class "
                            f"has {self.smallest} (negatives available: {neg_avail})")
        self.dim = pool.x.shape[1]

    def sample(self, rng: np.random.Generator, prior: float | None = None, n_pos: int | None = None,
               n_unl: int | None = None) -> PUTask:
        """A task; ``n_pos``/``n_unl`` override the source's sizes (meta-training batches). A drawn prior
        that would need more positives than a class holds is lowered to the largest that fits."""
        pos_c, neg_c = rng.choice(self.classes, 2, replace=False)
        n_p, n_u = n_pos or self.n_pos, n_unl or self.n_unl
        pi = float(rng.uniform(*self.prior_range)) if prior is None else float(prior)
        while pi > 0.01 and n_p + n_positives(pi, n_u) + n_positives(pi, self.n_query) > len(self.by_class[int(pos_c)]):
            pi -= 0.01
        ku, kq = n_positives(pi, n_u), n_positives(pi, self.n_query)
        pos = rng.choice(self.by_class[int(pos_c)], n_p + ku + kq, replace=False)
        neg_pool = (self.by_class[int(neg_c)] if self.negatives == "pair"
                    else np.flatnonzero(self.pool.y != pos_c))
        neg = rng.choice(neg_pool, (n_u - ku) + (self.n_query - kq), replace=False)
        x = self.pool.x
        unl = np.concatenate([x[pos[n_p:n_p + ku]], x[neg[:n_u - ku]]])
        y_unl = np.r_[np.ones(ku), np.zeros(n_u - ku)].astype(np.int64)
        qry = np.concatenate([x[pos[n_p + ku:]], x[neg[n_u - ku:]]])
        y_q = np.r_[np.ones(kq), np.zeros(self.n_query - kq)].astype(np.int64)
        pu, pq = rng.permutation(n_u), rng.permutation(self.n_query)
        return PUTask(x[pos[:n_p]], unl[pu], y_unl[pu], qry[pq], y_q[pq], pi,
                      {"pos_class": int(pos_c), "neg_class": int(neg_c)})


class GaussianTaskSource:
    """Synthetic PU tasks: two unit-covariance Gaussians per task (module docstring)."""

    def __init__(self, dim: int, n_pos: int, n_unl: int, n_query: int, prior_range: tuple[float, float],
                 distance: tuple[float, float] = (1.0, 3.0), spread: float = 2.0):
        if dim < 1:
            raise TaskError(f"synthetic_dim must be >= 1, got {dim}")
        self.dim, self.n_pos, self.n_unl, self.n_query = dim, n_pos, n_unl, n_query
        self.prior_range, self.distance, self.spread = prior_range, distance, spread

    def sample(self, rng: np.random.Generator, prior: float | None = None, n_pos: int | None = None,
               n_unl: int | None = None) -> PUTask:
        n_p, n_u = n_pos or self.n_pos, n_unl or self.n_unl
        mu_p = rng.normal(0.0, self.spread, self.dim)
        u = rng.normal(size=self.dim)
        d = float(rng.uniform(*self.distance))
        mu_n = mu_p + d * u / np.linalg.norm(u)
        pi = float(rng.uniform(*self.prior_range)) if prior is None else float(prior)
        ku, kq = n_positives(pi, n_u), n_positives(pi, self.n_query)

        def draw(mu, n):
            return mu + rng.normal(size=(n, self.dim))

        y_unl = rng.permutation(np.r_[np.ones(ku), np.zeros(n_u - ku)].astype(np.int64))
        y_q = rng.permutation(np.r_[np.ones(kq), np.zeros(self.n_query - kq)].astype(np.int64))
        x_pos = draw(mu_p, n_p)
        x_unl = np.where(y_unl[:, None] == 1, draw(mu_p, n_u), draw(mu_n, n_u))
        x_q = np.where(y_q[:, None] == 1, draw(mu_p, self.n_query), draw(mu_n, self.n_query))
        return PUTask(x_pos, x_unl, y_unl, x_q, y_q, pi, {"mu_p": mu_p, "mu_n": mu_n})


def bayes_accuracy(task: PUTask) -> float:
    """Accuracy of the Bayes rule (known Gaussians and prior) on a synthetic task's queries."""
    mu_p, mu_n, pi = task.info["mu_p"], task.info["mu_n"], task.prior
    log_ratio = -0.5 * ((task.x_query - mu_p) ** 2).sum(1) + 0.5 * ((task.x_query - mu_n) ** 2).sum(1)
    pred = (log_ratio + np.log(pi / (1 - pi)) > 0).astype(np.int64)
    return float(np.mean(pred == task.y_query))


@functools.lru_cache(maxsize=4)
def _real_pool(name: str) -> LabelledPool:
    if name == "omniglot":
        ds = load_omniglot("background_small", 28)
        x = ds.x.reshape(len(ds.x), -1)
    elif name == "digits":
        ds = load_digits()
        x = ds.x.reshape(len(ds.x), -1) / 16.0
    elif name in ("fmnist", "fmnist_pca32"):
        ds = load_fashion_mnist("train")
        x = ds.x.reshape(len(ds.x), -1).astype(np.float32) / 255.0
    else:
        raise TaskError(f"unknown dataset {name!r}; valid: {', '.join(DATASETS)}")
    return LabelledPool(x, ds.y, name)


def _pca(pools: dict[str, LabelledPool], k: int, seed: int) -> dict[str, LabelledPool]:
    """Project every split on the first k principal components of the meta-training split (unit
    average variance); fitted on at most 10,000 meta-training rows drawn with ``seed``."""
    train = pools["train"]
    mean = train.x.mean(0)
    pick = np.random.default_rng(seed).choice(len(train.x), min(10000, len(train.x)), replace=False)
    _, s, vt = np.linalg.svd(train.x[pick] - mean, full_matrices=False)
    proj = vt[:k].T / np.sqrt((s[:k] ** 2).sum() / len(pick) / k)
    return {n: LabelledPool((p.x - mean) @ proj, p.y, p.name) for n, p in pools.items()}


def class_split_pools(name: str, fractions: dict[str, float], split_seed: int) -> dict[str, LabelledPool]:
    """{"train", "val", "test"} pools of disjoint classes of a real dataset."""
    pool = _real_pool(name)
    splits = split_classes(pool.y, fractions, seed=split_seed)
    for k, v in splits.items():
        if len(v) < 2:
            raise TaskError(f"{name}: split {k!r} gets {len(v)} class(es) ({v.tolist()}); a PU task needs two "
                            f"(split fractions {fractions})")
    pools = {k: pool.subset_classes(v) for k, v in splits.items()}
    if name in PCA_DIMS:
        pools = _pca(pools, PCA_DIMS[name], split_seed)
    return pools


def task_sources(dataset: str, fractions: dict[str, float], split_seed: int, sizes: dict[str, tuple],
                 synthetic_dim: int = 2) -> dict:
    """One task source per split. ``sizes[split] = (n_pos, n_unl, n_query, prior_range)``."""
    if dataset == "synthetic":
        return {k: GaussianTaskSource(synthetic_dim, *v) for k, v in sizes.items()}
    if dataset == "anomaly":
        tables = anomaly_split_tables(fractions, split_seed)
        return {k: AnomalyTableTaskSource(tables[k], *v, name=k) for k, v in sizes.items()}
    if dataset not in REAL_DATASETS:
        raise TaskError(f"unknown dataset {dataset!r}; valid: {', '.join(DATASETS)}")
    pools = class_split_pools(dataset, fractions, split_seed)
    neg = "rest" if dataset == "omniglot" else "pair"
    return {k: ClassPairTaskSource(pools[k], *v, negatives=neg) for k, v in sizes.items()}


# ---------------------------------------------------------------------------------------------------
# PU tasks from the anomaly tables (dataset "anomaly"; module docstring).

# ADBench Classical tables with at least 90 anomalies and 90 normals (enough for every quick cell);
# the same source data -> the same group (never split between meta-training and test).
ANOMALY_TABLES = ("annthyroid", "thyroid", "breastw", "cardio", "Cardiotocography", "fault", "Ionosphere",
                  "landsat", "satellite", "letter", "magic.gamma", "mammography", "PageBlocks", "pendigits",
                  "Pima", "shuttle", "SpamBase", "Waveform", "Wilt", "yeast")
ANOMALY_GROUPS = {"thyroid": "annthyroid", "Cardiotocography": "cardio", "satellite": "landsat"}
ANOMALY_DIM = 8
ANOMALY_MAX_NORMAL = 2000
ANOMALY_MAX_ANOMALY = 1000


@dataclass(frozen=True)
class AnomalyTable:
    """One preprocessed table: features ``x`` (n, ANOMALY_DIM), labels ``y`` (1 = anomaly = positive)."""

    name: str
    x: np.ndarray
    y: np.ndarray


def prepare_anomaly_table(name: str, x: np.ndarray, y: np.ndarray, seed: int, dim: int = ANOMALY_DIM,
                          max_normal: int = ANOMALY_MAX_NORMAL, max_anomaly: int = ANOMALY_MAX_ANOMALY) -> AnomalyTable:
    """Cap, standardise (label-free, the table's own rows), project on ``dim`` principal components
    (unit average variance) or zero-pad to ``dim`` columns."""
    rng = np.random.default_rng(seed)
    keep = []
    for label, cap in ((0, max_normal), (1, max_anomaly)):
        rows = np.flatnonzero(y == label)
        keep.append(rng.choice(rows, cap, replace=False) if len(rows) > cap else rows)
    rows = np.sort(np.concatenate(keep))
    x, y = np.asarray(x[rows], dtype=np.float64), np.asarray(y[rows], dtype=np.int64)
    sd = x.std(0)
    x = (x[:, sd > 1e-12] - x[:, sd > 1e-12].mean(0)) / sd[sd > 1e-12]
    if x.shape[1] > dim:
        _, s, vt = np.linalg.svd(x, full_matrices=False)
        x = x @ (vt[:dim].T / np.sqrt((s[:dim] ** 2).sum() / len(x) / dim))
    else:
        x = np.pad(x, ((0, 0), (0, dim - x.shape[1])))
    return AnomalyTable(name, x, y)


ADBENCH_SUBDIRS = ("anomaly/adbench_classical", "adbench_classical")
ADBENCH_HOW = ("the ADBench Classical .npz tables: https://github.com/Minqi824/ADBench, folder "
               "adbench/datasets/Classical (commit 3dac8221081e190f157d78e93bfa8867f90d0965; files <number>_<name>.npz), "
               "into $REPRO_DATA/anomaly/adbench_classical/")


def find_anomaly_table(name: str):
    """Path of ADBench's ``<number>_<name>.npz`` on the ``REPRO_DATA`` search path, or None."""
    for d in candidate_dirs(ADBENCH_SUBDIRS):
        hits = sorted(p for p in d.glob("*.npz") if p.stem.split("_", 1)[-1] == name) if d.is_dir() else []
        if hits:
            return hits[0]
    return None


@functools.lru_cache(maxsize=32)
def load_anomaly_table(name: str) -> tuple[np.ndarray, np.ndarray]:
    """(X float64 (n, d), y int64 with 1 = anomaly) of one ADBench Classical table."""
    path = find_anomaly_table(name)
    if path is None:
        raise missing(f"anomaly_{name}", candidate_dirs(ADBENCH_SUBDIRS), [f"<number>_{name}.npz"], ADBENCH_HOW)
    with reading(path, "ADBench npz"), np.load(path, allow_pickle=False) as d:
        if "X" not in d or "y" not in d:
            raise DataFormatError(f"{path}: ADBench npz needs keys X and y, has {sorted(d.keys())}")
        x, y = np.asarray(d["X"], dtype=np.float64), np.asarray(d["y"]).ravel().astype(np.int64)
    if x.ndim != 2 or len(x) != len(y) or not set(np.unique(y).tolist()) <= {0, 1} or not np.isfinite(x).all():
        raise DataFormatError(f"{path}: expected finite X (n, d) and y (n,) in {{0, 1}}; got X {x.shape}, y {y.shape}")
    return x, y


@functools.lru_cache(maxsize=4)
def _anomaly_tables(seed: int) -> tuple[AnomalyTable, ...]:
    out = []
    for i, name in enumerate(ANOMALY_TABLES):
        x, y = load_anomaly_table(name)
        out.append(prepare_anomaly_table(name, x, y, seed + i))
    return tuple(out)


def anomaly_split_tables(fractions: dict[str, float], split_seed: int) -> dict[str, list[AnomalyTable]]:
    """{"train", "val", "test"}: disjoint sets of preprocessed tables (whole groups per split)."""
    tables = _anomaly_tables(split_seed)
    groups = [ANOMALY_GROUPS.get(t, t) for t in ANOMALY_TABLES]
    splits = split_classes(np.arange(len(ANOMALY_TABLES)), fractions, seed=split_seed, groups=groups)
    for k, v in splits.items():
        if len(v) < 1:
            raise TaskError(f"anomaly: split {k!r} gets no table (split fractions {fractions})")
    return {k: [tables[i] for i in v] for k, v in splits.items()}


class AnomalyTableTaskSource:
    """PU tasks within one table of a split: positives = anomalies, negatives = normals."""

    def __init__(self, tables: list[AnomalyTable], n_pos: int, n_unl: int, n_query: int,
                 prior_range: tuple[float, float], name: str = "anomaly"):
        self.tables, self.n_pos, self.n_unl, self.n_query = tables, n_pos, n_unl, n_query
        self.prior_range, self.dim = prior_range, tables[0].x.shape[1]
        self.rows = [(np.flatnonzero(t.y == 1), np.flatnonzero(t.y == 0)) for t in tables]
        lo = prior_range[0]
        need_p = n_pos + n_positives(lo, n_unl) + n_positives(lo, n_query)
        need_n = n_unl - n_positives(lo, n_unl) + n_query - n_positives(lo, n_query)
        for t, (pos, neg) in zip(tables, self.rows):
            if need_p > len(pos) or need_n > len(neg):
                raise ConfigError(f"anomaly table {t.name} ({name} split): a task needs {need_p} anomalies and "
                                  f"{need_n} normals (n_pos={n_pos}, n_unl={n_unl}, n_query={n_query}, prior {lo}) "
                                  f"but the table has {len(pos)} and {len(neg)}")

    def sample(self, rng: np.random.Generator, prior: float | None = None, n_pos: int | None = None,
               n_unl: int | None = None) -> PUTask:
        """A task from one random table of the split; a drawn prior that needs more anomalies than the
        table holds is lowered to the largest that fits (meta-training only: cells are checked up front)."""
        i = int(rng.integers(len(self.tables)))
        table, (pos_rows, neg_rows) = self.tables[i], self.rows[i]
        n_p, n_u = n_pos or self.n_pos, n_unl or self.n_unl
        pi = float(rng.uniform(*self.prior_range)) if prior is None else float(prior)
        while pi > 0.01 and n_p + n_positives(pi, n_u) + n_positives(pi, self.n_query) > len(pos_rows):
            pi -= 0.01
        ku, kq = n_positives(pi, n_u), n_positives(pi, self.n_query)
        pos = rng.choice(pos_rows, n_p + ku + kq, replace=False)
        neg = rng.choice(neg_rows, (n_u - ku) + (self.n_query - kq), replace=False)
        x = table.x
        unl = np.concatenate([x[pos[n_p:n_p + ku]], x[neg[:n_u - ku]]])
        y_unl = np.r_[np.ones(ku), np.zeros(n_u - ku)].astype(np.int64)
        qry = np.concatenate([x[pos[n_p + ku:]], x[neg[n_u - ku:]]])
        y_q = np.r_[np.ones(kq), np.zeros(self.n_query - kq)].astype(np.int64)
        pu, pq = rng.permutation(n_u), rng.permutation(self.n_query)
        return PUTask(x[pos[:n_p]], unl[pu], y_unl[pu], qry[pq], y_q[pq], pi, {"table": table.name})
