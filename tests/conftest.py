"""Shared test helpers: point the sweep at the fixture paper package and temp run/result roots."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
FIXTURE_PAPERS = REPO / "tests" / "fixture_papers"
FIXTURE_RUNS = REPO / "tests" / "fixtures" / "runs"


@pytest.fixture
def fixture_env(tmp_path, monkeypatch):
    """Sweep/aggregate the fixture paper `digits_logreg` into temporary runs/ and results/."""
    monkeypatch.setenv("REPRO_PAPERS_DIR", str(FIXTURE_PAPERS))
    monkeypatch.setenv("REPRO_PAPERS_PACKAGE", "tests.fixture_papers")
    monkeypatch.setenv("REPRO_RUNS", str(tmp_path / "runs"))
    monkeypatch.setenv("REPRO_RESULTS", str(tmp_path / "results"))
    monkeypatch.setenv("REPRO_PROGRESS", "0")
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "1")  # for the processes the executors start (see below)
    with _one_blas_thread():
        yield tmp_path


def _one_blas_thread():
    """The fixture paper's small logistic regressions with one BLAS thread: with two, OpenBLAS's waiting
    threads make each fit up to 100x slower on a busy 2-core machine. The sweep tests check the
    machinery, never the fitted numbers."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(1, user_api="blas")


def subprocess_env(tmp_path: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update({"REPRO_PAPERS_DIR": str(FIXTURE_PAPERS), "REPRO_PAPERS_PACKAGE": "tests.fixture_papers",
                "REPRO_RUNS": str(tmp_path / "runs"), "REPRO_RESULTS": str(tmp_path / "results"),
                "REPRO_PROGRESS": "0", "PYTHONPATH": str(REPO), "OPENBLAS_NUM_THREADS": "1"})
    return env
