"""``common.compare`` (``make compare``) on small result sets written in tmp_path and on a tiny git repo."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from common.compare import CompareError, compare_sets, is_timing_metric, main, values_match
from common.results import CELL_COLUMNS, RUN_COLUMNS, write_csv_atomic

CELLS = [
    ("digits", "ours", "k=1", "acc_pct", "91.5", "1.25", "3", "93.0"),
    ("digits", "ours", "k=5", "acc_pct", "95.0", "0.5", "3", ""),
    ("digits", "base", "k=1", "acc_pct", "88.0", "2.0", "3", "87.5"),
    ("digits", "ours", "k=1", "train_time_s", "12.0", "1.0", "3", ""),
    ("iris", "ours", "", "loss", "nan", "nan", "3", ""),
]


def cell_rows(paper="toy", profile="quick", table="t1", changes=None, drop=()):
    rows = []
    for dataset, method, setting, metric, mean, std, n, paper_value in CELLS:
        if (dataset, method, setting, metric) in drop:
            continue
        row = dict(paper=paper, table=table, profile=profile, dataset=dataset, method=method, setting=setting,
                   metric=metric, mean=mean, std=std, n_seeds=n, paper_value=paper_value, delta="")
        row.update((changes or {}).get((dataset, method, setting, metric), {}))
        rows.append(row)
    return rows


def write_cells(root: Path, rows, paper="toy", profile="quick", table="t1") -> Path:
    folder = root / "results" / paper / profile
    write_csv_atomic(folder / f"{table}.csv", rows, CELL_COLUMNS)
    (folder / "claims.csv").write_text("id,claim,source,status,evidence\nc1,x,y,held,z\n")  # not a cell table
    return root / "results"


def run_rows(changes=None):
    rows = []
    for seed, value in ((0, "0.5"), (1, "0.75")):
        for metric, v in (("acc", value), ("time_s", "3.0")):
            row = dict(paper="toy", table="t1", profile="smoke", dataset="d", method="m", setting="", seed=seed,
                       metric=metric, value=v, n="10", run_id=f"r{seed}", git_sha="abc", torch="2.14",
                       device="cpu", wall_s="1.0", finished_at="2026-01-01T00:00:00+00:00")
            row.update((changes or {}).get((seed, metric), {}))
            rows.append(row)
    return rows


def cli(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_identical_sets_exit_0(tmp_path, capsys):
    a = write_cells(tmp_path / "a", cell_rows())
    b = write_cells(tmp_path / "b", cell_rows())
    code, out, _ = cli(capsys, f"A={a}", f"B={b}")
    assert code == 0
    # 5 cells minus the timing metric; nan == nan counts as equal
    assert "compared 4 cells" in out and "0 differ" in out and "1 timing metrics skipped" in out


def test_value_off_beyond_tol_is_named_and_exits_1(tmp_path, capsys):
    a = write_cells(tmp_path / "a", cell_rows())
    b = write_cells(tmp_path / "b", cell_rows(changes={("digits", "base", "k=1", "acc_pct"): {"mean": "88.3"}}))
    code, out, _ = cli(capsys, f"A={a}", f"B={b}", "TOL=0.1")
    assert code == 1
    assert "1 differ beyond tol=0.1" in out
    line = next(ln for ln in out.splitlines() if "88.3" in ln)
    assert all(s in line for s in ("toy/quick/t1", "digits", "base", "k=1", "acc_pct", "mean", "88.0", "+0.3"))
    report = compare_sets(a, b, tol=0.1)
    assert [(d.key[4], d.column) for d in report.differences] == [("base", "mean")]


def test_within_tol_or_rtol_exits_0_and_exact_by_default(tmp_path, capsys):
    a = write_cells(tmp_path / "a", cell_rows())
    b = write_cells(tmp_path / "b", cell_rows(changes={("digits", "ours", "k=1", "acc_pct"): {"mean": "91.55"}}))
    assert cli(capsys, f"A={a}", f"B={b}", "TOL=0.1")[0] == 0
    assert cli(capsys, f"A={a}", f"B={b}", "--rtol", "1e-3")[0] == 0  # 0.05 <= 1e-3 * 91.55
    assert cli(capsys, f"A={a}", f"B={b}")[0] == 1  # TOL defaults to exact
    assert cli(capsys, f"A={a}", f"B={b}", "--rtol", "1e-4")[0] == 1
    # exact means equal as floats, not as strings
    c = write_cells(tmp_path / "c", cell_rows(changes={("digits", "ours", "k=1", "acc_pct"): {"mean": "91.50"}}))
    assert cli(capsys, f"A={a}", f"B={c}")[0] == 0


def test_missing_cell_is_listed_and_exits_1_unless_allowed(tmp_path, capsys):
    a = write_cells(tmp_path / "a", cell_rows())
    b = write_cells(tmp_path / "b", cell_rows(drop=[("digits", "ours", "k=5", "acc_pct")]))
    code, out, _ = cli(capsys, f"A={a}", f"B={b}")
    assert code == 1
    assert "1 only in A, 0 only in B" in out
    listed = out.split("only in A (1):")[1].splitlines()
    assert any("k=5" in ln and "ours" in ln and "acc_pct" in ln for ln in listed)
    code, _, err = cli(capsys, f"A={a}", f"B={b}", "--allow-missing")
    assert code == 0 and "warning" in err
    assert compare_sets(b, a).only_b and not compare_sets(b, a).only_a


def test_timing_columns_and_metrics_ignored_unless_asked(tmp_path, capsys):
    write_csv_atomic(tmp_path / "a" / "t1_runs.csv", run_rows(), RUN_COLUMNS)
    changed = {(s, m): {"wall_s": "9.9", "git_sha": "def", "finished_at": "2027-01-01", "device": "cuda"}
               for s in (0, 1) for m in ("acc", "time_s")}
    changed[(1, "time_s")]["value"] = "4.5"
    write_csv_atomic(tmp_path / "b" / "t1_runs.csv", run_rows(changed), RUN_COLUMNS)
    a, b = tmp_path / "a", tmp_path / "b"
    code, out, _ = cli(capsys, a, b, "--level", "runs")
    assert code == 0 and "compared 2 run rows (value, n)" in out and "2 timing metrics skipped" in out
    report = compare_sets(a, b, level="runs", with_timing=True)
    assert [(d.key[-1], d.key[-2], d.column, d.a, d.b) for d in report.differences] == [
        ("1", "time_s", "value", "3.0", "4.5")]
    report = compare_sets(a, b, level="runs", columns="git_sha,wall_s")
    assert sorted({d.column for d in report.differences}) == ["git_sha", "wall_s"]
    assert len(report.differences) == 4
    with pytest.raises(CompareError, match="unknown column"):
        compare_sets(a, b, level="runs", columns="host_name")


def test_runs_level_lines_up_by_seed(tmp_path):
    write_csv_atomic(tmp_path / "a" / "t1_runs.csv", run_rows(), RUN_COLUMNS)
    swapped = {(0, "acc"): {"value": "0.75"}, (1, "acc"): {"value": "0.5"}}  # same multiset, other seeds
    write_csv_atomic(tmp_path / "b" / "t1_runs.csv", run_rows(swapped), RUN_COLUMNS)
    report = compare_sets(tmp_path / "a", tmp_path / "b", level="runs")
    assert sorted(d.key[-1] for d in report.differences) == ["0", "1"]
    assert report.key_fields[-1] == "seed" and report.exit_code() == 1


def test_values_match_rules():
    assert values_match("nan", "NaN") == (True, None)
    assert values_match("nan", "1.0")[0] is False
    assert values_match("inf", "inf")[0] and not values_match("inf", "-inf")[0]
    assert values_match("", "")[0] and not values_match("", "0")[0]
    assert values_match("1", "1.0000001", tol=1e-6)[0] and not values_match("1", "1.0000001")[0]
    assert values_match("abc", "abc")[0] and not values_match("abc", "abd")[0]
    assert is_timing_metric("meta_train_time_s") and is_timing_metric("wall_s") and is_timing_metric("speedup_x")
    assert not is_timing_metric("test_auc_pct") and not is_timing_metric("n_samples")


def test_nan_against_number_differs(tmp_path):
    a = write_cells(tmp_path / "a", cell_rows())
    b = write_cells(tmp_path / "b", cell_rows(changes={("iris", "ours", "", "loss"): {"mean": "0.25"}}))
    report = compare_sets(a, b)
    assert [(d.key[3], d.column, d.a, d.b) for d in report.differences] == [("iris", "mean", "nan", "0.25")]


def test_quick_vs_full_drops_profile_and_filters(tmp_path, capsys):
    write_cells(tmp_path, cell_rows(profile="quick"), profile="quick")
    write_cells(tmp_path, cell_rows(profile="full", changes={("digits", "ours", "k=5", "acc_pct"): {"mean": "97"}}),
                profile="full")
    write_cells(tmp_path, cell_rows(paper="other"), paper="other")
    quick, full = tmp_path / "results" / "toy" / "quick", tmp_path / "results" / "toy" / "full"
    code, out, _ = cli(capsys, f"A={quick}", f"B={full}", "TOL=0.01")
    assert code == 1 and "profiles differ" in out and "compared 4 cells" in out and "+2" in out
    report = compare_sets(quick, full)
    assert "profile" not in report.key_fields and len(report.differences) == 1
    # from the results root: PAPER and PROFILE select
    root = tmp_path / "results"
    assert compare_sets(root, root, paper="toy", profile="full").n_compared == 4
    assert compare_sets(root, quick, paper="toy", profile="quick").exit_code() == 0
    assert compare_sets(root, quick).only_a  # the other paper and the full profile are only in A


def test_paper_values(tmp_path, capsys):
    a = write_cells(tmp_path / "a", cell_rows())
    code, out, _ = cli(capsys, f"A={a}", "--paper-values", "TOL=1")
    # ours 91.5 vs 93.0 (delta -1.5, beyond 1), ours 88.0 vs 87.5 (+0.5, within)
    assert code == 1 and "2 cells with a paper value, 1 beyond tol=1" in out
    assert any("-1.5" in ln and "BEYOND" in ln for ln in out.splitlines())
    assert any("+0.5" in ln and "BEYOND" not in ln for ln in out.splitlines())
    assert cli(capsys, f"A={a}", "--paper-values", "TOL=2")[0] == 0
    with pytest.raises(CompareError):
        compare_sets(a, a, paper_values=True)


def test_bad_input_exits_2_with_one_error_line(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    a = write_cells(tmp_path / "a", cell_rows())
    for argv in ([f"A={tmp_path / 'empty'}", f"B={a}"], ["A=no-such-ref-xyz", f"B={a}"],
                 [f"A={a}", f"B={a}", "COLUMNS=bogus"], [f"A={a}", f"B={a}", "PAPER=nobody"]):
        code, out, err = cli(capsys, *argv)
        assert code == 2 and out == ""
        assert len(err.strip().splitlines()) == 1 and err.startswith("error: ")


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True).stdout


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_git_refs_without_checkout(tmp_path, capsys, monkeypatch):
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q")
    git(repo, "config", "user.email", "t@example.org")
    git(repo, "config", "user.name", "t")
    write_cells(repo, cell_rows())
    git(repo, "add", "results")
    git(repo, "commit", "-q", "-m", "first")
    write_cells(repo, cell_rows(changes={("digits", "ours", "k=5", "acc_pct"): {"mean": "96.0"}}))
    git(repo, "commit", "-q", "-am", "second")
    first = git(repo, "rev-parse", "HEAD~1").strip()
    monkeypatch.chdir(repo)

    code, out, _ = cli(capsys, "A=HEAD~1", "B=HEAD")
    assert code == 1 and "HEAD~1" in out
    diff_line = next(ln for ln in out.splitlines() if "96.0" in ln)
    assert "k=5" in diff_line and "95.0" in diff_line and "+1" in diff_line
    assert cli(capsys, f"A={first[:8]}", "B=HEAD~1")[0] == 0  # a sha
    assert cli(capsys, "A=HEAD", "B=.")[0] == 0  # committed vs the working tree
    assert cli(capsys)[0] == 0  # defaults: HEAD vs .
    git(repo, "branch", "old", first)
    assert cli(capsys, "A=old", "B=.")[0] == 1  # a branch
    assert cli(capsys, "A=old:results/toy/quick", "B=HEAD~1:results/toy")[0] == 0  # ref:path
    # a ref against a folder inside the repo reads the same folder at the ref
    assert compare_sets("HEAD", repo / "results" / "toy" / "quick", repo=repo).n_compared == 4
    # nothing checked out, no worktree left behind
    assert git(repo, "status", "--porcelain") == ""
    assert len(git(repo, "worktree", "list").splitlines()) == 1

    code, out, err = cli(capsys, "A=HEAD~5", "B=.")
    assert code == 2 and out == "" and err.count("\n") == 1 and err.startswith("error: ") and "HEAD~5" in err


def test_table_rename_lines_up_renamed_tables(tmp_path):
    a = write_cells(tmp_path / "a", cell_rows(table="auc"), table="auc")
    b = write_cells(tmp_path / "b", cell_rows(table="t1_auc"), table="t1_auc")
    assert compare_sets(a, b).only_a
    report = compare_sets(a, b, rename_table="auc=t1_auc")
    assert report.exit_code() == 0 and report.n_compared == 4
    with pytest.raises(CompareError, match="OLD=NEW"):
        compare_sets(a, b, rename_table="auc")
