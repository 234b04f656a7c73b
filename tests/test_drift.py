"""The drift check reruns a paper's declared cell and compares it with the committed rows."""

from common import drift
from common import results as R


def _commit_fake(tmp_path, monkeypatch, shift=0.0):
    """Run the template's DRIFT cell once and store its rows as the 'committed' quick results."""
    monkeypatch.setenv("REPRO_RESULTS", str(tmp_path / "results"))
    monkeypatch.setenv("REPRO_RUNS", str(tmp_path / "runs0"))
    spec = drift.declared("_template")
    cell = drift.find_cell("_template", spec, tmp_path / "runs0")
    drift.S.execute_cell(cell)
    rows = R.read_csv(cell.dir / "metrics.csv")
    for r in rows:
        r["value"] = float(r["value"]) + shift
    R.write_csv_atomic(tmp_path / "results" / "_template" / "quick" / f"{spec['table']}_runs.csv", rows,
                       R.RUN_COLUMNS)
    return spec


def test_rerun_within_tolerance_passes(tmp_path, monkeypatch):
    _commit_fake(tmp_path, monkeypatch)
    ok, text = drift.check_paper("_template", tmp_path / "scratch")
    assert ok, text


def test_a_moved_value_is_reported(tmp_path, monkeypatch):
    spec = _commit_fake(tmp_path, monkeypatch, shift=1.0)
    ok, text = drift.check_paper("_template", tmp_path / "scratch")
    assert not ok and "test_acc_pct" in text and spec["table"] in text


def test_no_committed_results_is_skipped(tmp_path, monkeypatch):
    monkeypatch.setenv("REPRO_RESULTS", str(tmp_path / "empty"))
    ok, text = drift.check_paper("_template", tmp_path / "scratch")
    assert ok and "skipped" in text


def test_cli_exit_codes(tmp_path, monkeypatch, capsys):
    _commit_fake(tmp_path, monkeypatch, shift=1.0)
    assert drift.main(["template"]) == 1
    assert drift.main(["no-such-paper"]) == 2
    assert "error: unknown paper" in capsys.readouterr().err



def test_results_older_than_the_paper_code_are_reported_stale(tmp_path, monkeypatch):
    _commit_fake(tmp_path, monkeypatch, shift=1.0)  # would fail if compared
    committed = tmp_path / "results" / "_template" / "quick"
    f = next(committed.glob("*_runs.csv"))
    rows = R.read_csv(f)
    for r in rows:
        r["git_sha"] = "0123456789"
    R.write_csv_atomic(f, rows, R.RUN_COLUMNS)
    monkeypatch.setattr(drift, "paper_changed_since", lambda slug, sha: ["abc1234", "def5678"] if sha == "0123456789" else [])
    ok, text = drift.check_paper("_template", tmp_path / "scratch")
    assert ok and "stale" in text and "0123456789" in text and "2 commits" in text
    monkeypatch.setattr(drift, "paper_changed_since", lambda slug, sha: [])  # only common/ changed: compared
    ok, text = drift.check_paper("_template", tmp_path / "scratch2")
    assert not ok and "test_acc_pct" in text


def test_paper_changed_since_asks_git():
    assert drift.paper_changed_since("_template", "no-such-commit-xyz") == []
    head = drift.subprocess.run(["git", "rev-parse", "HEAD"], cwd=R.REPO_ROOT, capture_output=True, text=True).stdout.strip()
    assert drift.paper_changed_since("_template", head) == []
