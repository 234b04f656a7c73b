"""Time-series tasks for few-shot forecasting: one dataset = one task, split by dataset.

Source: the UCR archive (35 univariate datasets, 2015 release as stored in lnthach/SAX-SEQL at a
pinned commit; the shared offline copy keeps them gzip-compressed). Every series of a dataset (its
TRAIN and TEST files together; class labels are dropped) is one series of the task.

Preprocessing (ours, reconstructed; the paper's section is unreadable here):
- long series are shortened by averaging non-overlapping blocks of ``ceil(T / max_len)`` points, so
  every task has at most ``max_len`` time steps (the shape of the series is kept);
- per-series normalisation (``norm``): 'series' (default) z-normalises each series over its whole
  length, which is how the UCR archive distributes them (every method sees the same scaled series,
  so the comparison stays fair; the scale uses the forecast part); 'context' uses only the observed
  first ``context_frac`` of the steps (no leak, but series with a flat first half blow up: e.g.
  Lighting2's naive next-step MSE becomes 38 instead of 0.47).
"""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from common.config import ConfigError
from common.data import (
    DataFormatError,
    DataMissingError,
    Resource,
    find_files,
    find_or_fetch,
    reading,
    register_dataset,
)

UCR_COMMIT = "fae89394bf89fd39a02149267ef2784bae28e23c"
UCR_URL = "https://raw.githubusercontent.com/lnthach/SAX-SEQL/{commit}/data/{name}"
UCR_SUBDIRS = ["ucr"]
UCR_BLOBS: dict[str, str] = json.loads(Path(__file__).with_name("ucr_blobs.json").read_text())
"""git blob ids of the uncompressed ``<Name>_TRAIN`` / ``<Name>_TEST`` files at ``UCR_COMMIT``."""
UCR_DATASETS = tuple(sorted({k.rsplit("_", 1)[0] for k in UCR_BLOBS}))
HOW = (f"downloaded automatically on first use (<Name>_TRAIN/_TEST from github.com/lnthach/SAX-SEQL, commit "
       f"{UCR_COMMIT[:7]}, verified by git blob id, into data/ucr/) unless REPRO_OFFLINE=1; or put "
       "<Name>_TRAIN(.gz) and <Name>_TEST(.gz) in $REPRO_DATA/ucr/")


def read_ucr_file(path: Path) -> np.ndarray:
    """(n_series, length) values of one UCR text file (label first on every line), plain or .gz."""
    opener = gzip.open if str(path).endswith(".gz") else open
    with reading(path, "UCR series file"), opener(path, "rt") as fh:
        rows = [line.split() for line in fh if line.strip()]
    if not rows:
        raise DataFormatError(f"{path}: no series")
    lengths = {len(r) for r in rows}
    if len(lengths) != 1 or lengths.pop() < 4:
        raise DataFormatError(f"{path}: series of unequal length or shorter than 3 steps (UCR files have equal lengths)")
    try:
        arr = np.asarray(rows, dtype=np.float64)
    except ValueError as exc:
        raise DataFormatError(f"{path}: non-numeric value ({exc})") from None
    if not np.isfinite(arr).all():
        raise DataFormatError(f"{path}: missing or infinite values")
    return arr[:, 1:]


def _locate_files(name: str, download: bool | None = None) -> list[Path]:
    parts = [f"{name}_TRAIN", f"{name}_TEST"]
    try:  # the shared offline cache stores the files gzip-compressed; a download is plain text
        return find_files(f"ucr/{name}", UCR_SUBDIRS, [p + ".gz" for p in parts])[1]
    except DataMissingError:
        pass
    resources = [Resource(p, UCR_URL.format(commit=UCR_COMMIT, name=p), "gitblob:" + UCR_BLOBS[p]) for p in parts]
    return find_or_fetch(f"ucr/{name}", UCR_SUBDIRS, resources, HOW, download=download)[1]


def load_ucr(name: str, download: bool | None = None) -> np.ndarray:
    """Every series of UCR dataset ``name`` (TRAIN then TEST), shape (n_series, length)."""
    if name not in UCR_DATASETS:
        raise ConfigError(f"unknown UCR dataset {name!r}; known: {', '.join(UCR_DATASETS)}")
    return np.concatenate([read_ucr_file(p) for p in _locate_files(name, download)])


register_dataset("ucr35", "35 univariate UCR datasets (2015 archive, SAX-SEQL copy); one task per dataset", HOW,
                 paper="fewshot_ts", locate=lambda: _locate_files(UCR_DATASETS[0], download=False),
                 sources=[UCR_URL.format(commit=UCR_COMMIT, name="<Name>_TRAIN")])


def block_average(x: np.ndarray, max_len: int) -> np.ndarray:
    """Average non-overlapping blocks of ``ceil(T / max_len)`` steps (a trailing partial block is dropped)."""
    f = int(np.ceil(x.shape[1] / max_len))
    if f <= 1:
        return x
    t = x.shape[1] // f
    return x[:, : t * f].reshape(len(x), t, f).mean(2)


def normalise(x: np.ndarray, context: int) -> np.ndarray:
    """Per series: subtract the mean and divide by the std of the first ``context`` steps."""
    mu = x[:, :context].mean(1, keepdims=True)
    sd = x[:, :context].std(1, keepdims=True)
    return (x - mu) / np.where(sd > 1e-8, sd, 1.0)


@dataclass(frozen=True)
class Task:
    name: str
    series: np.ndarray
    """(n_series, T) float32, normalised."""
    context: int
    """Observed steps of a query series (t0): forecasts start at step ``context``."""


def make_task(name: str, raw: np.ndarray, max_len: int, context_frac: float, norm: str = "series") -> Task:
    x = block_average(raw, max_len)
    t0 = int(round(context_frac * x.shape[1]))
    if not 2 <= t0 <= x.shape[1] - 1:
        raise ConfigError(f"{name}: context_frac={context_frac} leaves no context or nothing to forecast "
                          f"(length {x.shape[1]})")
    if norm not in ("series", "context"):
        raise ConfigError(f"norm must be 'series' or 'context'; got {norm!r}")
    return Task(name, normalise(x, x.shape[1] if norm == "series" else t0).astype(np.float32), t0)


def load_tasks(names, max_len: int, context_frac: float, norm: str = "series", loader=load_ucr) -> list[Task]:
    return [make_task(n, loader(n), max_len, context_frac, norm) for n in names]


def split_datasets(names, n_val: int, n_test: int, seed: int):
    """(meta-train, validation, meta-test) dataset names: a random partition by dataset."""
    names = sorted(names)
    if n_val < 1 or n_test < 1 or n_val + n_test > len(names) - 2:
        raise ConfigError(f"cannot split {len(names)} datasets into >= 2 meta-train, {n_val} validation and "
                          f"{n_test} meta-test datasets")
    perm = np.random.default_rng(seed).permutation(len(names))
    pick = [names[i] for i in perm]
    return sorted(pick[n_val + n_test:]), sorted(pick[:n_val]), sorted(pick[n_val:n_val + n_test])


@dataclass(frozen=True)
class Episode:
    task: int
    support: np.ndarray
    """Indices of the support series, nested: the first N form the support set of size N."""
    query: np.ndarray


def sample_episodes(tasks: list[Task], n_episodes: int, n_support_max: int, n_query: int,
                    seed: int) -> list[Episode]:
    """``n_episodes`` episodes per task; support and query series are disjoint."""
    rng = np.random.default_rng(seed)
    out = []
    for i, t in enumerate(tasks):
        if len(t.series) < n_support_max + n_query:
            raise ConfigError(f"task {t.name} has {len(t.series)} series, fewer than n_support {n_support_max} "
                              f"+ n_query {n_query}")
        for _ in range(n_episodes):
            idx = rng.permutation(len(t.series))
            out.append(Episode(i, idx[:n_support_max], idx[n_support_max:n_support_max + n_query]))
    return out
