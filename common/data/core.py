"""Dataset registry, search roots, verified downloads and the one error for missing data.

Search order for every dataset: each folder of ``$REPRO_DATA`` (colon-separated), then the
project's ``data/`` folder, then dataset-specific system folders (e.g. the Debian
``dataset-fashion-mnist`` package). Downloads go to ``data/<dataset>/`` and only happen when
asked for (``download=True`` or ``REPRO_DOWNLOAD=1``); every downloaded file is checked against
its published checksum and deleted when it does not match.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Sequence

REPO_ROOT = Path(__file__).resolve().parents[2]
DATA_DIR = REPO_ROOT / "data"


class DataMissingError(FileNotFoundError):
    """A dataset is not on this machine; the message says where we looked and how to get it."""


class DataFormatError(ValueError):
    """A dataset file exists but is truncated or not in the expected format."""


class ChecksumError(ValueError):
    """A downloaded file does not match its published checksum (the file has been deleted)."""


def search_roots() -> list[Path]:
    """``$REPRO_DATA`` entries (colon-separated, in order), then ``<repo>/data``."""
    roots = [Path(p).expanduser() for p in os.environ.get("REPRO_DATA", "").split(os.pathsep) if p.strip()]
    roots.append(DATA_DIR)
    return roots


def download_enabled(download: bool | None = None) -> bool:
    if download is not None:
        return download
    return os.environ.get("REPRO_DOWNLOAD", "0") == "1"


def candidate_dirs(subdirs: Sequence[str], extra: Iterable[str | Path] = ()) -> list[Path]:
    """Every ``root/subdir`` in search order, then the extra (system) folders."""
    dirs = [root / sub for root in search_roots() for sub in subdirs]
    dirs += [Path(e) for e in extra]
    return dirs


def find_files(dataset: str, subdirs: Sequence[str], names: Sequence[str],
               extra: Iterable[str | Path] = (), how: str = "") -> tuple[Path, list[Path]]:
    """First folder among the candidates that holds every file in ``names``.

    Returns (folder, [folder/name ...]); raises :class:`DataMissingError` otherwise.
    """
    dirs = candidate_dirs(subdirs, extra)
    for d in dirs:
        paths = [d / n for n in names]
        if all(p.is_file() for p in paths):
            return d, paths
    raise missing(dataset, dirs, names, how)


def missing(dataset: str, looked: Sequence[Path], names: Sequence[str], how: str) -> DataMissingError:
    where = "\n".join(f"  - {p}" for p in looked)
    return DataMissingError(
        f"dataset {dataset!r} not found: needed {', '.join(names)} in one of\n{where}\n"
        f"How to obtain it: {how or 'see data/README.md'}\n"
        f"(Set REPRO_DATA=/path/a:/path/b to add search folders.)"
    )


# --------------------------------------------------------------------------------------
# Checksums and downloads.


def file_digest(path: Path, algo: str = "sha256") -> str:
    h = hashlib.new(algo)
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def verify_checksum(path: Path, checksum: str) -> None:
    """``checksum`` is ``'sha256:<hex>'`` or ``'md5:<hex>'`` (a bare hex string means sha256)."""
    algo, _, expected = checksum.partition(":") if ":" in checksum else ("sha256", "", checksum)
    got = file_digest(path, algo)
    if got != expected.lower():
        raise ChecksumError(f"{path.name}: {algo} {got} does not match the published {expected}")


def download(url: str, dest: Path, checksum: str, opener: Callable[[str], object] | None = None) -> Path:
    """Download ``url`` to ``dest`` and verify it; a mismatch deletes the file and raises.

    The file is written to ``dest.part`` and only renamed to ``dest`` once verified, so a bad
    or interrupted download is never picked up by a loader.
    """
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    open_url = opener or (lambda u: urllib.request.urlopen(u, timeout=60))  # noqa: S310
    try:
        with open_url(url) as resp, open(part, "wb") as fh:  # type: ignore[attr-defined]
            shutil.copyfileobj(resp, fh)
        verify_checksum(part, checksum)
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    os.replace(part, dest)
    return dest


@dataclass(frozen=True)
class Resource:
    """One file of a dataset: its name, official URL and published checksum."""

    name: str
    url: str
    checksum: str


def fetch_resources(dataset: str, resources: Sequence[Resource], subdir: str) -> Path:
    """Download every resource of a dataset into ``data/<subdir>/`` (skipping verified files)."""
    folder = DATA_DIR / subdir
    for res in resources:
        dest = folder / res.name
        if dest.is_file():
            try:
                verify_checksum(dest, res.checksum)
                continue
            except ChecksumError:
                dest.unlink()
        download(res.url, dest, res.checksum)
    return folder


# --------------------------------------------------------------------------------------
# Registry.


@dataclass(frozen=True)
class DatasetInfo:
    name: str
    description: str
    loader: Callable[..., object]
    how_to_obtain: str


REGISTRY: dict[str, DatasetInfo] = {}


def register(name: str, description: str, how_to_obtain: str):
    """Decorator: add a loader to the registry under ``name``."""

    def deco(fn):
        REGISTRY[name] = DatasetInfo(name, description, fn, how_to_obtain)
        return fn

    return deco


def load(name: str, **kwargs):
    """Load a registered dataset by name; unknown names list the registered ones."""
    if name not in REGISTRY:
        raise KeyError(f"unknown dataset {name!r}; registered: {', '.join(sorted(REGISTRY))}")
    return REGISTRY[name].loader(**kwargs)
