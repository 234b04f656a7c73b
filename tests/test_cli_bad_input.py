"""Every bad request gives ONE ``error: ...`` line, exit status 2, and leaves nothing in runs/.

Runs the command line in-process (``common.cli.main``, the code behind ``make reproduce-<paper>``)
on the fixture paper; one test goes through a real subprocess to show there is no traceback.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from common import cli
from tests.conftest import REPO, subprocess_env


def _error(capsys, argv: list[str], tmp_path: Path, expect: str) -> str:
    """Run the CLI, check the one-line error and that runs/ holds no file or folder."""
    code = cli.main(["reproduce", "digits-logreg", *argv])
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert code == 2, err
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert expect in lines[0], lines[0]
    runs = tmp_path / "runs"
    left = sorted(str(p.relative_to(runs)) for p in runs.rglob("*")) if runs.exists() else []
    assert left == [], left
    return lines[0]


def test_impossible_setting_is_refused_before_any_cell(fixture_env, capsys):
    _error(capsys, ["--set", "train_frac=1.5"], fixture_env, "train_frac must be in (0, 1)")
    _error(capsys, ["--set", "C=-1"], fixture_env, "C must be > 0")
    _error(capsys, ["--set", "seed=nan"], fixture_env, "seed")
    _error(capsys, ["--set", "nokey=1"], fixture_env, "unknown config key 'nokey'")
    _error(capsys, ["--set", "C"], fixture_env, "--set expects key=value")


def test_learning_rate_rule_holds_for_every_paper(capsys, tmp_path, monkeypatch):
    """meta_rdre with ARGS='--set lr=-1' left 6 failed cells and 18 files; now nothing runs."""
    monkeypatch.setenv("REPRO_RUNS", str(tmp_path / "runs"))
    monkeypatch.setenv("REPRO_RESULTS", str(tmp_path / "results"))
    code = cli.main(["reproduce", "meta-rdre", "--profile", "smoke", "--set", "lr=-1"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and err.count("\n") == 0 and "lr: a learning rate must be finite and >= 0, got -1.0" in err
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize("seeds,expect", [("-1", "SEEDS: seeds are integers >= 0, got -1"),
                                          ("a", "SEEDS: cannot read 'a'"),
                                          ("3-1", "SEEDS: no seeds")])
def test_bad_seeds(fixture_env, capsys, monkeypatch, seeds, expect):
    monkeypatch.setenv("SEEDS", seeds)
    _error(capsys, [], fixture_env, expect)


@pytest.mark.parametrize("jobs", ["-2", "abc", "1.5"])
def test_bad_jobs(fixture_env, capsys, monkeypatch, jobs):
    monkeypatch.setenv("JOBS", jobs)
    _error(capsys, [], fixture_env, "JOBS: expected an integer >= 0")


def test_bad_jobs_through_a_subprocess_has_no_traceback(tmp_path):
    env = {**subprocess_env(tmp_path), "JOBS": "abc"}
    out = subprocess.run([sys.executable, "-m", "common.cli", "reproduce", "digits-logreg"], cwd=REPO, env=env,
                         capture_output=True, text=True)
    assert out.returncode == 2 and out.stderr.strip() == ("error: JOBS: expected an integer >= 0 (0 = one per "
                                                          "core), got 'abc'")
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize("executor", ["serial", "local"])
def test_missing_data_stops_every_executor_and_leaves_no_empty_folders(fixture_env, capsys, executor):
    """Before: `local` went on after bad input (6 failed cells, exit 1) where `serial` stopped."""
    _error(capsys, ["--executor", executor, "--jobs", "2", "--tables", "t1", "--set", "dataset=nowhere"], fixture_env,
           "dataset 'nowhere' not found")


def test_local_executor_stops_at_bad_input_and_keeps_finished_cells(fixture_env):
    """Cells that finished before the bad one keep their results; none is left half-made."""
    from common import sweep as S
    from common.data import DataMissingError
    from common.registry import load_paper

    paper = load_paper("digits_logreg")
    good = S.expand_table(paper, "t1", "quick", seeds=[0])
    bad = S.expand_table(paper, "t1", "quick", seeds=[1, 2, 3], cli={"dataset": "nowhere"})
    with pytest.raises(DataMissingError, match="nowhere"):
        S.run_cells(good + bad, "local", jobs=1)
    assert all((c.dir / "done").is_file() for c in good)
    assert not any(c.dir.exists() for c in bad)


def test_unknown_executor(fixture_env, capsys):
    _error(capsys, ["--executor", "threads"], fixture_env, "unknown executor 'threads'; valid: serial, local, slurm")


def _fake_slurm(tmp_path: Path, monkeypatch, sbatch_exit: int = 1) -> None:
    """sbatch/squeue on PATH that refuse everything: enough for the checks made before submitting."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in ("sbatch", "squeue", "srun"):
        path = bin_dir / name
        path.write_text(f"#!/bin/sh\necho 'sbatch: error: Invalid generic resource (gres) specification' >&2\n"
                        f"exit {sbatch_exit}\n")
        path.chmod(path.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")


def test_slurm_without_slurm(fixture_env, capsys, monkeypatch, tmp_path):
    bin_dir = tmp_path / "bin"  # git only (provenance), no Slurm tools
    bin_dir.mkdir()
    git = shutil.which("git")
    if git:
        (bin_dir / "git").symlink_to(git)
    monkeypatch.setenv("PATH", str(bin_dir))
    assert shutil.which("sbatch") is None
    _error(capsys, ["--executor", "slurm", "--profile", "smoke"], fixture_env,
           "EXECUTOR=slurm: no Slurm on this machine (sbatch/squeue/srun not on PATH)")


def test_slurm_full_profile_without_gpu_is_refused(fixture_env, capsys, monkeypatch, tmp_path):
    _fake_slurm(tmp_path, monkeypatch)
    monkeypatch.setenv("SLURM_GPUS", "0")
    _error(capsys, ["--executor", "slurm", "--profile", "full"], fixture_env,
           "EXECUTOR=slurm PROFILE=full asks for a GPU per cell")
    # ALLOW_CPU_FULL=1 lets it through to sbatch (which refuses here: one line too, nothing left)
    monkeypatch.setenv("ALLOW_CPU_FULL", "1")
    _error(capsys, ["--executor", "slurm", "--profile", "full", "--tables", "t1"], fixture_env,
           "Slurm refused the job array")


def test_slurm_options_are_checked(fixture_env, capsys, monkeypatch, tmp_path):
    _fake_slurm(tmp_path, monkeypatch)
    _error(capsys, ["--executor", "slurm", "--slurm-time", "soon"], fixture_env, "SLURM_TIME: cannot read 'soon'")
    _error(capsys, ["--executor", "slurm", "--slurm-cpus", "0"], fixture_env, "SLURM_CPUS: expected an integer >= 1")
    monkeypatch.setenv("SLURM_MEM", "lots")
    _error(capsys, ["--executor", "slurm"], fixture_env, "SLURM_MEM: cannot read 'lots'")


def test_unwritable_results_folder_is_found_before_any_cell(fixture_env, capsys, monkeypatch, tmp_path):
    blocker = tmp_path / "afile"
    blocker.write_text("not a folder")
    monkeypatch.setenv("REPRO_RESULTS", str(blocker / "results"))
    _error(capsys, [], fixture_env, "results folder")
    if os.geteuid() != 0:  # root writes through permission bits, so only a non-root user sees this one
        ro = tmp_path / "ro"
        ro.mkdir()
        ro.chmod(0o555)
        monkeypatch.setenv("REPRO_RESULTS", str(ro))
        _error(capsys, [], fixture_env, "is not writable")


def test_writable_check_leaves_nothing(tmp_path):
    cli.check_writable(tmp_path / "a" / "b", "results")
    assert list(tmp_path.iterdir()) == []
