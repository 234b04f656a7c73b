"""Seeding, device choice and CPU thread count: one call each, used by every run."""

from __future__ import annotations

import os
import random

import numpy as np


def seed_everything(seed: int, deterministic: bool = False) -> None:
    """Seed python, numpy and torch (all CUDA devices too); optionally deterministic kernels."""
    import torch

    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)
    if deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.deterministic = True
        torch.backends.cudnn.benchmark = False


def resolve_device(name: str = "auto"):
    """'auto' -> CUDA when present, else CPU; anything else is passed to torch.device."""
    import torch

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(name)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(f"device {name!r} requested but CUDA is not available on this machine")
    return dev


def set_threads(n: int = 0) -> int:
    """Set torch's CPU thread count (0 = REPRO_THREADS or all cores); returns the number used."""
    import torch

    if n <= 0:
        n = int(os.environ.get("REPRO_THREADS", "0") or 0) or (os.cpu_count() or 1)
    torch.set_num_threads(n)
    return n


def setup(cfg) -> "object":
    """Seed, set threads and return the device for a config with seed/device/threads fields."""
    set_threads(getattr(cfg, "threads", 0))
    seed_everything(getattr(cfg, "seed", 0), getattr(cfg, "deterministic", False))
    return resolve_device(getattr(cfg, "device", "auto"))


def cuda_available() -> bool:
    try:
        import torch
    except ImportError:  # pragma: no cover
        return False
    return torch.cuda.is_available()


def device_name(device=None) -> str:
    """Human-readable device for result rows, e.g. 'cpu (2 cores)' or 'NVIDIA H200'."""
    import torch

    if device is not None and str(device).startswith("cuda") and torch.cuda.is_available():
        return torch.cuda.get_device_name(torch.device(device))
    return f"cpu ({os.cpu_count()} cores)"


def derive_seed(seed: int, stream: str) -> int:
    """A named, independent seed stream of a run's seed: ``derive_seed(seed, "test_tasks")``.

    Replaces ad-hoc offsets (``10_000 + seed``): streams never collide across names or seeds, and the
    value is the same in every process and on every machine (a hash, not python's ``hash``)."""
    import hashlib

    digest = hashlib.sha256(f"{int(seed)}/{stream}".encode()).digest()
    return int.from_bytes(digest[:4], "little") & 0x7FFFFFFF


def paper_logger(slug: str):
    """The logger of a paper's runs: the runner sends it to the run folder's ``log.txt``.
    Papers log here instead of printing."""
    import logging

    return logging.getLogger(f"repro.{slug}")
