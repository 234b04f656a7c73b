"""Sweep overhead per cell: 50 no-op cells of the fixture paper through the serial executor.

    python -m tests.bench_sweep_overhead        (or: make bench-overhead)

Prints the wall time per cell of expansion + run folder bookkeeping + aggregation, i.e. everything
the infrastructure adds around a paper's run(). Bar (issue 2): under 0.5 s per cell.
"""

import os
import tempfile
import time
from pathlib import Path


def main() -> float:
    tmp = Path(tempfile.mkdtemp(prefix="overhead-"))
    repo = Path(__file__).resolve().parent.parent
    os.environ.update({"REPRO_PAPERS_DIR": str(repo / "tests" / "fixture_papers"),
                       "REPRO_PAPERS_PACKAGE": "tests.fixture_papers", "REPRO_RUNS": str(tmp / "runs"),
                       "REPRO_RESULTS": str(tmp / "results"), "REPRO_PROGRESS": "0"})
    from common import registry as REG
    from common import report as REP
    from common import sweep as S

    paper = REG.load_paper("digits_logreg")
    S.run_cells(S.expand_table(paper, "overhead", "full"))  # warm-up: imports (torch) happen once
    t0 = time.perf_counter()
    cells = S.expand_table(paper, "overhead", "quick")
    report = S.run_cells(cells)
    REP.aggregate("digits_logreg", "quick", {"overhead": [c.dir for c in cells]})
    per_cell = (time.perf_counter() - t0) / len(cells)
    assert len(report.ran) == len(cells) == 50, report
    print(f"{len(cells)} no-op cells, serial executor: {per_cell * 1000:.1f} ms per cell "
          f"(expansion + run folder + metrics + done + aggregation)")
    return per_cell


if __name__ == "__main__":
    main()
