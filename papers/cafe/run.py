"""One table cell of the CAFe reproduction: (dataset, method, stream, seed) -> error rates.

Reads top to bottom: (1) the source model, trained once on clean source images (``train.py``) and
cached; (2) the pre-computed source feature statistics + spectral feature groups (``method.py``),
cached; (3) the corrupted test streams (quick: made here from real images; full: the CIFAR-10-C /
CIFAR-100-C / ImageNet-C files); (4) online test-time adaptation over the stream with the cell's
method (``baselines.METHODS``, protocol in ``adapt.py``); (5) error rates as rows.

Every random choice comes from the run seed through a named stream (``derive_seed(seed, name)``):
the source model (``source_train``: initialisation, batch order, augmentation; ``source_subset``),
the source statistics (``stats_subset``, ``grouping``), the benchmark (``corruption_draw``: which test
images and the corruptions' own randomness; ``clean_draw``) and the stream order (``stream_order``).
Caches (``common.cache``: ``runs/cafe/_cache/<kind>-<hash>/``) are keyed by exactly the fields that
determine them, so the cells of one seed share one source model, one set of statistics and one
benchmark (one of each per seed and dataset).

    python -m papers.cafe.run --profile smoke --dataset fmnist --method cafe --stream mixed
"""

from __future__ import annotations

import contextlib
import copy
import fcntl
import sys
from pathlib import Path

import numpy as np

from common.cache import cache_entry
from common.runtime import derive_seed, paper_logger, setup

from . import data as D
from .adapt import run_stream
from .baselines import METHODS
from .config import Config
from .corruptions import CORRUPTIONS
from .method import SourceStatistics, compute_source_statistics
from .models import build_model, imagenet_resnet50, imagenet_tensor, to_tensor
from .train import train_source_model

SLUG = "cafe"
log = paper_logger(SLUG)


SOURCE_SPLIT = {"cifar10sub": "test"}
"""The CIFAR-10 subset has 10,000 test-split and 5,000 train-split images: the stronger source model is
trained on the 10,000 (stand-in, README) and the corrupted streams are drawn from the 5,000."""


def source_split(dataset: str) -> str:
    return SOURCE_SPLIT.get(dataset, "train")


def target_split(dataset: str) -> str:
    return "train" if source_split(dataset) == "test" else "test"


def _cached(entry, name: str, compute, fmt: str):
    """``entry.load_or_compute`` under an exclusive file lock, so that two cells running at once that
    need the same source model / statistics / benchmark compute it once (the second waits, then loads)."""
    entry.folder.mkdir(parents=True, exist_ok=True)
    with open(entry.folder / ".lock", "w") as fh, contextlib.ExitStack() as stack:
        fcntl.flock(fh, fcntl.LOCK_EX)
        stack.callback(fcntl.flock, fh, fcntl.LOCK_UN)
        return entry.load_or_compute(name, compute, fmt=fmt)


def _subset(x, y, n: int, seed: int):
    """A sorted random subset of ``n`` items (all when ``n`` is 0 or too large)."""
    if n and n < len(y):
        idx = np.sort(np.random.default_rng(seed).choice(len(y), n, replace=False))
        return x[idx], y[idx]
    return x, y


# ------------------------------------------------------------------ (1) source model

def source_key(cfg: Config) -> dict:
    """Everything that determines the trained source model (thread count and determinism included:
    they change the float summation order)."""
    return {"dataset": cfg.dataset, "split": source_split(cfg.dataset), "arch": cfg.arch,
            "augment": cfg.source_augment, "depth": cfg.depth, "width": cfg.width, "epochs": cfg.source_epochs,
            "lr": cfg.source_lr, "bs": cfg.source_batch_size, "momentum": cfg.source_momentum,
            "wd": cfg.source_weight_decay, "warmup": cfg.source_warmup_frac, "n": cfg.n_source_train,
            "seed": derive_seed(cfg.seed, "source_train"), "subset_seed": derive_seed(cfg.seed, "source_subset"),
            "threads": cfg.threads, "deterministic": cfg.deterministic, "device": str(cfg.device),
            "imagenet_weights": cfg.imagenet_weights if cfg.dataset == "imagenet" else ""}


def source_model(cfg: Config, device):
    if cfg.dataset == "imagenet":
        return imagenet_resnet50(cfg.imagenet_weights).to(device).eval()

    def train():
        x, y = _subset(*D.load_clean(cfg.dataset, source_split(cfg.dataset)), cfg.n_source_train,
                       derive_seed(cfg.seed, "source_subset"))
        seed = derive_seed(cfg.seed, "source_train")
        return train_source_model(x, y, D.num_classes(cfg.dataset), cfg, device, seed).state_dict()

    state = _cached(cache_entry(SLUG, "source", source_key(cfg)), "model.pt", train, fmt="torch")
    model = build_model(cfg.arch, cfg.depth, cfg.width, D.num_classes(cfg.dataset))
    model.load_state_dict(state)
    return model.to(device).eval()


# ------------------------------------------------------------------ (2) pre-computed source statistics

def _source_batches(cfg: Config, device):
    bs = cfg.stats_batch_size
    if cfg.dataset == "imagenet":
        files, _, _ = D.list_image_folder(D.imagenet_train_folder())
        sel = np.random.default_rng(derive_seed(cfg.seed, "stats_subset")).permutation(len(files))[:cfg.n_stats or len(files)]
        return (imagenet_tensor(D.load_image_files([files[j] for j in sel[i:i + bs]]), device)
                for i in range(0, len(sel), bs))
    x, _ = _subset(*D.load_clean(cfg.dataset, source_split(cfg.dataset)), cfg.n_stats,
                   derive_seed(cfg.seed, "stats_subset"))
    return (to_tensor(x[i:i + bs], device) for i in range(0, len(x), bs))


def source_statistics(cfg: Config, model, device) -> SourceStatistics:
    def compute():
        seed = derive_seed(cfg.seed, "grouping")
        return compute_source_statistics(model, _source_batches(cfg, device), cfg.n_groups, seed=seed).state()

    key = {**source_key(cfg), "n_groups": cfg.n_groups, "n_stats": cfg.n_stats, "stats_bs": cfg.stats_batch_size,
           "stats_seed": derive_seed(cfg.seed, "stats_subset"), "grouping_seed": derive_seed(cfg.seed, "grouping")}
    state = _cached(cache_entry(SLUG, "stats", key), "stats.pt", compute, fmt="torch")
    return SourceStatistics.from_state(state).to(device)


# ------------------------------------------------------------------ (3) corrupted test streams

def _make_quick_benchmark(cfg: Config) -> dict[str, np.ndarray]:
    x, y = D.load_clean(cfg.dataset, target_split(cfg.dataset))
    if cfg.n_per_corruption > len(y):
        raise ValueError(f"n_per_corruption ({cfg.n_per_corruption}) exceeds the {len(y)} target images of {cfg.dataset}")
    bench = D.make_corrupted_benchmark(x, y, cfg.n_per_corruption, cfg.severity, derive_seed(cfg.seed, "corruption_draw"))
    rng = np.random.default_rng(derive_seed(cfg.seed, "clean_draw"))
    idx = np.sort(rng.choice(len(y), cfg.n_per_corruption, replace=False))
    arrays = {f"x_{c}": v[0] for c, v in bench.items()} | {f"y_{c}": v[1] for c, v in bench.items()}
    return arrays | {"x_clean": x[idx], "y_clean": y[idx]}


def benchmark(cfg: Config) -> dict[str, tuple]:
    """{corruption: (images, labels)} plus 'clean' (the same kind of draw uncorrupted, quick only);
    ImageNet-C images are file paths, read batch by batch."""
    draw = derive_seed(cfg.seed, "corruption_draw")
    if cfg.dataset in ("cifar10", "cifar100"):   # the fixed -C files: the seed draws the subset (if any)
        return {c: _subset(*D.load_cifar_c(cfg.dataset, c, cfg.severity), cfg.n_per_corruption, draw)
                for c in CORRUPTIONS}
    if cfg.dataset == "imagenet":
        out = {}
        for c in CORRUPTIONS:
            files, y, _ = D.list_image_folder(D.imagenet_c_folder(c, cfg.severity))
            sel = np.sort(np.random.default_rng(draw).permutation(len(files))[:cfg.n_per_corruption])
            out[c] = ([files[i] for i in sel], y[sel])
        return out
    key = {"dataset": cfg.dataset, "split": target_split(cfg.dataset), "severity": cfg.severity, "n": cfg.n_per_corruption, "seed": draw,
           "clean_seed": derive_seed(cfg.seed, "clean_draw")}
    z = _cached(cache_entry(SLUG, "bench", key), "bench.npz", lambda: _make_quick_benchmark(cfg), fmt="npz")
    return {c: (z[f"x_{c}"], z[f"y_{c}"]) for c in CORRUPTIONS + ["clean"]}


# ------------------------------------------------------------------ (4) adaptation, (5) rows

def run(cfg: Config, workdir: Path | None = None) -> list[dict]:
    device = setup(cfg)
    model = source_model(cfg, device)
    stats = source_statistics(cfg, model, device)
    bench = benchmark(cfg)
    if cfg.dataset == "imagenet":
        def load(x, idx):
            return imagenet_tensor(D.load_image_files([x[j] for j in idx]), device)
    else:
        def load(x, idx):
            return to_tensor(x[idx], device)
    rng = np.random.default_rng(derive_seed(cfg.seed, "stream_order"))

    def error_pct(x, y) -> tuple[float, np.ndarray]:
        """Error of one online pass of the cell's method over ``x`` in a random order (fresh model)."""
        adapter = METHODS[cfg.method](copy.deepcopy(model), stats, cfg)
        ok = run_stream(adapter, x, y, rng.permutation(len(y)), cfg.batch_size, load)
        return 100 * (1 - ok.mean()), ok

    name = f"{cfg.dataset}_c_ours" if cfg.dataset in ("cifar10sub", "fmnist") else f"{cfg.dataset}_c"
    rows = []

    def row(setting, value, n):
        rows.append({"dataset": name, "setting": setting, "metric": "error_pct", "value": float(value), "n": int(n)})

    if cfg.stream == "single":
        errs = []
        for c in CORRUPTIONS:
            errs.append(error_pct(*bench[c])[0])
            row(c, errs[-1], len(bench[c][1]))
            log.info("%s %s error %.2f", cfg.method, c, errs[-1])
        row("mean", np.mean(errs), len(CORRUPTIONS) * cfg.n_per_corruption)
        if "clean" in bench:
            row("clean", error_pct(*bench["clean"])[0], len(bench["clean"][1]))
        return rows
    if cfg.dataset == "imagenet":
        xs = [f for c in CORRUPTIONS for f in bench[c][0]]
    else:
        xs = np.concatenate([bench[c][0] for c in CORRUPTIONS])
    ys = np.concatenate([bench[c][1] for c in CORRUPTIONS])
    kind = np.repeat(np.arange(len(CORRUPTIONS)), [len(bench[c][1]) for c in CORRUPTIONS])
    err, ok = error_pct(xs, ys)
    row("mixed", err, len(ys))
    for k, c in enumerate(CORRUPTIONS):
        row(f"mixed:{c}", 100 * (1 - ok[kind == k].mean()), (kind == k).sum())
    log.info("%s mixed stream error %.2f", cfg.method, err)
    return rows


if __name__ == "__main__":
    from common.cli import paper_main

    sys.exit(paper_main(SLUG))
