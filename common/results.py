"""Run folders and the result schema.

One table cell = one run = one folder ``runs/<slug>/<table>/<run_id>/`` holding
``config.json`` (written first), ``log.txt``, ``metrics.csv`` and ``done`` (written last).
Every file is written to a temporary name and renamed, so a reader never sees half a file,
and a folder without ``done`` is simply unfinished: a rerun does it again.

``run_id`` is a hash of (paper, table, profile, resolved config): the same cell gets the same
id in every process and on every machine, which is what lets sweeps resume.
"""

from __future__ import annotations

import csv
import datetime as _dt
import hashlib
import io
import json
import math
import os
import subprocess
from pathlib import Path
from typing import Any, Iterable, Mapping

REPO_ROOT = Path(__file__).resolve().parent.parent

#: Columns of ``results/<slug>/<profile>/<table>_runs.csv``, one row per (run, metric).
RUN_COLUMNS = [
    "paper", "table", "profile", "dataset", "method", "setting", "seed", "metric", "value", "n",
    "run_id", "git_sha", "torch", "device", "host", "job_id", "wall_s", "finished_at",
]
#: Provenance columns of :data:`RUN_COLUMNS` that say where and when a row was made, not what it is
#: (comparisons of two result sets ignore them).
PROVENANCE_COLUMNS = ("run_id", "git_sha", "torch", "device", "host", "job_id", "wall_s", "finished_at")
#: Columns of ``results/<slug>/<profile>/<table>.csv``, one row per (cell, metric).
CELL_COLUMNS = [
    "paper", "table", "profile", "dataset", "method", "setting", "metric", "mean", "std",
    "n_seeds", "paper_value", "delta",
]
#: Keys a run may set on each row it returns; the runner fills in the rest.
ROW_KEYS = {"dataset", "method", "setting", "metric", "value", "n"}


def runs_root() -> Path:
    """Where run folders go: ``$REPRO_RUNS`` or ``<repo>/runs``."""
    return Path(os.environ.get("REPRO_RUNS") or REPO_ROOT / "runs")


def results_root() -> Path:
    """Where committed results go: ``$REPRO_RESULTS`` or ``<repo>/results``."""
    return Path(os.environ.get("REPRO_RESULTS") or REPO_ROOT / "results")


def make_run_id(paper: str, table: str, profile: str, config: Mapping[str, Any]) -> str:
    """Stable 12-hex-digit id of a resolved config (key order and process do not matter)."""
    blob = json.dumps({"paper": paper, "table": table, "profile": profile, "config": config},
                      sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


def run_dir(paper: str, table: str, run_id: str, root: Path | None = None) -> Path:
    return (root or runs_root()) / paper / table / run_id


def is_done(path: Path) -> bool:
    return (path / "done").is_file()


def is_cell_table(path: Path) -> bool:
    """A ``<table>.csv`` written by :func:`aggregate` (papers may keep other CSVs beside it)."""
    if path.suffix != ".csv" or path.stem.endswith("_runs") or path.stem == "claims":
        return False
    with open(path, encoding="utf-8") as fh:
        header = fh.readline().strip().split(",")
    return header == CELL_COLUMNS


# --------------------------------------------------------------------------------------
# Atomic writes.


def write_text_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    with open(tmp, "w", encoding="utf-8", newline="") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def write_json_atomic(path: Path, obj: Any) -> None:
    write_text_atomic(path, json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n")


def rows_to_csv(rows: Iterable[Mapping[str, Any]], columns: list[str]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns, extrasaction="raise", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({c: row.get(c, "") for c in columns})
    return buf.getvalue()


def write_csv_atomic(path: Path, rows: Iterable[Mapping[str, Any]], columns: list[str]) -> None:
    write_text_atomic(path, rows_to_csv(rows, columns))


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


# --------------------------------------------------------------------------------------
# Provenance.

_GIT_SHA: dict[tuple[str, ...], str] = {}


def git_sha(paths: tuple[str, ...] = ("common", "papers")) -> str:
    """Short id of the last commit that changed ``paths``, '+dirty' when they have uncommitted changes.

    The runner passes ``("common", "papers/<slug>")``: only the code a run can import decides, so a
    commit elsewhere (another paper, a README) neither dirties nor ages a paper's results.
    """
    if paths not in _GIT_SHA:
        try:
            sha = subprocess.run(["git", "log", "-1", "--format=%h", "--abbrev=10", "--", *paths], cwd=REPO_ROOT,
                                 capture_output=True, text=True, timeout=10).stdout.strip()
            dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", *paths],
                                   cwd=REPO_ROOT, capture_output=True, text=True, timeout=10).stdout.strip()
            _GIT_SHA[paths] = (sha or "unknown") + ("+dirty" if dirty else "")
        except (OSError, subprocess.SubprocessError):
            _GIT_SHA[paths] = "unknown"
    return _GIT_SHA[paths]


#: Files under the code folders that no run imports: READMEs, figures and tests. A README, figure or test commit
#: (``make results`` writes both) neither dirties nor ages a paper's results.
# Not code for provenance: prose, images, tests, and figures.py (it draws from the committed CSVs and can
# change no number in them).
NOT_CODE = (":(exclude,glob)**/*.md", ":(exclude,glob)**/*.png", ":(exclude,glob)**/tests/**",
            ":(exclude,glob)papers/*/figures.py")


def code_paths(slug: str) -> tuple[str, ...]:
    """The code a paper's runs import: ``common/`` and its own folder, without READMEs and figures."""
    return ("common", f"papers/{slug}", *NOT_CODE)


class ProvenanceError(ValueError):
    """Rows that may not be written to the committed results (uncommitted code, mixed commits)."""


def allow_dirty() -> bool:
    return os.environ.get("ALLOW_DIRTY", "0") == "1"


def check_provenance(rows: Iterable[Mapping[str, Any]], where: str) -> list[str]:
    """The commits behind ``rows``; raises :class:`ProvenanceError` for '+dirty' or mixed commits
    unless ``ALLOW_DIRTY=1`` (then the caller marks the results as such)."""
    shas = sorted({str(r.get("git_sha", "")) for r in rows})
    bad = [s for s in shas if s.endswith("+dirty") or s in ("", "unknown")]
    if (bad or len(shas) > 1) and not allow_dirty():
        why = (f"made from uncommitted code ({', '.join(bad)})" if bad else
               f"made by {len(shas)} different commits ({', '.join(shas)})")
        raise ProvenanceError(f"{where}: refusing to write committed results from rows {why}. Commit the code "
                              f"and rerun (FRESH=1 reruns cells of older commits), or set ALLOW_DIRTY=1 "
                              f"to write them marked as such.")
    return shas


def now_iso() -> str:
    return _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat()


# --------------------------------------------------------------------------------------
# Rows.


class RowError(ValueError):
    """A run returned a row that does not fit the result schema."""


def normalise_rows(raw_rows: Any, defaults: Mapping[str, Any], provenance: Mapping[str, Any]
                   ) -> list[dict[str, Any]]:
    """Check what ``run()`` returned and complete each row to :data:`RUN_COLUMNS`."""
    if not isinstance(raw_rows, (list, tuple)) or not raw_rows:
        raise RowError(f"run() must return a non-empty list of row dicts, got {type(raw_rows).__name__}")
    out = []
    for i, row in enumerate(raw_rows):
        if not isinstance(row, Mapping):
            raise RowError(f"row {i} is {type(row).__name__}, expected a dict")
        extra = set(row) - ROW_KEYS
        if extra:
            raise RowError(f"row {i} has unknown keys {sorted(extra)}; allowed: {sorted(ROW_KEYS)}")
        if "metric" not in row or "value" not in row:
            raise RowError(f"row {i} needs 'metric' and 'value': {dict(row)}")
        value = row["value"]
        try:
            value = float(value)
        except (TypeError, ValueError):
            raise RowError(f"row {i} metric {row['metric']!r}: value {value!r} is not a number") from None
        full = {**defaults, **{k: v for k, v in row.items() if v is not None}, **provenance}
        full["value"] = value if math.isfinite(value) else float("nan")
        full.setdefault("n", "")
        out.append(full)
    return out
