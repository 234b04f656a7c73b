"""Table expansion, resuming a killed sweep, executors, and bad requests to make/CLI."""

import csv
import signal
import subprocess
import sys
import time
from collections import Counter

import pytest

from common import config as C
from common import registry as REG
from common import sweep as S
from common.cli import UsageError, reproduce
from tests.conftest import FIXTURE_RUNS, REPO, subprocess_env


def _t1_cells(profile="quick", **kw):
    return S.expand_table(REG.load_paper("digits_logreg"), "t1", profile, **kw)


def test_expansion_and_precedence(fixture_env):
    cells = _t1_cells()
    assert len(cells) == 2 * 3  # 2 methods x 3 seeds (quick)
    by = {(c.values["method"], c.values["seed"]): c.config for c in cells}
    assert by[("logreg", 0)].C == 0.5  # QUICK
    assert by[("centroid", 0)].C == 1.0  # per-cell override beats QUICK
    assert {c.setting for c in cells} == {"train_frac=0.5"}
    assert len({c.run_id for c in cells}) == 6
    full = _t1_cells("full")
    assert len(full) == 2 * 5 and all(c.config.C == 1.0 for c in full)  # table setting beats defaults
    smoke = _t1_cells("smoke")
    assert len(smoke) == 2  # smoke: quick's cells with one seed
    assert all(c.config.train_frac == 0.5 for c in smoke)  # the grid (cell) beats SMOKE's 0.3
    cli = _t1_cells(cli={"C": "2.0"})
    assert all(c.config.C == 2.0 for c in cli)  # CLI beats the per-cell override
    assert [c.values["seed"] for c in _t1_cells(seeds=[7])] == [7, 7]


def test_run_ids_are_stable_across_processes_and_machines(fixture_env):
    committed = {p.name for p in (FIXTURE_RUNS / "digits_logreg" / "t1").iterdir()}
    assert {c.run_id for c in _t1_cells()} == committed


def test_bad_table_values_fail_before_running(fixture_env, tmp_path):
    with pytest.raises(C.ConfigError, match="'lrr'"):
        _t1_cells(cli={"lrr": "1"})
    with pytest.raises(C.ConfigError, match="train_frac"):
        _t1_cells(cli={"train_frac": "1.5"})
    assert not (tmp_path / "runs").exists()


def test_seeds_syntax():
    assert S.parse_seeds("0-2,5") == [0, 1, 2, 5]
    assert S.parse_seeds(None) is None
    with pytest.raises(S.SweepError, match="SEEDS"):
        S.parse_seeds("a,b")


def _done(tmp_path):
    return sorted((tmp_path / "runs" / "digits_logreg" / "t1").glob("*/done"))


def test_killed_sweep_resumes_only_missing_cells(fixture_env, tmp_path):
    cmd = [sys.executable, "-m", "common.cli", "reproduce", "digits-logreg", "--tables", "t1",
           "--set", "sleep_s=0.7"]
    proc = subprocess.Popen(cmd, cwd=REPO, env=subprocess_env(tmp_path),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 90
    while len(_done(tmp_path)) < 2 and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    k = len(_done(tmp_path))
    assert 2 <= k < 6, f"expected the kill to land mid-sweep, {k} cells done"
    report = reproduce("digits-logreg", tables=["t1"], cli_overrides={"sleep_s": "0.7"}, update_readme=False)
    assert len(report.ran) == 6 - k and len(report.skipped) == k and not report.failed
    with open(tmp_path / "results" / "digits_logreg" / "quick-set-sleep_s=0.7" / "t1_runs.csv") as fh:
        rows = list(csv.DictReader(fh))
    per_cell = Counter((r["method"], r["seed"], r["metric"]) for r in rows)
    assert len(per_cell) == 2 * 3 * 2 and set(per_cell.values()) == {1}
    again = reproduce("digits-logreg", tables=["t1"], cli_overrides={"sleep_s": "0.7"}, update_readme=False)
    assert again.ran == [] and len(again.skipped) == 6


def test_failed_cell_leaves_no_done_and_reruns(fixture_env, tmp_path, monkeypatch):
    cells = _t1_cells(seeds=[0])
    paper = REG.load_paper("digits_logreg")

    def boom(cfg, workdir=None):
        raise RuntimeError("injected")

    monkeypatch.setattr(paper.run_module, "run", boom)
    report = S.run_cells(cells)
    assert len(report.failed) == 2 and "injected" in report.failed[0][1]
    assert all(not (c.dir / "done").exists() and (c.dir / "failed").exists() for c in cells)
    monkeypatch.undo()
    monkeypatch.setenv("REPRO_PAPERS_DIR", str(REPO / "tests" / "fixture_papers"))
    monkeypatch.setenv("REPRO_PAPERS_PACKAGE", "tests.fixture_papers")
    monkeypatch.setenv("REPRO_RUNS", str(tmp_path / "runs"))
    report = S.run_cells(cells)
    assert len(report.ran) == 2 and all((c.dir / "done").exists() and not (c.dir / "failed").exists() for c in cells)


def test_local_executor(fixture_env):
    cells = _t1_cells(seeds=[0, 1])
    report = S.run_cells(cells, executor="local", jobs=2)
    assert len(report.ran) == 4 and not report.failed
    assert all((c.dir / "done").is_file() for c in cells)


def test_submitit_path_runs(fixture_env, monkeypatch):
    pytest.importorskip("submitit")
    monkeypatch.setenv("PYTHONPATH", str(REPO))
    cells = _t1_cells(seeds=[3])
    report = S.run_cells(cells, executor="submitit-local")
    assert len(report.ran) == 2 and not report.failed, report.failed
    assert all((c.dir / "done").is_file() for c in cells)


def test_unknown_executor(fixture_env):
    with pytest.raises(S.SweepError, match="serial, local, slurm"):
        S.run_cells(_t1_cells(seeds=[0]), executor="threads")


def test_full_profile_refused_without_cuda(fixture_env, tmp_path):
    import torch

    if torch.cuda.is_available():
        pytest.skip("CUDA present: the refusal only applies without it")
    with pytest.raises(UsageError, match="CUDA is not available.*ALLOW_CPU_FULL"):
        reproduce("digits-logreg", profile="full", update_readme=False)
    assert not (tmp_path / "runs").exists()
    rep = reproduce("digits-logreg", profile="full", tables=["t1"], seeds="0", allow_cpu_full=True,
                    update_readme=False)
    assert len(rep.ran) == 2


def test_unknown_paper_and_profile_messages(fixture_env):
    with pytest.raises(S.SweepError, match="unknown paper 'nope'; available: digits-logreg"):
        reproduce("nope")
    with pytest.raises(C.ConfigError, match="unknown profile 'fast'"):
        reproduce("digits-logreg", profile="fast")
    with pytest.raises(UsageError, match="unknown table 'tx'.*t1"):
        reproduce("digits-logreg", tables=["tx"])


def test_make_unknown_paper_lists_available():
    out = subprocess.run(["make", "-s", "reproduce-no-such-paper"], cwd=REPO, capture_output=True, text=True)
    assert out.returncode != 0
    assert "unknown paper 'no-such-paper'" in out.stderr and "Available papers:" in out.stderr


def test_cli_exit_codes(tmp_path):
    env = subprocess_env(tmp_path)
    commands = [["common.cli", "reproduce", "digits-logreg", "--profile", "fast"],
                ["tests.fixture_papers.digits_logreg.run", "--help"],
                ["tests.fixture_papers.digits_logreg.run", "--C", "abc"]]
    # the three processes run side by side (each spends seconds importing torch)
    procs = [subprocess.Popen([sys.executable, "-m", *c], cwd=REPO, env=env, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE) for c in commands]
    (fast, help_, bad_c) = [(p.communicate(), p.returncode) for p in procs]
    (_, err), rc = fast
    assert rc == 2 and "unknown profile 'fast'" in err and "Traceback" not in err
    (out, _), rc = help_
    assert rc == 0 and "Inverse L2 regularisation strength" in out
    (_, err), rc = bad_c
    assert rc == 2 and "C: cannot read 'abc' as float" in err
    assert not (tmp_path / "runs").exists()


def test_missing_data_stops_the_sweep_and_leaves_nothing(fixture_env, tmp_path, monkeypatch):
    from common.data import DataMissingError

    paper = REG.load_paper("digits_logreg")

    def no_data(cfg, workdir=None):
        raise DataMissingError("dataset 'digits' not found: needed x in one of ...")

    monkeypatch.setattr(paper.run_module, "run", no_data)
    with pytest.raises(DataMissingError, match="'digits' not found"):
        S.run_cells(_t1_cells(seeds=[0]))
    leftovers = list((tmp_path / "runs" / "digits_logreg" / "t1").glob("*")) if (tmp_path / "runs").exists() else []
    assert leftovers == []


def test_run_id_ignores_execution_only_fields_but_not_threads():
    import dataclasses

    @dataclasses.dataclass(frozen=True)
    class Cfg(C.BaseConfig):
        lr: float = 0.1
        download: bool = dataclasses.field(default=False, metadata=C.EXECUTION_ONLY)

    def rid(**kw):
        return S.Cell("p", "t", "quick", Cfg(**kw), {}, "default").run_id

    assert rid() == rid(download=True)  # cannot change the result: same cell
    assert rid() != rid(lr=0.2)
    assert rid() != rid(threads=2)  # thread count changes float summation order: a different cell
    assert "download" not in C.result_dict(Cfg()) and "threads" in C.result_dict(Cfg())


def test_stale_cells_are_counted_and_fresh_reruns_them(fixture_env):
    import json

    cells = _t1_cells(seeds=[0])
    assert len(S.run_cells(cells).ran) == 2
    old = cells[0].dir / "config.json"
    cfg = json.loads(old.read_text())
    cfg["meta"]["git_sha"] = "0123456789"  # as if made by another commit of the paper's code
    old.write_text(json.dumps(cfg))
    report = S.run_cells(cells)
    assert report.stale == [cells[0].run_id] and report.ran == [] and len(report.skipped) == 2
    report = S.run_cells(cells, fresh=True)
    assert report.ran == [cells[0].run_id] and report.stale == []
    assert S.cell_sha(cells[0].dir) == S.code_sha("digits_logreg")
    assert S.run_cells(cells, fresh=True).ran == []  # nothing stale any more


def test_same_commit_rules():
    assert S.same_commit("abcdef1234", "abcdef1")  # abbreviations of different length
    assert not S.same_commit("abcdef1234", "abcdef1234+dirty")
    assert S.same_commit("abcdef1234+dirty", "abcdef1234+dirty")
    assert not S.same_commit("", "abcdef1234") and not S.same_commit("abcdef1234", "bbcdef1234")


def test_results_name_for_other_seeds_and_settings():
    from common.cli import results_name

    assert results_name("quick") == "quick"
    assert results_name("quick", [0, 1, 2], [0, 1, 2]) == "quick"  # the table's own seeds
    assert results_name("quick", [0, 1, 2, 3, 4], [0, 1, 2]) == "quick-seeds0-4"
    assert results_name("full", [0, 2, 3, 9], [0]) == "full-seeds0,2-3,9"
    assert results_name("quick", None, None, {"lr": "-0.1", "C": "2"}) == "quick-set-C=2+lr=-0.1"
    assert results_name("quick", None, None, {"x": "a/b c"}) == "quick-set-x=a_b_c"
    assert results_name("quick", [5], [0], {}, "mystudy") == "mystudy"
    with pytest.raises(UsageError, match="needs its own name"):
        results_name("quick", [5], [0], {}, "quick")
    with pytest.raises(UsageError, match="needs its own name"):
        results_name("smoke", None, None, {}, "quick")
    with pytest.raises(UsageError, match="plain folder name"):
        results_name("quick", None, None, {}, "../quick")


def test_other_seeds_or_settings_never_overwrite_the_profile_results(fixture_env, tmp_path):
    base = tmp_path / "results" / "digits_logreg"
    reproduce("digits-logreg", tables=["t1"], seeds="0-4", update_readme=False)
    assert (base / "quick-seeds0-4" / "t1.csv").is_file() and not (base / "quick").exists()
    reproduce("digits-logreg", tables=["t1"], seeds="1", cli_overrides={"C": "2"}, update_readme=False)
    assert (base / "quick-seeds1-set-C=2" / "t1.csv").is_file() and not (base / "quick").exists()
    rows = list(csv.DictReader(open(base / "quick-seeds0-4" / "t1_runs.csv")))
    assert sorted({r["seed"] for r in rows}) == ["0", "1", "2", "3", "4"] and {r["profile"] for r in rows} == {"quick"}
    reproduce("digits-logreg", tables=["t1"], seeds="0,1,2", update_readme=False)  # = the table's seeds
    assert (base / "quick" / "t1.csv").is_file()


def test_only_committed_profiles_in_the_repo_results_touch_tracked_files(fixture_env, tmp_path, monkeypatch):
    from common import report as REP
    from common import results as R

    monkeypatch.setattr(R, "REPO_ROOT", tmp_path)  # tmp_path/results plays the repository's results/
    monkeypatch.delenv("REPRO_RESULTS")
    monkeypatch.setenv("ALLOW_DIRTY", "1")  # the tests run in a working tree with uncommitted edits
    calls = []
    monkeypatch.setattr(REP, "update_paper_readme", lambda slug, root=None: calls.append(slug))
    reproduce("digits-logreg", profile="smoke", tables=["t1"])
    reproduce("digits-logreg", tables=["t1"], seeds="4")
    assert calls == []
    assert REP.paper_status("digits_logreg") == ("code, no results yet", "")  # make results ignores them
    assert "No results committed yet" in REP.paper_results_section("digits_logreg")
    reproduce("digits-logreg", tables=["t1"])
    assert calls == ["digits_logreg"] and REP.paper_status("digits_logreg")[0] == "results: quick"


def test_gitignore_keeps_smoke_and_variant_results_out():
    paths = ["results/x/smoke/t1.csv", "results/x/quick-seeds0-4/t1.csv", "results/x/full-set-lr=1/t1.csv",
             "results/x/quick/t1.csv"]
    out = subprocess.run(["git", "check-ignore", "--no-index", *paths], cwd=REPO, capture_output=True, text=True)
    assert out.stdout.split() == paths[:3]


def test_cells_with_the_same_config_are_one_run(fixture_env):
    cells = _t1_cells(cli={"method": "centroid", "C": "1.0"})  # the method axis collapses: 3 runs, not 6
    assert [c.values["seed"] for c in cells] == [0, 1, 2] and len({c.run_id for c in cells}) == 3


def test_readme_and_figure_commits_neither_dirty_nor_age_a_paper(tmp_path, monkeypatch):
    """`make results` rewrites papers/<slug>/README.md and figures; they are not code a run imports."""
    import subprocess

    from common import results as R

    def git(*args):
        subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True)

    (tmp_path / "common").mkdir()
    (tmp_path / "papers" / "p").mkdir(parents=True)
    (tmp_path / "common" / "a.py").write_text("x = 1\n")
    (tmp_path / "papers" / "p" / "run.py").write_text("y = 1\n")
    (tmp_path / "papers" / "p" / "README.md").write_text("# p\n")
    git("init", "-q")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qam", "x", "--allow-empty")
    git("add", ".")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "code")
    monkeypatch.setattr(R, "REPO_ROOT", tmp_path)
    monkeypatch.setattr(R, "_GIT_SHA", {})
    code = R.git_sha(R.code_paths("p"))
    assert code and "+dirty" not in code and code != "unknown"
    (tmp_path / "papers" / "p" / "README.md").write_text("# p, regenerated\n")
    (tmp_path / "papers" / "p" / "fig.png").write_bytes(b"\x89PNG")
    (tmp_path / "papers" / "p" / "tests").mkdir()
    (tmp_path / "papers" / "p" / "tests" / "test_p.py").write_text("def test_x():\n    pass\n")
    monkeypatch.setattr(R, "_GIT_SHA", {})
    assert R.git_sha(R.code_paths("p")) == code  # an edited README, a figure, a test are not uncommitted code
    git("add", ".")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "docs")
    monkeypatch.setattr(R, "_GIT_SHA", {})
    assert R.git_sha(R.code_paths("p")) == code  # nor does committing them age the results
    (tmp_path / "papers" / "p" / "run.py").write_text("y = 2\n")
    monkeypatch.setattr(R, "_GIT_SHA", {})
    assert R.git_sha(R.code_paths("p")) == code + "+dirty"  # code still does


def test_a_table_may_skip_the_quick_profile_with_a_reason(fixture_env, tmp_path, monkeypatch, capsys):
    """A full-only table: `profiles.quick.skip` (text) expands to no quick cells; reproduce runs the other tables and
    says why; smoke and full still expand; a skip anywhere else, without a reason or a smoke profile is refused."""
    import shutil

    from tests.conftest import FIXTURE_PAPERS

    papers = tmp_path / "papers"
    shutil.copytree(FIXTURE_PAPERS, papers)
    monkeypatch.setenv("REPRO_PAPERS_DIR", str(papers))
    tables = papers / "digits_logreg" / "tables"
    (tables / "overhead.yaml").unlink()
    spec = (tables / "t1.yaml").read_text()
    (tables / "t2.yaml").write_text(spec.replace("  quick: {seeds: [0, 1, 2]}",
                                                 '  quick: {skip: "GPU only"}\n  smoke: {seeds: [0]}'))
    paper = REG.load_paper("digits_logreg")
    assert S.expand_table(paper, "t2", "quick") == [] and S.skip_reason(paper, "t2", "quick") == "GPU only"
    assert S.skip_reason(paper, "t1", "quick") == ""
    assert len(S.expand_table(paper, "t2", "smoke")) == 2 and len(S.expand_table(paper, "t2", "full")) == 10
    report = reproduce("digits_logreg", "quick", update_readme=False)
    assert len(report.ran) == 6 and not report.failed
    assert "t2: not run in the quick profile (GPU only)" in capsys.readouterr().out
    assert not (tmp_path / "results" / "digits_logreg" / "quick" / "t2.csv").exists()
    with pytest.raises(UsageError, match="no table runs in the quick profile: t2: GPU only"):
        reproduce("digits_logreg", "quick", tables=["t2"], update_readme=False)
    for bad, msg in [('  quick: {skip: ""}\n  smoke: {seeds: [0]}', "reason as text"),
                     ('  quick: {skip: "x", seeds: [0]}\n  smoke: {seeds: [0]}', "no other keys"),
                     ('  quick: {skip: "x"}', "needs a smoke profile")]:
        (tables / "t2.yaml").write_text(spec.replace("  quick: {seeds: [0, 1, 2]}", bad))
        with pytest.raises(S.SweepError, match=msg):
            S.expand_table(paper, "t2", "quick")
    (tables / "t2.yaml").write_text(spec.replace("  full: {seeds", '  smoke: {skip: "x"}\n  full: {seeds'))
    with pytest.raises(S.SweepError, match="only the quick profile may be skipped"):
        S.expand_table(paper, "t2", "full")
