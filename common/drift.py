"""Cross-machine drift check: rerun each paper's declared small quick cell and compare it with the
committed value, within the drift the paper measured and states in its README.

A paper declares the cell in ``claims.py``::

    DRIFT = dict(table="t2_auc", cell={"dataset": "cora", "method": "proposed", "label_frac": 0.05,
                                       "seed": 0}, tol=0.5)

``python -m common.drift [slug ...]`` (``make check-drift``) runs that cell of the quick profile
into a scratch folder, writes its rows and the committed rows of the same cell as two result sets,
and compares them with :mod:`common.compare` (absolute tolerance ``tol``; timing columns ignored).
Exit 0 when every paper's cell is within its tolerance, 1 otherwise, 2 on bad input. A paper whose own
code changed after its committed results were made is reported as stale and not compared
(:func:`stale_reason`); a change in ``common/`` is compared, since it should not move any number.
"""

from __future__ import annotations

import argparse
import importlib
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Sequence

from common import results as R
from common import sweep as S
from common.registry import SweepError, available_papers, load_paper, normalise_slug, papers_package


def declared(slug: str) -> dict | None:
    mod = importlib.import_module(f"{papers_package()}.{slug}.claims")
    spec = getattr(mod, "DRIFT", None)
    if spec is not None and not {"table", "cell", "tol"} <= set(spec):
        raise SweepError(f"papers/{slug}/claims.py: DRIFT needs table, cell and tol, got {sorted(spec)}")
    return spec


def find_cell(slug: str, spec: dict, runs_root: Path) -> S.Cell:
    paper = load_paper(slug)
    cells = S.expand_table(paper, spec["table"], "quick", runs_root=runs_root)
    want = {k: str(v) for k, v in spec["cell"].items()}
    match = [c for c in cells if all(str(c.values.get(k)) == v for k, v in want.items())]
    if len(match) != 1:
        raise SweepError(f"{slug}: DRIFT cell {spec['cell']} matches {len(match)} cells of {spec['table']} [quick]")
    return match[0]


def paper_changed_since(slug: str, sha: str) -> list[str]:
    """Commits after ``sha`` that changed ``papers/<slug>/`` code (READMEs and figures excluded); [] when
    none or when git cannot tell (unknown sha, no repository)."""
    try:
        out = subprocess.run(["git", "log", "--format=%h", f"{sha}..HEAD", "--", f"papers/{slug}", *R.NOT_CODE],
                             cwd=R.REPO_ROOT, capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.SubprocessError):
        return []
    return out.stdout.split() if out.returncode == 0 else []


def stale_reason(slug: str, rows: list[dict]) -> str:
    """Why the committed rows cannot be compared with a rerun of today's code ('' when they can).

    The paper's own code changed after the commit that made them: a difference would measure that
    change, not drift. A change in ``common/`` is *not* a reason: it should not move a paper's numbers,
    and this check is there to catch it when it does."""
    for sha in sorted({str(r.get("git_sha", "")) for r in rows}):
        if not sha or sha.endswith("+dirty") or sha == "unknown":
            continue
        changed = paper_changed_since(slug, sha)
        if changed:
            return (f"the committed rows were made at {sha} and papers/{slug}/ changed since "
                    f"({len(changed)} commits, last {changed[0]}): rerun its quick profile and commit the results")
    return ""


def check_paper(slug: str, scratch: Path) -> tuple[bool, str]:
    from common.compare import compare_sets

    spec = declared(slug)
    if spec is None:
        return True, f"{slug}: no DRIFT cell declared (skipped)"
    committed = R.results_root() / slug / "quick" / f"{spec['table']}_runs.csv"
    if not committed.is_file():
        return True, f"{slug}: no committed quick results for {spec['table']} (skipped)"
    cell = find_cell(slug, spec, scratch / "runs")
    stale = stale_reason(slug, R.read_csv(committed))
    if stale:
        return True, f"{slug}: not checked (stale results): {stale}"
    S.execute_cell(cell)
    new_rows = R.read_csv(cell.dir / "metrics.csv")
    keys = {(r["dataset"], r["method"], r["setting"], r["seed"]) for r in new_rows}
    old_rows = [r for r in R.read_csv(committed) if (r["dataset"], r["method"], r["setting"], r["seed"]) in keys]
    if not old_rows:
        return False, f"{slug}: the DRIFT cell {spec['cell']} has no committed rows in {committed.name}"
    a, b = scratch / "committed" / slug / "quick", scratch / "rerun" / slug / "quick"
    for folder, rows in ((a, old_rows), (b, new_rows)):
        R.write_csv_atomic(folder / f"{spec['table']}_runs.csv", rows, R.RUN_COLUMNS)
    rep = compare_sets(a, b, tol=float(spec["tol"]), level="runs", with_timing=False)
    return rep.exit_code() == 0, f"{slug}: {spec['table']} {spec['cell']} (tol {spec['tol']}):\n{rep.format()}"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m common.drift", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("papers", nargs="*", help="slugs (default: every paper)")
    args = parser.parse_args(argv)
    try:
        slugs = [normalise_slug(p) for p in args.papers] or available_papers()
        ok_all = True
        with tempfile.TemporaryDirectory(prefix="drift-") as tmp:
            for slug in slugs:
                ok, text = check_paper(slug, Path(tmp) / slug)
                ok_all &= ok
                print(("ok    " if ok else "DRIFT ") + text)
        return 0 if ok_all else 1
    except (*S.BAD_INPUT, SweepError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
