"""EXECUTOR=slurm end to end on a real Slurm cluster (``scripts/slurm-local.sh start``; CI starts one).

Skipped when no cluster answers ``sinfo``. Every test runs smoke cells only: the whole file takes a
few minutes on 2 cores. What is checked (issue 14):

- ``make reproduce-<paper> PROFILE=smoke EXECUTOR=slurm`` for the template paper and one real paper
  runs each table as one job array, and its aggregated CSVs equal a serial run's (``common.compare``,
  tolerance 0; time, host and job columns are provenance and not compared);
- a cell killed with ``scancel`` mid-run is rerun by the next reproduce, nothing duplicated;
- a failing cell leaves its ``log.txt`` and the error names the Slurm stdout/stderr files;
- ``PROFILE=full`` asks for a GPU per cell, and is refused without one.
"""

from __future__ import annotations

import csv
import os
import re
import shutil
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from tests.conftest import REPO, subprocess_env


def _cluster_answers() -> bool:
    if shutil.which("sinfo") is None or shutil.which("sbatch") is None:
        return False
    try:
        out = subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return False
    return out.returncode == 0 and any(s.strip("*") in ("idle", "mixed", "allocated") for s in out.stdout.split())


pytestmark = [pytest.mark.slurm,
              pytest.mark.skipif(not _cluster_answers(), reason="no Slurm cluster answers sinfo "
                                                                "(scripts/slurm-local.sh start)")]


def _env(root: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLURM_", "SBATCH_"))}
    env.update({"REPRO_RUNS": str(root / "runs"), "REPRO_RESULTS": str(root / "results"), "REPRO_PROGRESS": "0",
                "PYTHONPATH": str(REPO), "PROFILE": "smoke"})
    env.update(extra)
    return env


def _make(target: str, root: Path, timeout: int = 600, **extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(["make", "-s", target], cwd=REPO, env=_env(root, **extra), capture_output=True,
                          text=True, timeout=timeout)


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _check_arrays(results: Path) -> None:
    """Each table ran as one job array: one array id per table, one task per cell.

    A table of one cell is the exception: submitit submits a one-element array as a plain job, so its
    job id has no ``_<task>`` part.
    """
    for runs_csv in sorted(results.glob("*_runs.csv")):
        rows = _rows(runs_csv)
        jobs = {(r["run_id"], r["job_id"]) for r in rows}
        arrays = {j.split("_")[0] for _, j in jobs}
        tasks = {j for _, j in jobs}
        pattern = r"\d+_\d+" if len({r for r, _ in jobs}) > 1 else r"\d+(_\d+)?"
        assert all(re.fullmatch(pattern, j) for j in tasks), (runs_csv.name, tasks)
        assert len(arrays) == 1 and len(tasks) == len({r for r, _ in jobs}), (runs_csv.name, jobs)
        assert all(r["host"] for r in rows)


def _same_as_serial(slug: str, target: str, tmp_path: Path, **extra: str) -> None:
    from common.compare import compare_sets

    out = _make(target, tmp_path / "slurm", EXECUTOR="slurm", **extra)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    ref = _make(target, tmp_path / "serial", EXECUTOR="serial", **extra)
    assert ref.returncode == 0, ref.stdout[-2000:] + ref.stderr[-2000:]
    a, b = tmp_path / "serial" / "results" / slug / "smoke", tmp_path / "slurm" / "results" / slug / "smoke"
    _check_arrays(b)
    for level in ("cells", "runs"):
        report = compare_sets(a, b, level=level)
        assert report.n_compared > 0 and report.exit_code() == 0, report.format()


def test_template_paper_as_job_arrays_equals_serial(tmp_path):
    _same_as_serial("_template", "reproduce-template", tmp_path)


def test_real_paper_as_job_arrays_equals_serial(tmp_path):
    _same_as_serial("meta_rdre", "reproduce-meta-rdre", tmp_path)


def _fixture_cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "common.cli", "reproduce", "digits-logreg", "--profile", "smoke",
            "--executor", "slurm", "--tables", "t1", *args]


def _fixture_env(root: Path, **extra: str) -> dict[str, str]:
    env = subprocess_env(root)
    env = {k: v for k, v in env.items() if not k.startswith(("SLURM_", "SBATCH_"))}
    env.update(extra)
    return env


def _squeue(array: str) -> dict[str, str]:
    out = subprocess.run(["squeue", "-h", "-r", "-t", "all", "-j", array, "-o", "%i %T"], capture_output=True,
                         text=True)
    return dict(line.split() for line in out.stdout.splitlines() if len(line.split()) == 2)


def test_cell_killed_with_scancel_is_rerun_without_duplicates(tmp_path):
    env = _fixture_env(tmp_path)
    cmd = _fixture_cli("--set", "sleep_s=12")
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    sub = tmp_path / "runs" / "_submitit" / "digits_logreg"
    victim, deadline = None, time.time() + 120
    while victim is None and time.time() < deadline and proc.poll() is None:
        time.sleep(0.5)
        arrays = sorted(p.name for p in sub.iterdir() if re.fullmatch(r"\d+", p.name)) if sub.is_dir() else []
        if arrays:
            running = sorted(j for j, s in _squeue(arrays[-1]).items() if s == "RUNNING")
            started = list((tmp_path / "runs" / "digits_logreg" / "t1").glob("*/log.txt"))
            if running and started:
                victim = running[0]
    assert victim, "no array task was seen running"
    subprocess.run(["scancel", victim], check=True)
    stdout, stderr = proc.communicate(timeout=180)
    assert proc.returncode == 1, stdout + stderr
    assert "Slurm job CANCELLED" in stderr and victim in stderr, stderr
    done = list((tmp_path / "runs" / "digits_logreg" / "t1").glob("*/done"))
    assert len(done) == 1  # the other cell of the array finished

    again = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "1 cells run, 1 already done, 0 failed" in again.stdout
    rows = _rows(tmp_path / "results" / "digits_logreg" / "smoke-set-sleep_s=12" / "t1_runs.csv")
    per_cell = Counter((r["method"], r["seed"], r["metric"]) for r in rows)
    assert len(per_cell) == 2 * 2 and set(per_cell.values()) == {1}, per_cell
    assert len({r["job_id"].split("_")[0] for r in rows}) == 2  # first array and the rerun's array


def test_failing_cell_keeps_its_log_and_names_the_slurm_files(tmp_path):
    env = _fixture_env(tmp_path)
    out = subprocess.run(_fixture_cli("--set", "method=crash", "--set", "C=1.0"), cwd=REPO, env=env,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 1, out.stdout + out.stderr
    failed = [ln for ln in out.stderr.splitlines() if ln.strip().startswith("FAILED")]
    assert len(failed) == 1 and "RuntimeError: injected failure (seed 0)" in failed[0], out.stderr
    paths = re.findall(r"(?:stdout|stderr): (\S+?)[;\]]", failed[0])
    assert len(paths) == 2 and all(Path(p).is_file() for p in paths), failed[0]
    cell = next((tmp_path / "runs" / "digits_logreg" / "t1").iterdir())
    assert "injected failure" in (cell / "log.txt").read_text() and (cell / "failed").is_file()
    assert not (cell / "done").exists()


def test_full_profile_asks_for_a_gpu_and_is_refused_without_one(tmp_path):
    env = _fixture_env(tmp_path, ALLOW_CPU_FULL="0")
    cmd = [sys.executable, "-m", "common.cli", "reproduce", "digits-logreg", "--profile", "full", "--executor",
           "slurm", "--tables", "t1"]
    # default: one GPU per cell; this cluster has none, so Slurm itself refuses the array
    out = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 2 and out.stderr.count("\n") == 1, out.stderr
    assert out.stderr.startswith("error: Slurm refused the job array") and "gres" in out.stderr.lower()
    out = subprocess.run(cmd + ["--slurm-gpus", "0"], cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 2 and "asks for a GPU per cell" in out.stderr and out.stderr.count("\n") == 1
    runs = tmp_path / "runs"
    assert not runs.exists() or not any(runs.rglob("*")), list(runs.rglob("*"))


def test_tables_larger_than_max_array_size_go_in_several_arrays(tmp_path):
    from common.executors import max_array_size

    assert max_array_size() == 10001  # read from the cluster (scripts/slurm-local.sh sets MaxArraySize)
    env = _fixture_env(tmp_path, SLURM_MAX_ARRAY_SIZE="1")
    out = subprocess.run(_fixture_cli(), cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    rows = _rows(tmp_path / "results" / "digits_logreg" / "smoke" / "t1_runs.csv")
    jobs = {r["job_id"] for r in rows}
    assert len({j.split("_")[0] for j in jobs}) == 2, jobs  # two submissions (submitit sends 1 task as a job)
