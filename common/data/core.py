"""Dataset registry, search roots, verified downloads and the errors for missing or bad data.

Search order for every dataset: each folder of ``$REPRO_DATA`` (colon-separated), then the
project's ``data/`` folder, then dataset-specific system folders (e.g. the Debian
``dataset-fashion-mnist`` package). This module is the only place that knows these roots:
loaders call :func:`find_files` / :func:`find_dir` / :func:`candidate_dirs`.

Downloads. A dataset whose files have a published checksum is downloaded into
``data/<dataset>/`` on first use when it is not found (:func:`find_or_fetch`): the file is
written under a temporary name, verified (sha256, the authors' MD5, or the git blob id at a
pinned commit) and only then renamed, so an interrupted or tampered download is never read.
``REPRO_OFFLINE=1`` forbids every download; a loader called with ``download=False`` does too.
Without a network the attempt fails within :data:`CONNECT_TIMEOUT_S` seconds with one
:class:`DataMissingError` naming the dataset, the folders searched, the download source and
``REPRO_DATA``. A progress bar (tqdm) is shown unless ``REPRO_PROGRESS=0``.

Errors (one documented path; the sweep treats all three as bad input and stops):
:class:`DataMissingError` (not on this machine and not downloadable now),
:class:`DataFormatError` (a file exists but is truncated or not in the expected format; it names
the file), :class:`ChecksumError` (a download does not match its published checksum). All are
:class:`DataError`.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import logging
import os
import pickle
import tarfile
import threading
import urllib.error
import urllib.request
import uuid
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator, Sequence

REPO_ROOT = Path(__file__).resolve().parents[2]
DATA_DIR = REPO_ROOT / "data"
CONNECT_TIMEOUT_S = 10.0
"""Seconds to wait for a download server to answer (DNS + connect + first byte)."""
READ_TIMEOUT_S = 60.0
"""Seconds a running download may stall before it is abandoned."""

log = logging.getLogger("common.data")


class DataError(Exception):
    """Base of every data problem: missing, malformed or failing its checksum."""


class DataMissingError(DataError, FileNotFoundError):
    """A dataset is not on this machine; the message says where we looked and how to get it."""


class DataFormatError(DataError, ValueError):
    """A dataset file exists but is truncated or not in the expected format (the message names it)."""


class ChecksumError(DataError, ValueError):
    """A downloaded file does not match its published checksum (the file has been deleted)."""


# --------------------------------------------------------------------------------------
# Environment switches.


def offline() -> bool:
    """``REPRO_OFFLINE=1``: never download."""
    return os.environ.get("REPRO_OFFLINE", "0") not in ("", "0")


def download_enabled(download: bool | None = None) -> bool:
    """Downloads are on by default; ``download=False`` or ``REPRO_OFFLINE=1`` turns them off."""
    if offline():
        return False
    return True if download is None else bool(download)


def progress_enabled() -> bool:
    return os.environ.get("REPRO_PROGRESS", "1") != "0"


# --------------------------------------------------------------------------------------
# Search roots.


def search_roots() -> list[Path]:
    """``$REPRO_DATA`` entries (colon-separated, in order), then ``<repo>/data``."""
    roots = [Path(p).expanduser() for p in os.environ.get("REPRO_DATA", "").split(os.pathsep) if p.strip()]
    roots.append(DATA_DIR)
    return roots


def candidate_dirs(subdirs: Sequence[str], extra: Iterable[str | Path] = ()) -> list[Path]:
    """Every ``root/subdir`` in search order, then the extra (system) folders."""
    dirs = [root / sub if sub else root for root in search_roots() for sub in subdirs]
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


def find_dir(dataset: str, subdirs: Sequence[str], marker: str, how: str = "",
             extra: Iterable[str | Path] = ()) -> Path:
    """First candidate folder ``root/subdir`` in which ``marker`` (a file or folder) exists."""
    dirs = candidate_dirs(subdirs, extra)
    for d in dirs:
        if (d / marker).exists():
            return d
    raise missing(dataset, dirs, [marker], how)


def missing(dataset: str, looked: Sequence[Path], names: Sequence[str], how: str,
            sources: Sequence[str] = (), failure: str = "") -> DataMissingError:
    """The one message for a dataset that is not here: what, where we looked, how to get it."""
    where = "\n".join(f"  - {p}" for p in looked)
    msg = f"dataset {dataset!r} not found: needed {', '.join(names)} in one of\n{where}\n"
    if sources:
        src = "\n".join(f"  - {u}" for u in sources[:2])
        if len(sources) > 2:
            src += f"\n  - ... and {len(sources) - 2} more files beside them"
        if failure:
            msg += f"Automatic download failed ({failure}); download source:\n{src}\n"
        elif offline():
            msg += f"Downloads are disabled (REPRO_OFFLINE=1); unset it to download from:\n{src}\n"
        else:
            msg += f"Downloads were not allowed for this call; download source:\n{src}\n"
    msg += f"How to obtain it: {how or 'see data/README.md'}\n"
    msg += "(Set REPRO_DATA=/path/a:/path/b to the folders that hold the datasets.)"
    return DataMissingError(msg)


# --------------------------------------------------------------------------------------
# Truncated or corrupt files -> one DataFormatError naming the file.

CORRUPT_FILE_ERRORS = (zipfile.BadZipFile, EOFError, zlib.error, tarfile.TarError, pickle.UnpicklingError,
                       OSError, ValueError, KeyError, IndexError)


@contextlib.contextmanager
def reading(path: str | Path, what: str = "") -> Iterator[None]:
    """Turn the errors a truncated or corrupt file raises while it is parsed (``BadZipFile``,
    ``EOFError``, zlib errors, tar errors, short reads seen as ``ValueError``...) into one
    :class:`DataFormatError` that names the file. Missing files and :class:`DataError` pass."""
    try:
        yield
    except (DataError, FileNotFoundError, PermissionError, IsADirectoryError, MemoryError):
        raise
    except CORRUPT_FILE_ERRORS as exc:
        kind = f" ({what})" if what else ""
        raise DataFormatError(f"{path}{kind}: cannot be read ({type(exc).__name__}: {exc}); the file is "
                              f"truncated or corrupt: delete it and obtain it again") from exc


# --------------------------------------------------------------------------------------
# Checksums and downloads.


def file_digest(path: Path, algo: str = "sha256") -> str:
    """Hex digest; ``algo='gitblob'`` gives the git object id (what ``git hash-object`` prints)."""
    if algo == "gitblob":
        h = hashlib.sha1()
        h.update(b"blob %d\0" % Path(path).stat().st_size)
    else:
        h = hashlib.new(algo)
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def git_blob_sha1(path: Path) -> str:
    return file_digest(path, "gitblob")


def verify_checksum(path: Path, checksum: str) -> None:
    """``checksum`` is ``'sha256:<hex>'``, ``'md5:<hex>'`` or ``'gitblob:<sha1>'`` (bare hex = sha256)."""
    algo, _, expected = checksum.partition(":") if ":" in checksum else ("sha256", "", checksum)
    got = file_digest(path, algo)
    if got != expected.lower():
        raise ChecksumError(f"{path.name}: {algo} {got} does not match the published {expected}")


def _open_url(url: str):
    """``urlopen`` with a bound on the time to the first answer, DNS lookup included (a hanging
    resolver is not covered by the socket timeout, so the open runs in a helper thread)."""
    box: dict[str, object] = {}

    def target() -> None:
        try:
            box["resp"] = urllib.request.urlopen(url, timeout=READ_TIMEOUT_S)  # noqa: S310
        except BaseException as exc:  # noqa: BLE001 - handed to the caller
            box["err"] = exc

    worker = threading.Thread(target=target, daemon=True)
    worker.start()
    worker.join(CONNECT_TIMEOUT_S)
    if worker.is_alive():
        raise urllib.error.URLError(f"no answer within {CONNECT_TIMEOUT_S:.0f} s")
    if "err" in box:
        raise box["err"]  # type: ignore[misc]
    return box["resp"]


def download(url: str, dest: Path, checksum: str, opener: Callable[[str], object] | None = None) -> Path:
    """Download ``url`` to ``dest`` and verify it; a mismatch deletes the file and raises.

    The file is written to a unique temporary name beside ``dest`` and renamed only once
    verified, so a bad or interrupted download is never picked up by a loader, and two
    processes fetching the same file do not write into one another.
    """
    from tqdm import tqdm

    part = dest.with_name(f"{dest.name}.{uuid.uuid4().hex[:8]}.part")
    log.info("downloading %s -> %s", url, dest)
    resp = (opener or _open_url)(url)  # fails before anything is written when there is no network
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        with resp, open(part, "wb") as fh:  # type: ignore[attr-defined]
            total = None
            with contextlib.suppress(AttributeError, TypeError, ValueError):
                total = int(resp.headers.get("Content-Length"))  # type: ignore[attr-defined]
            with tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024, desc=dest.name,
                      disable=not progress_enabled(), leave=False) as bar:
                for chunk in iter(lambda: resp.read(1 << 20), b""):
                    fh.write(chunk)
                    bar.update(len(chunk))
        verify_checksum(part, checksum)
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    os.replace(part, dest)
    log.info("verified %s (%s)", dest.name, checksum.partition(":")[0])
    return dest


@dataclass(frozen=True)
class Resource:
    """One file of a dataset: its name, official URL and published checksum."""

    name: str
    url: str
    checksum: str


NETWORK_ERRORS = (urllib.error.URLError, TimeoutError, ConnectionError, OSError, http.client.HTTPException)


def fetch_resources(dataset: str, resources: Sequence[Resource], subdir: str) -> Path:
    """Download every resource of a dataset into ``data/<subdir>/`` (skipping verified files).

    Network failures propagate (``URLError`` / ``OSError``); :func:`find_or_fetch` turns them
    into the one :class:`DataMissingError`.
    """
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


def fetch_or_raise(dataset: str, resources: Sequence[Resource], subdir: str, looked: Sequence[Path],
                   how: str, download: bool | None = None) -> Path:
    """Download ``resources`` into ``data/<subdir>/`` when allowed; otherwise, or when the network
    fails, raise the one :class:`DataMissingError` naming the dataset, the folders searched, the
    download source and ``REPRO_DATA``."""
    names = [r.name for r in resources]
    urls = [r.url for r in resources]
    if not download_enabled(download):
        raise missing(dataset, looked, names, how, urls)
    try:
        return fetch_resources(dataset, resources, subdir)
    except ChecksumError:
        raise
    except NETWORK_ERRORS as exc:
        reason = getattr(exc, "reason", None) or exc
        raise missing(dataset, looked, names, how, urls, failure=f"{type(exc).__name__}: {reason}") from None


def find_or_fetch(dataset: str, subdirs: Sequence[str], resources: Sequence[Resource], how: str,
                  extra: Iterable[str | Path] = (), download: bool | None = None,
                  names: Sequence[str] | None = None) -> tuple[Path, list[Path]]:
    """Find the files of ``resources`` (or ``names``, when the files read are not the downloaded
    ones) in the search roots; otherwise download the resources into ``data/<subdirs[0]>/``."""
    names = list(names) if names is not None else [r.name for r in resources]
    extra = list(extra)
    try:
        return find_files(dataset, subdirs, names, extra, how)
    except DataMissingError:
        looked = candidate_dirs(subdirs, extra)
    folder = fetch_or_raise(dataset, resources, subdirs[0], looked, how, download)
    return folder, [folder / n for n in names]


# --------------------------------------------------------------------------------------
# Registry: every dataset of every paper, for `make data-status` (python -m common.data).


@dataclass(frozen=True)
class DatasetInfo:
    name: str
    description: str
    how_to_obtain: str
    locate: Callable[[], object] | None = None
    """Where the dataset is on this machine (never downloads); raises DataMissingError."""
    loader: Callable[..., object] | None = None
    paper: str = "common"
    """Who defines it: ``common`` or a paper slug."""
    sources: tuple[str, ...] = ()
    """Download URLs used automatically on first use (empty: manual download only)."""


REGISTRY: dict[str, DatasetInfo] = {}
USED_BY: dict[str, set[str]] = {}


def register_dataset(name: str, description: str, how_to_obtain: str, *, locate: Callable[[], object] | None = None,
                     loader: Callable[..., object] | None = None, paper: str = "common",
                     sources: Sequence[str] = ()) -> DatasetInfo:
    old = REGISTRY.get(name)
    if old is not None and old.paper != paper:
        raise ValueError(f"dataset name {name!r} is registered by {old.paper!r} already; pick another name")
    info = DatasetInfo(name, description, how_to_obtain, locate, loader, paper, tuple(sources))
    REGISTRY[name] = info
    USED_BY.setdefault(name, set()).add(paper)
    return info


def register(name: str, description: str, how_to_obtain: str, *, locate: Callable[[], object] | None = None,
             paper: str = "common", sources: Sequence[str] = ()):
    """Decorator: add a loader to the registry under ``name``."""

    def deco(fn):
        register_dataset(name, description, how_to_obtain, locate=locate, loader=fn, paper=paper, sources=sources)
        return fn

    return deco


def uses(paper: str, *names: str) -> None:
    """Record that ``paper`` reads the registered shared datasets ``names``."""
    for n in names:
        USED_BY.setdefault(n, set()).add(paper)


@dataclass
class Status:
    name: str
    info: DatasetInfo
    found: bool
    where: str
    used_by: list[str] = field(default_factory=list)


def dataset_status(name: str) -> Status:
    """Whether a registered dataset is on this machine (no download, no full load)."""
    info = REGISTRY[name]
    users = sorted(USED_BY.get(name, set()) - {"common"}) or ["common"]
    if info.locate is None:
        return Status(name, info, False, "no locate() registered", users)
    try:
        return Status(name, info, True, str(info.locate()), users)
    except DataMissingError as exc:
        return Status(name, info, False, str(exc).splitlines()[0], users)
