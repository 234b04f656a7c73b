"""The tasks: the adding problem and the copy task (synthetic, as in the long-dependency literature the
paper builds on), sequential Fashion-MNIST (pixel by pixel) and a UCR time-series classification set.

* adding (Hochreiter & Schmidhuber 1997): inputs (u_t ~ U[0, 1], m_t), two markers m = 1, one in each
  half; target u_a + u_b (MSE; predicting 1 gives about 0.167).
* copy (Arjovsky et al. 2016): 10 symbols from 8, ``seq_len - 20`` blanks, a delimiter, 10 blanks; the
  model repeats the 10 symbols in the last 10 steps (ours: loss on those 10 steps only).
* sfmnist: Fashion-MNIST (common.data) average-pooled by ``pool`` (28 / pool)^2 pixels read one per step.
* ucr: a UCR dataset (TRAIN + TEST joined, a stratified random half for training per seed), series
  block-averaged by ``ucr_stride``; the 2015 archive copy used by this repository (git-blob verified).
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from common.config import ConfigError
from common.data import load_fashion_mnist
from common.data.core import (
    DataFormatError,
    DataMissingError,
    Resource,
    find_files,
    find_or_fetch,
    reading,
    register_dataset,
    uses,
)

UCR_COMMIT = "fae89394bf89fd39a02149267ef2784bae28e23c"
UCR_URL = "https://raw.githubusercontent.com/lnthach/SAX-SEQL/{commit}/data/{name}"
UCR_BLOBS = {  # git blob ids of the uncompressed files at UCR_COMMIT
    "Trace_TRAIN": "283dd0a3d9bce27f98b1f55a2dd06c91bc60cdd6", "Trace_TEST": "37a889a482d9fee5a5a0bc4ae415b70c5905844b",
    "Lighting7_TRAIN": "663bdfad659c28a0006b5ce054d4b425084888eb",
    "Lighting7_TEST": "8e0762b5651622fe5819b5a77021f2cf02635007",
    "SwedishLeaf_TRAIN": "3582d95c8b534cd4356f93f36706a905f590c48d",
    "SwedishLeaf_TEST": "44cd74e5005bcbfc57fdcfa9f2fefd6768f50685",
}
UCR_DATASETS = ("Trace", "Lighting7", "SwedishLeaf")
HOW = (f"downloaded on first use (<Name>_TRAIN/_TEST from github.com/lnthach/SAX-SEQL at {UCR_COMMIT[:7]}, "
       "verified by git blob id, into data/ucr/) unless REPRO_OFFLINE=1; or put <Name>_TRAIN(.gz) and "
       "<Name>_TEST(.gz) in $REPRO_DATA/ucr/")
TASKS = ("adding", "copy", "sfmnist", "ucr")
COPY_SYMBOLS, COPY_LEN = 8, 10


@dataclass
class Task:
    """Training pool and test set as tensors; ``loss``: 'mse' (last step), 'ce' (last step) or 'copy'
    (cross-entropy on the last ``COPY_LEN`` steps)."""
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    loss: str
    n_out: int


def adding(n: int, steps: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    u = rng.uniform(0, 1, (n, steps))
    m = np.zeros((n, steps))
    half = steps // 2
    a = rng.integers(0, half, n)
    b = rng.integers(half, steps, n)
    m[np.arange(n), a] = 1.0
    m[np.arange(n), b] = 1.0
    y = u[np.arange(n), a] + u[np.arange(n), b]
    return np.stack([u, m], -1).astype(np.float32), y[:, None].astype(np.float32)


def copy_task(n: int, steps: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """One-hot inputs over 10 tokens (0 blank, 1..8 symbols, 9 delimiter); targets (n, COPY_LEN) symbols."""
    if steps < 2 * COPY_LEN + 1:
        raise ConfigError(f"copy: seq_len must be >= {2 * COPY_LEN + 1}, got {steps}")
    sym = rng.integers(1, COPY_SYMBOLS + 1, (n, COPY_LEN))
    tok = np.zeros((n, steps), dtype=np.int64)
    tok[:, :COPY_LEN] = sym
    tok[:, steps - COPY_LEN - 1] = COPY_SYMBOLS + 1
    x = np.eye(COPY_SYMBOLS + 2, dtype=np.float32)[tok]
    return x, sym - 1


def _subset(y: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    if n > len(y):
        raise ConfigError(f"asked for {n} examples, the split has {len(y)}")
    return rng.permutation(len(y))[:n]


def sfmnist(n_train: int, n_test: int, pool: int, rng: np.random.Generator):
    if 28 % pool:
        raise ConfigError(f"pool must divide 28, got {pool}")
    out = []
    for split, n in (("train", n_train), ("test", n_test)):
        ds = load_fashion_mnist(split)
        idx = _subset(ds.y, n, rng)
        img = ds.x[idx].astype(np.float32) / 255.0
        s = 28 // pool
        img = img.reshape(n, s, pool, s, pool).mean((2, 4))
        x = ((img.reshape(n, s * s, 1) - 0.286) / 0.353).astype(np.float32)  # Fashion-MNIST pixel mean / std
        out += [x, np.asarray(ds.y)[idx].astype(np.int64)]
    return out


def read_ucr_file(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(series (n, length), labels) of one UCR text file (label first on every line), plain or .gz."""
    opener = gzip.open if str(path).endswith(".gz") else open
    with reading(path, "UCR series file"), opener(path, "rt") as fh:
        rows = [line.replace(",", " ").split() for line in fh if line.strip()]
    if not rows or len({len(r) for r in rows}) != 1 or len(rows[0]) < 4:
        raise DataFormatError(f"{path}: empty, or series of unequal length (UCR files have equal lengths)")
    try:
        arr = np.asarray(rows, dtype=np.float64)
    except ValueError as exc:
        raise DataFormatError(f"{path}: non-numeric value ({exc})") from None
    if not np.isfinite(arr).all():
        raise DataFormatError(f"{path}: missing or infinite values")
    return arr[:, 1:], arr[:, 0].astype(np.int64)


def locate_ucr(name: str, download: bool | None = None) -> list[Path]:
    if name not in UCR_DATASETS:
        raise ConfigError(f"unknown UCR dataset {name!r}; known: {', '.join(UCR_DATASETS)}")
    parts = [f"{name}_TRAIN", f"{name}_TEST"]
    try:  # the shared offline cache stores the files gzip-compressed; a download is plain text
        return find_files(f"ucr/{name}", ["ucr"], [p + ".gz" for p in parts])[1]
    except DataMissingError:
        pass
    res = [Resource(p, UCR_URL.format(commit=UCR_COMMIT, name=p), "gitblob:" + UCR_BLOBS[p]) for p in parts]
    return find_or_fetch(f"ucr/{name}", ["ucr"], res, HOW, download=download)[1]


def ucr(name: str, stride: int, rng: np.random.Generator):
    pairs = [read_ucr_file(p) for p in locate_ucr(name)]
    x = np.concatenate([p[0] for p in pairs])
    labels = np.concatenate([p[1] for p in pairs])
    classes, y = np.unique(labels, return_inverse=True)
    steps = x.shape[1] // stride
    x = x[:, :steps * stride].reshape(len(x), steps, stride).mean(-1)
    x = (x - x.mean(1, keepdims=True)) / (x.std(1, keepdims=True) + 1e-8)
    train = np.concatenate([rng.permutation(np.flatnonzero(y == c))[: (y == c).sum() // 2]
                            for c in range(len(classes))])
    test = np.setdiff1d(np.arange(len(y)), train)
    x = x[..., None].astype(np.float32)
    return x[train], y[train], x[test], y[test], len(classes)


def make_task(cfg, rng: np.random.Generator) -> Task:
    t = torch.as_tensor
    if cfg.task == "adding":
        xtr, ytr = adding(cfg.n_train, cfg.seq_len, rng)
        xte, yte = adding(cfg.n_test, cfg.seq_len, rng)
        return Task(t(xtr), t(ytr), t(xte), t(yte), "mse", 1)
    if cfg.task == "copy":
        xtr, ytr = copy_task(cfg.n_train, cfg.seq_len, rng)
        xte, yte = copy_task(cfg.n_test, cfg.seq_len, rng)
        return Task(t(xtr), t(ytr), t(xte), t(yte), "copy", COPY_SYMBOLS)
    if cfg.task == "sfmnist":
        xtr, ytr, xte, yte = sfmnist(cfg.n_train, cfg.n_test, cfg.pool, rng)
        return Task(t(xtr), t(ytr), t(xte), t(yte), "ce", 10)
    xtr, ytr, xte, yte, k = ucr(cfg.ucr_name, cfg.ucr_stride, rng)
    return Task(t(xtr), t(ytr), t(xte), t(yte), "ce", k)


register_dataset("ucr_rnn_timescale", "UCR Trace / Lighting7 / SwedishLeaf (2015 archive, SAX-SEQL copy)", HOW,
                 paper="rnn_timescale", locate=lambda: locate_ucr("Trace", download=False),
                 sources=[UCR_URL.format(commit=UCR_COMMIT, name="Trace_TRAIN")])
uses("rnn_timescale", "fashion_mnist")
