"""Compare two sets of result CSVs: ``make compare A=... B=...`` or ``python -m common.compare A=... B=...``.

A side is a folder or a git ref:

- a folder: a ``results/`` root, a ``results/<slug>/<profile>`` folder, any folder of CSVs (searched
  recursively), or one CSV file; ``.`` is the working tree's ``results/``;
- a git ref (``HEAD``, ``HEAD~3``, a sha, a branch), optionally ``<ref>:<path>``: the committed CSVs are read
  with ``git ls-tree`` / ``git cat-file`` (no checkout, no worktree). Without a path, a ref reads
  ``results/``, or the same folder as the other side when that side is a folder inside the repository.

Rows are lined up by (paper, profile, table, dataset, method, setting, metric), plus seed with
``--level runs``. ``--level cells`` (default) reads the ``<table>.csv`` files (header
:data:`common.results.CELL_COLUMNS`) and compares ``mean``, ``std``, ``n_seeds``; ``--level runs`` reads
``<table>_runs.csv`` (:data:`common.results.RUN_COLUMNS`) and compares ``value``, ``n``. Every other column
(git_sha, wall_s, finished_at, torch, device, run_id, paper_value, ...) is ignored unless ``--columns`` names
it. Metrics that measure time (names containing ``time_s`` or ``speedup``, or ending in ``_s``) are skipped
unless ``--with-timing``. When each side holds a single profile and the two differ (quick vs full), the key
drops the profile.

Values are equal when both parse as floats and ``|A - B| <= TOL + RTOL * max(|A|, |B|)`` (TOL=0: exact),
nan equals nan; otherwise the strings are compared. Exit status: 0 = same, 1 = a value differs or a row is
present on one side only (``--allow-missing`` makes missing rows a warning), 2 = bad input.

Typical uses::

    make compare A=HEAD B=.                            # this run vs the committed results
    make compare A=HEAD~5 B=HEAD PAPER=cafe            # did a refactor change cafe's committed numbers?
    make compare A=results/cafe/quick B=results/cafe/full TOL=2   # quick vs full
    make compare A=. PAPER=cafe TOL=1 ARGS=--paper-values         # ours vs the paper (paper_value)
    python -m common.compare A=/tmp/run1 B=/tmp/run2 --level runs # two smoke runs, seed by seed

From Python (tests, CI): ``compare_sets(a, b, tol=...) -> CompareReport``; ``report.exit_code()``,
``report.format()``.
"""

from __future__ import annotations

import argparse
import math
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

from common.results import CELL_COLUMNS, REPO_ROOT, RUN_COLUMNS, is_cell_table, read_csv

KEY_COLUMNS = ("paper", "profile", "table", "dataset", "method", "setting", "metric")
VALUE_COLUMNS = {"cells": ("mean", "std", "n_seeds"), "runs": ("value", "n")}
HEADERS = {"cells": CELL_COLUMNS, "runs": RUN_COLUMNS}
#: Metric names that measure time (or ratios of times): not reproducible, skipped unless asked for.
TIMING_METRIC = re.compile(r"time_s|speedup|_s$")
MISSING_SHOWN = 20


class CompareError(ValueError):
    """Bad input (unknown ref, folder without CSVs, unknown column): one line, exit status 2."""


@dataclass
class ResultSet:
    """The rows of one side, read from disk or from a commit."""

    label: str
    rows: list[dict[str, str]]
    files: int


@dataclass
class Difference:
    key: tuple[str, ...]
    column: str
    a: str
    b: str
    diff: float | None  # b - a when both are numbers


@dataclass
class CompareReport:
    a_label: str
    b_label: str
    level: str
    key_fields: tuple[str, ...]
    columns: tuple[str, ...]
    tol: float
    rtol: float
    n_compared: int = 0
    differences: list[Difference] = field(default_factory=list)
    only_a: list[tuple[str, ...]] = field(default_factory=list)
    only_b: list[tuple[str, ...]] = field(default_factory=list)
    n_timing_skipped: int = 0
    paper_values: bool = False
    deltas: list[Difference] = field(default_factory=list)  # --paper-values: every cell with a paper value
    notes: list[str] = field(default_factory=list)

    @property
    def differing_keys(self) -> list[tuple[str, ...]]:
        return list(dict.fromkeys(d.key for d in self.differences))

    def exit_code(self, allow_missing: bool = False) -> int:
        missing = (self.only_a or self.only_b) and not allow_missing
        return 1 if self.differences or missing else 0

    def format(self, limit: int = 100) -> str:
        what = "cells" if self.level == "cells" else "run rows"
        tol = f"tol={self.tol:g}" + (f" rtol={self.rtol:g}" if self.rtol else "")
        lines = [f"A = {self.a_label}"] + ([] if self.paper_values else [f"B = {self.b_label}"])
        lines += [f"note: {n}" for n in self.notes]
        skipped = (f"; {self.n_timing_skipped} timing metrics skipped (--with-timing compares them)"
                   if self.n_timing_skipped else "")
        if self.paper_values:
            lines.append(f"ours (mean) vs paper_value: {self.n_compared} cells with a paper value, "
                         f"{len(self.differences)} beyond {tol}{skipped}")
            if self.deltas:
                lines += _table(self.key_fields, ["ours", "paper", "ours-paper", ""],
                                [(d.key, [d.a, d.b, _fmt_diff(d.diff), "" if d not in self.differences
                                          else "BEYOND"]) for d in self.deltas], limit)
        else:
            lines.append(f"compared {self.n_compared} {what} ({', '.join(self.columns)}): "
                         f"{len(self.differing_keys)} differ beyond {tol}, {len(self.only_a)} only in A, "
                         f"{len(self.only_b)} only in B{skipped}")
            if self.differences:
                lines.append(f"differ ({len(self.differences)} values):")
                lines += _table(self.key_fields, ["column", "A", "B", "B-A"],
                                [(d.key, [d.column, d.a, d.b, _fmt_diff(d.diff)]) for d in self.differences],
                                limit)
            for side, keys in (("A", self.only_a), ("B", self.only_b)):
                if keys:
                    lines.append(f"only in {side} ({len(keys)}):")
                    if len(keys) > MISSING_SHOWN:
                        lines += [f"  {n:6d} in {t}" for t, n in _per_table(self.key_fields, keys).items()]
                    lines += _table(self.key_fields, [], [(k, []) for k in keys], MISSING_SHOWN)
        return "\n".join(lines)


def _per_table(key_fields: Sequence[str], keys: Iterable[tuple[str, ...]]) -> dict[str, int]:
    where = [key_fields.index(f) for f in ("paper", "profile", "table") if f in key_fields]
    out: dict[str, int] = {}
    for k in keys:
        name = "/".join(k[i] for i in where)
        out[name] = out.get(name, 0) + 1
    return out


def _fmt_diff(d: float | None) -> str:
    return "" if d is None else f"{d:+.6g}"


def _table(key_fields: Sequence[str], extra: Sequence[str], rows: list[tuple[tuple[str, ...], list[str]]],
           limit: int) -> list[str]:
    """Aligned rows: paper/profile/table joined, then the other key fields, then ``extra`` columns."""
    shown = rows if limit <= 0 else rows[:limit]
    head = ["/".join(f for f in ("paper", "profile", "table") if f in key_fields)]
    head += [f for f in key_fields if f not in ("paper", "profile", "table")] + list(extra)
    body = []
    for key, vals in shown:
        kv = dict(zip(key_fields, key))
        cells = ["/".join(kv[f] for f in ("paper", "profile", "table") if f in kv)]
        cells += [kv[f] or "-" for f in key_fields if f not in ("paper", "profile", "table")]
        body.append(cells + list(vals))
    widths = [max(len(r[i]) for r in [head, *body]) for i in range(len(head))]
    out = ["  " + "  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in [head, *body]]
    if len(rows) > len(shown):
        out.append(f"  ... and {len(rows) - len(shown)} more" + (" (--limit 0 shows all)" if extra else ""))
    return out


# --------------------------------------------------------------------------------------
# Reading a side.


def _git(repo: Path, *args: str, data: bytes | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(["git", "-C", str(repo), *args], input=data, capture_output=True, check=False)


def default_repo() -> Path:
    """The git work tree holding the current directory, else this repository."""
    proc = _git(Path.cwd(), "rev-parse", "--show-toplevel")
    return Path(proc.stdout.decode().strip()) if proc.returncode == 0 else REPO_ROOT


def _csv_files(root: Path, level: str) -> list[Path]:
    files = [root] if root.is_file() else sorted(root.rglob("*.csv"))
    if level == "cells":
        return [f for f in files if is_cell_table(f)]
    need = set(KEY_COLUMNS) | {"seed", *VALUE_COLUMNS["runs"]}
    out = []
    for f in files:
        if f.stem.endswith("_runs"):
            with open(f, encoding="utf-8") as fh:
                if need <= set(fh.readline().strip().split(",")):
                    out.append(f)
    return out


def _read_folder(root: Path, level: str, label: str) -> ResultSet:
    files = _csv_files(root, level)
    if not files:
        kind = "<table>.csv cell tables" if level == "cells" else "<table>_runs.csv files"
        raise CompareError(f"{label}: no {kind} found in {root}")
    return ResultSet(label, [row for f in files for row in read_csv(f)], len(files))


def _read_ref(repo: Path, ref: str, path: str, level: str, label: str) -> ResultSet:
    """The CSVs under ``path`` at commit ``ref``, copied to a temporary folder and read like a folder."""
    listing = _git(repo, "ls-tree", "-r", "-z", ref, "--", path or ".")
    if listing.returncode != 0:
        raise CompareError(f"{label}: git ls-tree failed: {listing.stderr.decode().strip()}")
    blobs = []
    for entry in listing.stdout.decode().split("\0"):
        if entry and "\t" in entry:
            meta, name = entry.split("\t", 1)
            if meta.split()[1] == "blob" and name.endswith(".csv"):
                blobs.append((meta.split()[2], name))
    if not blobs:
        raise CompareError(f"{label}: no CSV files under {path or '.'}/ at {ref}")
    out = _git(repo, "cat-file", "--batch", data="".join(f"{sha}\n" for sha, _ in blobs).encode())
    if out.returncode != 0:
        raise CompareError(f"{label}: git cat-file failed: {out.stderr.decode().strip()}")
    with tempfile.TemporaryDirectory(prefix="compare-") as tmp:
        pos, buf = 0, out.stdout
        for _, name in blobs:
            header_end = buf.index(b"\n", pos)
            size = int(buf[pos:header_end].split()[2])
            target = Path(tmp, name)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(buf[header_end + 1:header_end + 1 + size])
            pos = header_end + 1 + size + 1
        return _read_folder(Path(tmp), level, label)


def _resolve_ref(repo: Path, spec: str) -> tuple[str, str, str] | None:
    """(ref, path, short sha) when ``spec`` names a commit of ``repo`` (``ref`` or ``ref:path``)."""
    ref, _, path = spec.partition(":")
    if not ref or ref.startswith("-"):
        return None
    proc = _git(repo, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
    if proc.returncode != 0:
        return None
    return ref, path.strip("/"), proc.stdout.decode().strip()[:10]


def load_set(spec: str | Path, level: str = "cells", repo: Path | None = None,
             other: str | Path | None = None) -> ResultSet:
    """Read one side: a folder, a CSV file, ``.`` (the work tree's results/) or a git ref (see module doc)."""
    repo = Path(repo) if repo else default_repo()
    text = str(spec).strip()
    if not text:
        raise CompareError("empty side: give a results folder or a git ref")
    if text == ".":
        return _read_folder(repo / "results", level, f". ({repo / 'results'})")
    if Path(text).expanduser().exists():
        return _read_folder(Path(text).expanduser(), level, text)
    resolved = _resolve_ref(repo, text)
    if resolved is None:
        raise CompareError(f"{text!r} is neither an existing folder nor a git ref known in {repo}")
    ref, path, sha = resolved
    if not path:
        path = "results"
        if other is not None and str(other) != "." and Path(str(other)).expanduser().exists():
            try:  # the other side is a folder inside the repository: read the same folder at the ref
                rel = Path(str(other)).expanduser().resolve().relative_to(repo.resolve())
                path = rel.as_posix() if rel.parts and rel.parts[0] == "results" else path
            except ValueError:
                pass
    return _read_ref(repo, ref, path, level, f"{ref} ({sha}):{path}")


# --------------------------------------------------------------------------------------
# Comparing.


def is_timing_metric(name: str) -> bool:
    return bool(TIMING_METRIC.search(name))


def _number(text: str) -> float | None:
    try:
        return float(text)
    except (TypeError, ValueError):
        return None


def values_match(a: str, b: str, tol: float = 0.0, rtol: float = 0.0) -> tuple[bool, float | None]:
    """Whether two CSV fields agree, and B - A when both are numbers (nan == nan, inf == inf)."""
    fa, fb = _number(a), _number(b)
    if fa is None or fb is None:
        return (a or "").strip() == (b or "").strip(), None
    if math.isnan(fa) or math.isnan(fb):
        return math.isnan(fa) and math.isnan(fb), None if math.isnan(fa) and math.isnan(fb) else math.nan
    if math.isinf(fa) or math.isinf(fb):
        return fa == fb, None if fa == fb else math.inf
    d = fb - fa
    return abs(d) <= tol + rtol * max(abs(fa), abs(fb)), d


def _index(rows: Iterable[dict[str, str]], key_fields: Sequence[str], notes: list[str], side: str
           ) -> dict[tuple[str, ...], dict[str, str]]:
    out: dict[tuple[str, ...], dict[str, str]] = {}
    dup = 0
    for row in rows:
        key = tuple(row.get(f, "") or "" for f in key_fields)
        if key in out:  # keep both: line up repeated keys by their order of appearance
            dup += 1
            i = 2
            while key[:-1] + (f"{key[-1]}#{i}",) in out:
                i += 1
            key = key[:-1] + (f"{key[-1]}#{i}",)
        out[key] = row
    if dup:
        notes.append(f"{side} has {dup} rows with a repeated key (numbered #2, #3, ... in order)")
    return out


def _columns(level: str, extra: str | Sequence[str] | None) -> tuple[str, ...]:
    cols = list(VALUE_COLUMNS[level])
    items = extra.split(",") if isinstance(extra, str) else list(extra or [])
    for item in (c.strip() for c in items):
        if not item:
            continue
        name = item.lstrip("+-")
        if name not in HEADERS[level]:
            raise CompareError(f"unknown column {name!r} for --level {level}; columns: {', '.join(HEADERS[level])}")
        if item.startswith("-"):
            cols = [c for c in cols if c != name]
        elif name not in cols:
            cols.append(name)
    if not cols:
        raise CompareError("no column left to compare")
    return tuple(cols)


def _renames(spec: str | dict[str, str] | None) -> dict[str, str]:
    if isinstance(spec, dict):
        return dict(spec)
    out = {}
    for item in (spec or "").split(","):
        if item.strip():
            old, eq, new = item.partition("=")
            if not eq or not old.strip() or not new.strip():
                raise CompareError(f"--rename-table wants OLD=NEW pairs, got {item!r}")
            out[old.strip()] = new.strip()
    return out


def compare_sets(a: str | Path | ResultSet, b: str | Path | ResultSet | None = None, tol: float = 0.0,
                 rtol: float = 0.0, level: str = "cells", paper: str | Sequence[str] | None = None,
                 profile: str | None = None, table: str | Sequence[str] | None = None,
                 columns: str | Sequence[str] | None = None, with_timing: bool = False,
                 paper_values: bool = False, rename_table: str | dict[str, str] | None = None,
                 repo: Path | None = None) -> CompareReport:
    """Compare result set ``a`` with ``b`` (or, with ``paper_values``, ``a``'s means with its paper values).

    ``rename_table`` (``"old=new,..."`` or a dict) reads table ids ``old`` as ``new`` on both sides, to line
    up results across a renaming of tables.

    Raises :class:`CompareError` on bad input (unknown ref, no CSVs, unknown column, nothing selected).
    """
    if level not in VALUE_COLUMNS:
        raise CompareError(f"unknown level {level!r}; use cells or runs")
    if tol < 0 or rtol < 0:
        raise CompareError("TOL and RTOL must be >= 0")
    if paper_values:
        if b is not None:
            raise CompareError("--paper-values compares one result set (A) with its paper_value column; drop B")
        if level != "cells":
            raise CompareError("--paper-values needs --level cells (paper_value is a column of the cell tables)")
    elif b is None:
        raise CompareError("give two result sets, A and B")
    cols = ("mean",) if paper_values else _columns(level, columns)
    set_a = a if isinstance(a, ResultSet) else load_set(a, level, repo, None if isinstance(b, ResultSet) else b)
    set_b = None if b is None else b if isinstance(b, ResultSet) else load_set(b, level, repo, a)
    sides = [("A", set_a)] + ([] if set_b is None else [("B", set_b)])

    def wanted(values: str | Sequence[str] | None, norm=lambda s: s) -> set[str] | None:
        if values is None or values == "":
            return None
        items = values.split(",") if isinstance(values, str) else values
        return {norm(v.strip()) for v in items if v.strip()}

    papers, tables = wanted(paper, lambda s: s.replace("-", "_")), wanted(table)
    renames = _renames(rename_table)
    report = CompareReport(set_a.label, set_b.label if set_b else "", level, (), cols, tol, rtol,
                           paper_values=paper_values)
    selected: dict[str, list[dict[str, str]]] = {}
    timing_keys: set[tuple[str, ...]] = set()
    for side, rs in sides:
        rows = [{**r, "table": renames.get(r.get("table", ""), r.get("table", ""))} for r in rs.rows]
        rows = [r for r in rows if (papers is None or r.get("paper") in papers)
                and (profile is None or r.get("profile") == profile) and (tables is None or r.get("table") in tables)]
        timing = [r for r in rows if is_timing_metric(r.get("metric", ""))]
        if not with_timing:
            timing_keys.update(tuple(r.get(f, "") for f in (*KEY_COLUMNS, "seed")) for r in timing)
            rows = [r for r in rows if not is_timing_metric(r.get("metric", ""))]
        selected[side] = rows
    report.n_timing_skipped = len(timing_keys)
    if not any(selected.values()):
        raise CompareError(f"no rows selected (paper={paper}, profile={profile}, table={table}) in "
                           + " or ".join(rs.label for _, rs in sides))
    key_fields = list(KEY_COLUMNS) + (["seed"] if level == "runs" else [])
    profiles = {side: {r.get("profile", "") for r in rows} for side, rows in selected.items()}
    if set_b is not None and len(profiles["A"]) == 1 and len(profiles["B"]) == 1 and profiles["A"] != profiles["B"]:
        key_fields.remove("profile")
        report.notes.append(f"profiles differ (A: {min(profiles['A'])}, B: {min(profiles['B'])}): "
                            f"rows lined up without the profile")
    report.key_fields = tuple(key_fields)
    for side, rows in selected.items():
        if not rows:
            report.notes.append(f"{side} has no selected rows")
    idx_a = _index(selected["A"], key_fields, report.notes, "A")
    if paper_values:
        for key, row in idx_a.items():
            if (row.get("paper_value") or "").strip() == "":
                continue
            report.n_compared += 1
            ok, d = values_match(row.get("mean", ""), row["paper_value"], tol, rtol)
            delta = Difference(key, "mean", row.get("mean", ""), row["paper_value"], None if d is None else -d)
            report.deltas.append(delta)
            if not ok:
                report.differences.append(delta)
        if not report.n_compared:
            report.notes.append("no cell of A has a paper_value")
        return report
    idx_b = _index(selected["B"], key_fields, report.notes, "B")
    report.only_a = [k for k in idx_a if k not in idx_b]
    report.only_b = [k for k in idx_b if k not in idx_a]
    for key, row_a in idx_a.items():
        row_b = idx_b.get(key)
        if row_b is None:
            continue
        report.n_compared += 1
        for col in cols:
            ok, d = values_match(row_a.get(col, ""), row_b.get(col, ""), tol, rtol)
            if not ok:
                report.differences.append(Difference(key, col, row_a.get(col, ""), row_b.get(col, ""), d))
    return report


# --------------------------------------------------------------------------------------
# Command line.

_MAKE_STYLE = {"A": "--a", "B": "--b", "PAPER": "--paper", "PROFILE": "--profile", "TOL": "--tol",
               "RTOL": "--rtol", "COLUMNS": "--columns", "LEVEL": "--level", "TABLE": "--table",
               "RENAME": "--rename-table"}


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m common.compare", formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Compare two sets of result CSVs (folders or git refs), cell by cell.",
        epilog="typical uses (make VAR=value, or python -m common.compare VAR=value):\n"
        + __doc__.split("Typical uses::\n", 1)[1].split("\nFrom Python", 1)[0]
        + "exit status: 0 same, 1 differences or rows on one side only, 2 bad input.")
    p.add_argument("sides", nargs="*", metavar="A B", help="the two sides, positionally (or A=... B=...)")
    p.add_argument("--a", help="side A: folder, '.', git ref or ref:path (default HEAD; '.' with --paper-values)")
    p.add_argument("--b", help="side B (default '.': the working tree's results/)")
    p.add_argument("--paper", help="only these papers (comma-separated slugs)")
    p.add_argument("--profile", help="only this profile (smoke, quick, full)")
    p.add_argument("--table", help="only these tables (comma-separated ids)")
    p.add_argument("--level", choices=sorted(VALUE_COLUMNS), default="cells",
                   help="cells: <table>.csv (mean, std, n_seeds); runs: <table>_runs.csv (value, n), per seed")
    p.add_argument("--tol", type=float, default=0.0, help="absolute tolerance (default 0: exact as floats)")
    p.add_argument("--rtol", type=float, default=0.0, help="relative tolerance, times max(|A|, |B|)")
    p.add_argument("--columns", help="more columns to compare, comma-separated (e.g. git_sha,wall_s); "
                                     "-name drops a default one (e.g. -std)")
    p.add_argument("--rename-table", metavar="OLD=NEW,...",
                   help="read table id OLD as NEW on both sides (to compare across a renaming of tables)")
    p.add_argument("--with-timing", action="store_true", help="also compare timing metrics (*time_s*, *_s, speedup)")
    p.add_argument("--paper-values", action="store_true", help="compare A's means with their paper_value")
    p.add_argument("--allow-missing", action="store_true", help="rows on one side only: warn, exit 0")
    p.add_argument("--limit", type=int, default=100, help="differences printed (0: all; default 100)")
    return p


def _make_style(argv: Sequence[str]) -> list[str]:
    out = []
    for arg in argv:
        name, eq, value = arg.partition("=")
        out.append(f"{_MAKE_STYLE[name]}={value}" if eq and name in _MAKE_STYLE else arg)
    return out


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(_make_style(sys.argv[1:] if argv is None else argv))
    try:
        if len(args.sides) > 2 or (args.sides and (args.a or args.b)):
            raise CompareError("give at most two sides (A and B), positionally or as A=/B=")
        a = args.a or (args.sides[0] if args.sides else None)
        b = args.b or (args.sides[1] if len(args.sides) > 1 else None)
        if args.paper_values:
            a = a or b or "."
            b = None
        else:
            a, b = a or "HEAD", b or "."
        report = compare_sets(a, b, tol=args.tol, rtol=args.rtol, level=args.level, paper=args.paper,
                              profile=args.profile or None, table=args.table, columns=args.columns,
                              with_timing=args.with_timing, paper_values=args.paper_values,
                              rename_table=args.rename_table)
    except CompareError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(report.format(limit=args.limit))
    code = report.exit_code(args.allow_missing)
    if args.allow_missing and (report.only_a or report.only_b):
        print("warning: rows present on one side only (ignored: --allow-missing)", file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())
