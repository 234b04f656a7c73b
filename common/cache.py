"""A content-keyed on-disk cache for work shared by several cells (a trained source model, a
feature matrix, a permutation), with atomic saves.

The key is a mapping of exactly the fields that determine the cached object; its hash names the
entry, so two cells that need the same object share it and a change of any field makes a new one.
Entries live in ``runs/<slug>/_cache/<kind>-<hash>/`` (git-ignored; ``make clean-runs`` drops them)::

    entry = cache_entry("cafe", "source", {"dataset": cfg.dataset, "epochs": cfg.epochs, "seed": seed})
    model = entry.load_or_compute("model.pt", lambda: train(...), fmt="torch")

A save writes a temporary file and renames it, so a reader never sees half a file and a killed
process leaves no broken entry. Torch files are loaded with ``weights_only=True``.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np

from common import results as R

FORMATS = ("torch", "npy", "npz", "json")


def key_hash(key: Mapping[str, Any]) -> str:
    """12-hex-digit hash of a key (order of fields and process do not matter)."""
    blob = json.dumps(dict(key), sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


@dataclass(frozen=True)
class CacheEntry:
    folder: Path

    def path(self, name: str) -> Path:
        return self.folder / name

    def exists(self, name: str) -> bool:
        return self.path(name).is_file()

    def save(self, name: str, obj: Any, fmt: str) -> Path:
        return save_atomic(self.path(name), obj, fmt)

    def load(self, name: str, fmt: str) -> Any:
        return load(self.path(name), fmt)

    def load_or_compute(self, name: str, compute: Callable[[], Any], fmt: str) -> Any:
        """The cached object, or ``compute()`` saved first (then reloaded, so a hit and a miss
        return the same thing)."""
        if not self.exists(name):
            self.save(name, compute(), fmt)
        return self.load(name, fmt)


def cache_entry(slug: str, kind: str, key: Mapping[str, Any], root: Path | None = None) -> CacheEntry:
    """The entry for ``key``; the folder exists and records its key in ``key.json``."""
    folder = (root or R.runs_root()) / slug / "_cache" / f"{kind}-{key_hash({'kind': kind, **key})}"
    if not (folder / "key.json").is_file():
        R.write_json_atomic(folder / "key.json", dict(key))
    return CacheEntry(folder)


def _tmp(path: Path) -> Path:
    return path.with_name(f".{path.name}.tmp{os.getpid()}{path.suffix}")


def save_atomic(path: Path, obj: Any, fmt: str) -> Path:
    if fmt not in FORMATS:
        raise ValueError(f"unknown cache format {fmt!r}; valid: {', '.join(FORMATS)}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _tmp(path)
    if fmt == "torch":
        import torch

        torch.save(obj, tmp)
    elif fmt == "npy":
        with open(tmp, "wb") as fh:
            np.save(fh, np.asarray(obj), allow_pickle=False)
    elif fmt == "npz":
        with open(tmp, "wb") as fh:
            np.savez(fh, **obj)
    else:
        tmp.write_text(json.dumps(obj, sort_keys=True, default=str), encoding="utf-8")
    os.replace(tmp, path)
    return path


def load(path: Path, fmt: str) -> Any:
    if fmt == "torch":
        import torch

        return torch.load(path, map_location="cpu", weights_only=True)
    if fmt == "npy":
        return np.load(path, allow_pickle=False)
    if fmt == "npz":
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    if fmt == "json":
        return json.loads(Path(path).read_text(encoding="utf-8"))
    raise ValueError(f"unknown cache format {fmt!r}; valid: {', '.join(FORMATS)}")
