"""Domains of the zsda experiments: rotated images (angle = hidden domain) and wind by month.

A dataset of domains is a list of :class:`Domain` (features, labels, a name and the hidden domain
variable, e.g. the angle, which no method sees). Per seed, ``split_domains`` draws the unseen
target domains among the interior ones (interpolation, as rotated-image benchmarks do); every
other domain is a labelled source domain. Each target domain is split in two halves: the
*evaluation* half (its features are what the methods see at test time; its labels score them) and
the *oracle* half (labels used only by the target oracle).
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy import ndimage

from common.config import ConfigError
from common.data import DataFormatError, load_fashion_mnist, load_mnist
from common.data.core import Resource, find_or_fetch, register_dataset, uses

# PMLB 503_wind (Haslett & Raftery 1989, daily wind speeds at 12 Irish stations 1961-1978), from the
# last PMLB commit before the data moved to Git LFS (see the shared copy's SOURCE.md).
_PMLB_COMMIT = "0820182add20998ed3f88b30efd273107286c695"
WIND_RESOURCE = Resource(
    "503_wind.tsv.gz",
    f"https://raw.githubusercontent.com/EpistasisLab/pmlb/{_PMLB_COMMIT}/datasets/503_wind/503_wind.tsv.gz",
    "sha256:2cc1e040bdc20737674a00039cd80e16758c511e697e524ed17e4335ec93e9a6")  # = the shared copy's SOURCE.md
WIND_HOW = ("place PMLB's 503_wind.tsv.gz in $REPRO_DATA/tabular/regression/ (the shared copy), otherwise it is "
            "downloaded from the PMLB repository at a pinned commit (sha256-verified) unless REPRO_OFFLINE=1")
WIND_SUBDIRS = ["tabular/regression", "pmlb"]


@dataclass
class Domain:
    x: np.ndarray          # (n, d) float32 features
    y: np.ndarray          # (n,) int64 labels or float32 targets
    name: str
    variable: float        # the hidden domain variable (angle in degrees, month); never given to a method


@dataclass
class DomainSplit:
    sources: list[Domain]
    targets_eval: list[Domain]
    targets_oracle: list[Domain]
    task: str              # classification | regression
    n_out: int             # classes, or 1 for regression
    probes: list[Domain] = field(default_factory=list)   # unseen half-way angles (domain-vector check only)


def block_average(images: np.ndarray, size: int) -> np.ndarray:
    """(n, 28, 28) -> (n, size, size) by averaging 28/size x 28/size blocks."""
    f = images.shape[-1] // size
    return images.reshape(len(images), size, f, size, f).mean(axis=(2, 4))


def rotate_images(images: np.ndarray, angle: float) -> np.ndarray:
    """Rotate every (H, W) image by ``angle`` degrees about its centre (bilinear, zero fill)."""
    return ndimage.rotate(images, angle, axes=(1, 2), reshape=False, order=1, mode="constant", cval=0.0)


def rotated_domains(dataset: str, n_domains: int, angle_step: float, n_per_domain: int, image_size: int,
                    seed: int, n_probe: int = 100) -> tuple[list[Domain], list[Domain]]:
    """Domain k = ``n_per_domain`` images rotated by k * angle_step degrees; images are distinct across
    domains and drawn with ``seed``. Also returns *probe* domains at the half-way angles
    (k + 1/2) * angle_step, k = 0..n_domains-2, of ``n_probe`` further unused images each (fewer when the
    dataset runs short; none below 20): unseen angles used only to check that the inferred domain
    vectors follow the angle."""
    if dataset == "rotated_mnist":
        parts = [load_mnist("train"), load_mnist("test")]
    elif dataset == "rotated_fmnist":
        parts = [load_fashion_mnist("train")]
    else:
        raise ConfigError(f"not an image dataset: {dataset!r}")
    x = np.concatenate([p.x for p in parts]).astype(np.float32) / 255.0
    y = np.concatenate([p.y for p in parts]).astype(np.int64)
    need = n_domains * n_per_domain
    if need > len(y):
        raise ConfigError(f"{dataset}: {n_domains} domains x {n_per_domain} images = {need} > {len(y)} images available")
    perm = np.random.default_rng(seed).permutation(len(y))

    def make(idx, angle):
        img = block_average(rotate_images(x[idx], angle), image_size)
        return Domain(img.reshape(len(idx), -1).astype(np.float32), y[idx], f"{angle:g}deg", angle)

    domains = [make(perm[k * n_per_domain:(k + 1) * n_per_domain], k * angle_step) for k in range(n_domains)]
    n_p = min(n_probe, (len(y) - need) // max(n_domains - 1, 1))
    probes = [] if n_p < 20 else [make(perm[need + k * n_p: need + (k + 1) * n_p], (k + 0.5) * angle_step)
                                  for k in range(n_domains - 1)]
    return domains, probes


def read_pmlb(path: Path) -> tuple[np.ndarray, list[str]]:
    """A PMLB table: (rows, header). All values numeric (PMLB encodes categories as integers)."""
    with gzip.open(path, "rt") as f:
        header = f.readline().rstrip("\n").split("\t")
    a = np.atleast_2d(np.genfromtxt(path, delimiter="\t", skip_header=1, dtype=np.float64))
    if a.shape[1] != len(header) or "target" not in header:
        raise DataFormatError(f"{path}: expected {len(header)} tab-separated columns with a 'target' column, "
                              f"got shape {a.shape}")
    return a, header


WIND_STATIONS = ["RPT", "VAL", "ROS", "KIL", "SHA", "BIR", "DUB", "CLA", "MUL", "CLO", "BEL"]


def _wind_path(download: bool | None = None) -> Path:
    _, (path,) = find_or_fetch("pmlb_503_wind", WIND_SUBDIRS, [WIND_RESOURCE], WIND_HOW, (), download)
    return path


register_dataset("pmlb_503_wind", "PMLB 503_wind: daily wind speeds at 12 Irish stations, 1961-1978 (6,574 days)",
                 WIND_HOW, locate=lambda: str(_wind_path(False)), paper="zsda", sources=[WIND_RESOURCE.url])
uses("zsda", "mnist", "fashion_mnist")


def wind_month_domains(path: Path | None = None) -> list[Domain]:
    """12 domains = calendar months; features = 11 stations' daily wind speed, target = Malin Head (MAL)."""
    a, header = read_pmlb(path or _wind_path())
    missing = [c for c in ["month", *WIND_STATIONS] if c not in header]
    if missing:
        raise DataFormatError(f"wind table lacks columns {missing}")
    cols = [header.index(c) for c in WIND_STATIONS]
    month = a[:, header.index("month")].astype(int)
    t = header.index("target")
    out = []
    for m in range(1, 13):
        rows = a[month == m]
        if len(rows) < 20:
            raise DataFormatError(f"wind table: month {m} has {len(rows)} rows")
        out.append(Domain(rows[:, cols].astype(np.float32), rows[:, t].astype(np.float32), f"month{m}", float(m)))
    return out


def split_domains(domains: list[Domain], n_unseen: int, task: str, n_out: int, seed: int) -> DomainSplit:
    """Draw ``n_unseen`` interior domains as targets (seeded); halve each target into evaluation / oracle."""
    rng = np.random.default_rng(seed)
    if not 1 <= n_unseen <= len(domains) - 3:
        raise ConfigError(f"n_unseen={n_unseen} with {len(domains)} domains: need 1 <= n_unseen <= {len(domains) - 3}")
    targets = set(rng.choice(np.arange(1, len(domains) - 1), size=n_unseen, replace=False).tolist())
    sources = [d for k, d in enumerate(domains) if k not in targets]
    ev, orc = [], []
    for k in sorted(targets):
        d = domains[k]
        perm = rng.permutation(len(d.y))
        h = len(perm) // 2
        ev.append(Domain(d.x[perm[:h]], d.y[perm[:h]], d.name, d.variable))
        orc.append(Domain(d.x[perm[h:]], d.y[perm[h:]], d.name, d.variable))
    return DomainSplit(sources, ev, orc, task, n_out)


def load_domains(cfg, seed_images: int, seed_split: int) -> DomainSplit:
    if cfg.dataset == "wind_months":
        return split_domains(wind_month_domains(), cfg.n_unseen, "regression", 1, seed_split)
    doms, probes = rotated_domains(cfg.dataset, cfg.n_domains, cfg.angle_step, cfg.n_per_domain, cfg.image_size,
                                   seed_images)
    split = split_domains(doms, cfg.n_unseen, "classification", 10, seed_split)
    split.probes = probes
    return split
