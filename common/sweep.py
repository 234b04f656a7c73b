"""Tables -> cells -> runs: expansion of ``papers/<slug>/tables/*.yaml`` and the execution of a cell.

Table file format (every key but ``profiles`` optional)::

    title: "Table 2: test AUC (%) on Cora and Citeseer"
    settings: {epochs: 500}          # table settings, every profile
    grid:                            # cartesian product; each combination is one cell
      dataset: [cora, citeseer]
      label_frac: [0.025, 0.05, 0.1]
    cells: [{method: a}, {method: b, lr: 0.1}]   # optional list, crossed with the grid
    overrides:                       # per-cell overrides, applied where `when` matches the cell
      - when: {dataset: citeseer}
        set: {lr: 0.01}
    setting_keys: [label_frac]       # cell keys that name the `setting` column
                                     # (default: every cell key but dataset, method and seed)
    profiles:                        # quick and full are required; smoke defaults to quick
      quick: {seeds: [0, 1, 2], settings: {epochs: 50}, grid: {dataset: [cora]}}
      full:  {seeds: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]}

A profile may replace grid axes (``grid``), add ``settings``, ``cells`` and ``overrides``.
Precedence: defaults < QUICK < table settings < cell (grid, cells, overrides) < CLI.

How cells are run (serial, local processes, Slurm) is :mod:`common.executors`; which papers exist
is :mod:`common.registry`.

Bad input, one path. A request that cannot run (missing or corrupt data, an impossible setting)
is not a failed experiment. Papers signal it by raising :class:`common.config.ConfigError`
(impossible setting, in ``Config.validate()`` or at run time), or an error of the data family
:class:`common.data.DataMissingError` / :class:`common.data.DataFormatError` /
:class:`common.data.ChecksumError` (and task/episode errors of ``common.meta``). Every one of
these, in any cell and under any executor, stops the sweep at once: no further cell is started,
the cell's fresh folder is removed (with its table folder when that is left empty), and the
command line prints one ``error: ...`` line and exits with status 2. Any other exception is a
failed cell: the sweep goes on, the folder keeps ``log.txt`` and a ``failed`` marker, and the
failures are listed at the end (exit status 1).
"""

from __future__ import annotations

import dataclasses
import inspect
import itertools
import json
import logging
import os
import pickle
import shutil
import socket
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import yaml

from common import config as C
from common import results as R
from common.executors import EXECUTORS, PUBLIC_EXECUTORS, ExecOptions, Outcome, SlurmOptions, SweepReport
from common.registry import Paper, SweepError, load_paper

TABLE_KEYS = {"title", "description", "settings", "grid", "cells", "overrides", "setting_keys",
              "profiles", "figure"}
PROFILE_KEYS = {"seeds", "settings", "grid", "cells", "overrides", "skip"}
LABEL_EXCLUDE = {"dataset", "method", "seed"}


def _bad_input_errors() -> tuple[type[BaseException], ...]:
    import common.data.core as D
    from common.meta import TaskError  # the lazy namespace: naming it imports no torch

    errors: list[type[BaseException]] = [C.ConfigError, SweepError, TaskError]
    errors += [getattr(D, n) for n in ("DataError", "DataMissingError", "DataFormatError", "ChecksumError")
               if hasattr(D, n)]
    try:
        from common.fewshot import EpisodeError

        errors.append(EpisodeError)
    except ImportError:  # folded into common.meta
        pass
    return tuple(errors)


#: Errors that mean the request itself cannot run (see "Bad input, one path" above).
BAD_INPUT = _bad_input_errors()


# --------------------------------------------------------------------------------------
# Cells.


@dataclass
class Cell:
    paper: str
    table: str
    profile: str
    config: Any
    values: dict[str, Any]
    setting: str
    run_id: str = ""
    runs_root: str = ""

    def __post_init__(self) -> None:
        if not self.run_id:
            self.run_id = R.make_run_id(self.paper, self.table, self.profile, C.result_dict(self.config))

    @property
    def dir(self) -> Path:
        return R.run_dir(self.paper, self.table, self.run_id, Path(self.runs_root) if self.runs_root else None)

    def label(self) -> str:
        parts = [f"{k}={v}" for k, v in self.values.items()]
        return f"{self.paper}/{self.table} " + " ".join(parts)


def parse_seeds(text: str | Sequence[int] | None) -> list[int] | None:
    """'0,1,2' or '0-4' (inclusive) or a list -> list of ints; None/'' -> None."""
    if text is None or text == "":
        return None
    if not isinstance(text, str):
        text = ",".join(str(int(s)) for s in text)
    seeds: list[int] = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        try:
            if "-" in part[1:]:
                lo, hi = part.split("-", 1)
                seeds.extend(range(int(lo), int(hi) + 1))
            else:
                seeds.append(int(part))
        except ValueError:
            raise SweepError(f"SEEDS: cannot read {part!r}; use e.g. 0,1,2 or 0-4") from None
    if not seeds:
        raise SweepError(f"SEEDS: no seeds in {text!r}")
    if min(seeds) < 0:
        raise SweepError(f"SEEDS: seeds are integers >= 0, got {min(seeds)} in {text!r}")
    return list(dict.fromkeys(seeds))


def load_table(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise SweepError(f"no table file {path}")
    with open(path, encoding="utf-8") as fh:
        spec = yaml.safe_load(fh) or {}
    if not isinstance(spec, dict):
        raise SweepError(f"{path}: a table file is a mapping")
    unknown = set(spec) - TABLE_KEYS
    if unknown:
        raise SweepError(f"{path}: unknown table keys {sorted(unknown)}; valid: {sorted(TABLE_KEYS)}")
    profiles = spec.get("profiles") or {}
    for name in ("quick", "full"):
        if name not in profiles:
            raise SweepError(f"{path}: profiles.{name} is required")
    for name, prof in profiles.items():
        if name not in C.PROFILES:
            raise SweepError(f"{path}: unknown profile {name!r}; valid: {', '.join(C.PROFILES)}")
        bad = set(prof or {}) - PROFILE_KEYS
        if bad:
            raise SweepError(f"{path}: profiles.{name} has unknown keys {sorted(bad)}; valid: {sorted(PROFILE_KEYS)}")
        if "skip" in (prof or {}):
            # A table that cannot run at a useful scale in the quick profile says so, with the reason:
            # `profiles: {quick: {skip: "..."}}`. Only quick may be skipped; smoke (the tests) and full run.
            if name != "quick" or not isinstance(prof["skip"], str) or not prof["skip"].strip():
                raise SweepError(f"{path}: profiles.{name}.skip: only the quick profile may be skipped, "
                                 "with the reason as text")
            if set(prof) != {"skip"}:
                raise SweepError(f"{path}: profiles.quick.skip: a skipped profile has no other keys")
            if "smoke" not in profiles:
                raise SweepError(f"{path}: profiles.quick.skip needs a smoke profile (the tests run it)")
    return spec


def skip_reason(paper: Paper, table: str, profile: str) -> str:
    """Why ``table`` does not run in ``profile`` ('' when it runs)."""
    prof = load_table(paper.tables_dir / f"{table}.yaml")["profiles"].get(profile) or {}
    return str(prof.get("skip", ""))


def _matches(when: Mapping[str, Any], values: Mapping[str, Any]) -> bool:
    return all(values.get(k) == v for k, v in when.items())


def expand_table(paper: Paper, table: str, profile: str, seeds: Sequence[int] | None = None,
                 cli: Mapping[str, Any] | None = None, runs_root: Path | None = None) -> list[Cell]:
    """All cells of one table for one profile, each with its fully resolved config."""
    if profile not in C.PROFILES:
        raise C.ConfigError(f"unknown profile {profile!r}; valid profiles: {', '.join(C.PROFILES)}")
    path = paper.tables_dir / f"{table}.yaml"
    spec = load_table(path)
    if (spec["profiles"].get(profile) or {}).get("skip"):
        return []  # the table does not run in this profile (skip_reason says why)
    prof = dict(spec["profiles"].get(profile) or ({} if profile != "smoke" else spec["profiles"]["quick"]) or {})
    if profile == "smoke" and "smoke" not in spec["profiles"]:
        prof = dict(prof)
        prof["seeds"] = list(prof.get("seeds") or [0])[:1]
    settings = {**(spec.get("settings") or {}), **(prof.get("settings") or {})}
    grid = {**(spec.get("grid") or {}), **(prof.get("grid") or {})}
    for key, axis in grid.items():
        if not isinstance(axis, list) or not axis:
            raise SweepError(f"{path}: grid.{key} must be a non-empty list")
    cells_list = list(prof.get("cells") or spec.get("cells") or [{}])
    overrides = list(spec.get("overrides") or []) + list(prof.get("overrides") or [])
    seed_list = list(seeds) if seeds else list(prof.get("seeds") or [0])
    setting_keys = spec.get("setting_keys")

    base = C.resolve(paper.config_cls, paper.config_module, profile)
    try:
        base = C.apply_overrides(base, settings, f"table settings of {path.name}")
    except C.ConfigError as exc:
        raise C.ConfigError(f"{path}: {exc}") from None

    out: list[Cell] = []
    keys = list(grid)
    for combo in itertools.product(*(grid[k] for k in keys)):
        for extra in cells_list:
            values = {**dict(zip(keys, combo)), **(extra or {})}
            cell_over = dict(values)
            for ov in overrides:
                if _matches(ov.get("when") or {}, values):
                    cell_over.update(ov.get("set") or {})
            label_keys = setting_keys if setting_keys is not None else [k for k in values if k not in LABEL_EXCLUDE]
            setting = ";".join(f"{k}={values[k]}" for k in label_keys if k in values) or "default"
            for seed in seed_list:
                try:
                    cfg = C.apply_overrides(base, {**cell_over, "seed": seed}, f"cell {values} of {path.name}")
                    cfg = C.apply_overrides(cfg, cli, "command line", from_text=True)
                except C.ConfigError as exc:
                    raise C.ConfigError(f"{path}: {exc}") from None
                out.append(Cell(paper.slug, table, profile, cfg, {**values, "seed": seed}, setting,
                                runs_root=str(runs_root) if runs_root else ""))
    # Cells whose resolved configs coincide (e.g. --set method=x over a method axis) are one run.
    seen: set[str] = set()
    return [c for c in out if not (c.run_id in seen or seen.add(c.run_id))]


# --------------------------------------------------------------------------------------
# Executing one cell.


def where_it_ran() -> tuple[str, str]:
    """(host, Slurm job id) of this process; the job id is ``<array>_<task>`` in a job array, '' outside Slurm."""
    env = os.environ
    if env.get("SLURM_ARRAY_JOB_ID"):
        job = f"{env['SLURM_ARRAY_JOB_ID']}_{env.get('SLURM_ARRAY_TASK_ID', '')}"
    else:
        job = env.get("SLURM_JOB_ID", "")
    return env.get("SLURMD_NODENAME") or socket.gethostname(), job


def _call_run(run_fn: Callable[..., Any], cfg: Any, workdir: Path) -> Any:
    params = inspect.signature(run_fn).parameters
    if "workdir" in params:
        return run_fn(cfg, workdir=workdir)
    return run_fn(cfg)


def execute_cell(cell: Cell, threads: int = 0) -> str:
    """Run one cell into its folder unless it is done; returns 'done', 'skipped' or raises."""
    folder = cell.dir
    if R.is_done(folder):
        return "skipped"
    paper = load_paper(cell.paper)
    created = not folder.exists()
    folder.mkdir(parents=True, exist_ok=True)
    for stale in ("metrics.csv", "failed"):
        (folder / stale).unlink(missing_ok=True)
    meta = {"paper": cell.paper, "table": cell.table, "profile": cell.profile, "run_id": cell.run_id,
            "cell": cell.values, "setting": cell.setting, "git_sha": code_sha(cell.paper)}
    R.write_json_atomic(folder / "config.json", {"meta": meta, "config": C.to_dict(cell.config)})
    cfg = cell.config
    if threads and getattr(cfg, "threads", 0) == 0 and hasattr(cfg, "threads"):
        cfg = dataclasses.replace(cfg, threads=threads)

    logger = logging.getLogger(f"repro.{cell.paper}")
    handler = logging.FileHandler(folder / "log.txt", mode="w", encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.info("start %s run_id=%s", cell.label(), cell.run_id)
    remove_folder = False
    t0 = time.time()
    try:
        raw = _call_run(paper.run_fn, cfg, folder)
        wall = time.time() - t0
        import torch

        from common.runtime import device_name

        defaults = {"dataset": getattr(cfg, "dataset", cell.values.get("dataset", "-")),
                    "method": getattr(cfg, "method", cell.values.get("method", "-")),
                    "setting": cell.setting, "seed": getattr(cfg, "seed", cell.values.get("seed", 0))}
        dev = getattr(cfg, "device", "auto")
        if dev == "auto":
            dev = "cuda" if torch.cuda.is_available() else "cpu"
        host, job_id = where_it_ran()
        prov = {"paper": cell.paper, "table": cell.table, "profile": cell.profile, "host": host, "job_id": job_id,
                "run_id": cell.run_id, "git_sha": code_sha(cell.paper), "torch": torch.__version__,
                "device": device_name(dev), "wall_s": round(wall, 3), "finished_at": R.now_iso()}
        rows = R.normalise_rows(raw, defaults, prov)
        R.write_csv_atomic(folder / "metrics.csv", rows, R.RUN_COLUMNS)
        R.write_text_atomic(folder / "done", prov["finished_at"] + "\n")
        logger.info("done in %.2fs, %d rows", wall, len(rows))
        return "done"
    except BaseException as exc:
        logger.error("failed:\n%s", traceback.format_exc())
        # Bad input (missing data, impossible setting) in a fresh folder: nothing was computed, so
        # nothing is left behind in runs/. Any other failure keeps its log and a `failed` marker.
        remove_folder = isinstance(exc, BAD_INPUT) and created
        if not remove_folder:
            R.write_text_atomic(folder / "failed", traceback.format_exc())
        raise
    finally:
        logger.removeHandler(handler)
        handler.close()
        if remove_folder:
            shutil.rmtree(folder, ignore_errors=True)
            for parent in (folder.parent, folder.parent.parent):  # no empty runs/<slug>/<table>/ left
                try:
                    parent.rmdir()
                except OSError:  # another cell's folder is in it
                    break


def cell_worker(cell: Cell, threads: int = 0) -> Outcome:
    """Run one cell (in this process or a worker/Slurm job) and say how it ended; never raises for
    an ordinary exception, so that every executor sees the same outcomes."""
    if threads:
        os.environ["REPRO_THREADS"] = str(threads)
    try:
        return Outcome(execute_cell(cell, threads))
    except BAD_INPUT as exc:
        try:
            pickle.dumps(exc)
            err: BaseException = exc
        except Exception:  # an error class that cannot cross processes: keep its message
            err = SweepError(str(exc))
        return Outcome("bad_input", f"{type(exc).__name__}: {exc}", err)
    except Exception as exc:
        return Outcome("failed", f"{type(exc).__name__}: {exc}")


# --------------------------------------------------------------------------------------
# Stale cells: finished by an older commit of the code a paper imports.


def code_sha(slug: str) -> str:
    """The commit of the code a paper's runs import (``git log -1 -- common papers/<slug>``, READMEs and
    figures excluded: :data:`common.results.NOT_CODE`)."""
    return R.git_sha(R.code_paths(slug))


def cell_sha(folder: Path) -> str:
    """The code commit recorded by a finished cell ('' when unknown)."""
    try:
        return str(json.loads((folder / "config.json").read_text(encoding="utf-8"))["meta"]["git_sha"])
    except (OSError, ValueError, KeyError, TypeError):
        pass
    try:
        rows = R.read_csv(folder / "metrics.csv")
    except OSError:
        return ""
    return rows[0].get("git_sha", "") if rows else ""


def same_commit(a: str, b: str) -> bool:
    """Two recorded shas name the same code (abbreviations of different length allowed)."""
    a0, b0 = a.removesuffix("+dirty"), b.removesuffix("+dirty")
    if not a0 or not b0 or "unknown" in (a0, b0) or a.endswith("+dirty") != b.endswith("+dirty"):
        return False
    return min(len(a0), len(b0)) >= 7 and (a0.startswith(b0) or b0.startswith(a0))


def is_stale(cell: Cell) -> bool:
    """A finished cell whose code commit differs from the current one (never when git is unavailable)."""
    current = code_sha(cell.paper)
    return current != "unknown" and not same_commit(cell_sha(cell.dir), current)


# --------------------------------------------------------------------------------------
# Running the cells of a sweep.


def run_cells(cells: Sequence[Cell], executor: str = "serial", jobs: int = 0, desc: str = "cells",
              slurm: SlurmOptions | None = None, fresh: bool = False) -> SweepReport:
    """Run every unfinished cell with ``executor``; finished ones (``done`` present) are skipped.

    A finished cell made by another commit of ``common/`` + ``papers/<slug>/`` is *stale*: it is
    kept and counted in ``report.stale``, or rerun in place when ``fresh`` (``FRESH=1``)."""
    if executor not in EXECUTORS:
        raise SweepError(f"unknown executor {executor!r}; valid: {', '.join(PUBLIC_EXECUTORS)}")
    report = SweepReport()
    todo = []
    for cell in cells:
        if R.is_done(cell.dir):
            if is_stale(cell):
                if fresh:
                    (cell.dir / "done").unlink(missing_ok=True)
                    todo.append(cell)
                    continue
                report.stale.append(cell.run_id)
            report.skipped.append(cell.run_id)
        else:
            todo.append(cell)
    if not todo:
        return report
    first = todo[0]
    opts = ExecOptions(jobs=jobs, desc=desc, slurm=slurm or SlurmOptions().resolved(first.profile, jobs),
                       folder=str(Path(first.runs_root or R.runs_root()) / "_submitit" / first.paper))
    report.extend(EXECUTORS[executor](todo, cell_worker, opts))
    return report
