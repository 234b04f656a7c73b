"""Executors: how the unfinished cells of a sweep are run.

``EXECUTORS = {name: executor}``; an executor is ``executor(cells, worker, opts) -> SweepReport``:

- ``serial``: one cell after the other in this process (the default);
- ``local``: a pool of ``JOBS`` processes on this machine (``threads = cores // JOBS`` each);
- ``slurm``: one Slurm job array per table through submitit (:class:`SlurmOptions`);
- ``submitit-local`` / ``submitit-debug``: the same submitit path run on this machine (tests).

``worker(cell, threads) -> Outcome`` is :func:`common.sweep.cell_worker`: it runs one cell and
turns its exception into an outcome, so that every executor, local or remote, sees the same three
kinds: ``done``/``skipped``, ``failed`` (the sweep goes on; reported at the end) and ``bad_input``
(missing data, impossible setting: the sweep stops, no further cell is started, and the error is
raised again in the calling process). Everything here is checked by :func:`check` before the
first cell runs.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import re
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from common.registry import SweepError

log = logging.getLogger("repro.sweep")


@dataclass
class SweepReport:
    ran: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    stale: list[str] = field(default_factory=list)
    """Finished cells made by an older commit of the paper's code (kept; ``FRESH=1`` reruns them)."""

    def extend(self, other: "SweepReport") -> None:
        self.ran += other.ran
        self.skipped += other.skipped
        self.failed += other.failed
        self.stale += other.stale


@dataclass
class Outcome:
    """What one cell came to: ``done``, ``skipped``, ``failed`` (message) or ``bad_input`` (error)."""

    status: str
    message: str = ""
    error: BaseException | None = None


Worker = Callable[[Any, int], Outcome]


# --------------------------------------------------------------------------------------
# Slurm options.

_SLURM_FIELDS = ("partition", "gpus", "cpus", "mem", "time", "array_parallelism", "account")


def parse_minutes(text: str | int) -> int:
    """Slurm time syntax -> minutes: '90', '1:30:00', '2-00:00:00', '45:00' (mm:ss)."""
    s = str(text).strip()
    m = re.fullmatch(r"(?:(\d+)-)?(\d+)(?::(\d+))?(?::(\d+))?", s)
    if not m:
        raise SweepError(f"SLURM_TIME: cannot read {s!r}; use minutes (90), HH:MM:SS or D-HH:MM:SS")
    days, a, b, c = m.groups()
    if days is None and b is None:
        minutes = int(a)
    elif c is not None:  # [D-]HH:MM:SS
        minutes = int(a) * 60 + int(b) + (int(c) > 0)
    elif days is not None:  # D-HH:MM
        minutes = int(a) * 60 + int(b)
    else:  # MM:SS
        minutes = int(a) + (int(b) > 0)
    minutes += int(days or 0) * 24 * 60
    if minutes < 1:
        raise SweepError(f"SLURM_TIME: {s!r} is under one minute")
    return minutes


@dataclass
class SlurmOptions:
    """What each cell asks of the cluster. ``SLURM_*`` variables, overridden by ``--slurm-*`` flags."""

    partition: str = ""
    gpus: int | None = None
    """GPUs per cell; default 1 for ``PROFILE=full``, 0 otherwise."""
    cpus: int | None = None
    """CPUs per cell (also the cell's torch threads); default 4 for ``full``, 1 otherwise."""
    mem: str = ""
    """Memory per cell in Slurm syntax (8G, 16000M); empty = the partition's default."""
    time: str = "240"
    """Time limit per cell: minutes or [D-]HH:MM:SS."""
    array_parallelism: int | None = None
    """At most this many cells of the array run at once (default: ``JOBS``, else 64)."""
    account: str = ""

    @classmethod
    def from_env(cls, overrides: Mapping[str, Any] | None = None,
                 environ: Mapping[str, str] | None = None) -> "SlurmOptions":
        env = os.environ if environ is None else environ
        raw: dict[str, Any] = {}
        for name in _SLURM_FIELDS:
            value = env.get(f"SLURM_{name.upper()}", "")
            if value != "":
                raw[name] = value
        for name, value in (overrides or {}).items():
            if name not in _SLURM_FIELDS:
                raise SweepError(f"unknown Slurm option {name!r}; valid: {', '.join(_SLURM_FIELDS)}")
            if value is not None and value != "":
                raw[name] = value
        opts = cls()
        for name, value in raw.items():
            if name in ("gpus", "cpus", "array_parallelism"):
                value = _nonneg_int(value, f"SLURM_{name.upper()}", minimum=0 if name == "gpus" else 1)
            elif name == "mem":
                value = str(value).strip()
                if not re.fullmatch(r"\d+[KMGT]?", value, re.I):
                    raise SweepError(f"SLURM_MEM: cannot read {value!r}; use e.g. 8G or 16000M")
            elif name == "time":
                parse_minutes(value)
                value = str(value)
            setattr(opts, name, value)
        return opts

    def resolved(self, profile: str, jobs: int = 0) -> "SlurmOptions":
        """Profile defaults filled in: a GPU and 4 CPUs per cell for ``full``, 1 CPU otherwise."""
        full = profile == "full"
        return SlurmOptions(self.partition, 1 if self.gpus is None and full else (self.gpus or 0),
                            self.cpus or (4 if full else 1), self.mem, self.time,
                            self.array_parallelism or jobs or 64, self.account)

    def submitit_parameters(self, name: str) -> dict[str, Any]:
        params: dict[str, Any] = {"name": name, "timeout_min": parse_minutes(self.time),
                                  "cpus_per_task": int(self.cpus or 1),
                                  "slurm_array_parallelism": int(self.array_parallelism or 64)}
        if self.gpus:
            params["gpus_per_node"] = int(self.gpus)
        if self.partition:
            params["slurm_partition"] = self.partition
        if self.account:
            params["slurm_account"] = self.account
        if self.mem:
            params["slurm_mem"] = self.mem
        return params


def _nonneg_int(value: Any, name: str, minimum: int = 0) -> int:
    try:
        n = int(str(value).strip())
    except ValueError:
        raise SweepError(f"{name}: expected an integer >= {minimum}, got {value!r}") from None
    if n < minimum:
        raise SweepError(f"{name}: expected an integer >= {minimum}, got {n}")
    return n


@dataclass
class ExecOptions:
    jobs: int = 0
    """``local``: worker processes (0 = one per core); ``slurm``: array parallelism unless set."""
    desc: str = "cells"
    slurm: SlurmOptions = field(default_factory=SlurmOptions)
    """Already :meth:`SlurmOptions.resolved` for the profile."""
    folder: str = ""
    """``slurm``/``submitit-*``: where submitit keeps its pickles and the Slurm stdout/stderr."""


# --------------------------------------------------------------------------------------
# Up-front checks.


def slurm_available() -> bool:
    return all(shutil.which(tool) is not None for tool in ("sbatch", "squeue", "srun"))


def check(executor: str, jobs: int, profile: str, slurm: SlurmOptions | None = None,
          allow_cpu_full: bool = False) -> None:
    """Everything about the executor that can be wrong, checked before any cell runs."""
    if executor not in EXECUTORS:
        raise SweepError(f"unknown executor {executor!r}; valid: {', '.join(PUBLIC_EXECUTORS)}")
    if jobs < 0:
        raise SweepError(f"JOBS: expected an integer >= 0, got {jobs}")
    if executor == "slurm":
        if not slurm_available():
            raise SweepError("EXECUTOR=slurm: no Slurm on this machine (sbatch/squeue/srun not on PATH). Run it "
                             "on a cluster's login node, or use EXECUTOR=serial or EXECUTOR=local here.")
        opts = (slurm or SlurmOptions()).resolved(profile, jobs)
        if profile == "full" and not opts.gpus and not allow_cpu_full:
            raise SweepError("EXECUTOR=slurm PROFILE=full asks for a GPU per cell; SLURM_GPUS=0 "
                             "(--slurm-gpus 0) would run the paper's GPU setting on CPU. Set SLURM_GPUS>=1, "
                             "or ALLOW_CPU_FULL=1 to submit it without GPUs anyway.")


# --------------------------------------------------------------------------------------
# The executors.


def _progress(total: int, desc: str):
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="cell", dynamic_ncols=True,
                disable=os.environ.get("REPRO_PROGRESS", "1") == "0")


def _record(report: SweepReport, cell: Any, out: Outcome) -> None:
    if out.status in ("done", "skipped"):
        (report.ran if out.status == "done" else report.skipped).append(cell.run_id)
    else:
        report.failed.append((cell.label(), out.message))


def run_serial(cells: Sequence[Any], worker: Worker, opts: ExecOptions) -> SweepReport:
    report = SweepReport()
    bar = _progress(len(cells), opts.desc)
    try:
        for cell in cells:
            bar.set_postfix_str(cell.label()[-60:])
            out = worker(cell, 0)
            if out.status == "bad_input":
                raise out.error  # type: ignore[misc]
            _record(report, cell, out)
            bar.update(1)
    finally:
        bar.close()
    return report


def run_local(cells: Sequence[Any], worker: Worker, opts: ExecOptions) -> SweepReport:
    """A process pool; the first bad-input outcome cancels the cells not yet started."""
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor, as_completed

    ncpu = os.cpu_count() or 1
    workers = min(opts.jobs or ncpu, len(cells))
    threads = max(1, ncpu // workers)
    report = SweepReport()
    bad: Outcome | None = None
    bar = _progress(len(cells), opts.desc)
    with ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn")) as pool:
        futs = {pool.submit(worker, cell, threads): cell for cell in cells}
        for fut in as_completed(futs):
            cell = futs[fut]
            try:
                out = fut.result()
            except Exception as exc:  # the worker process died (killed, out of memory)
                out = Outcome("failed", f"{type(exc).__name__}: {exc}")
            if out.status == "bad_input":
                if bad is None:
                    bad = out
                    for other in futs:
                        other.cancel()
            elif not fut.cancelled():
                _record(report, cell, out)
            bar.update(1)
    bar.close()
    if bad is not None:
        raise bad.error  # type: ignore[misc]
    return report


def run_submitit(cells: Sequence[Any], worker: Worker, opts: ExecOptions, cluster: str = "slurm") -> SweepReport:
    """One job array through submitit; Slurm states come from ``squeue`` (no accounting needed)."""
    import submitit

    folder = opts.folder or os.path.join(os.getcwd(), "runs", "_submitit")
    ex = submitit.AutoExecutor(folder=os.path.join(folder, "%j"), cluster=cluster)
    name = f"repro-{cells[0].paper}-{cells[0].table}"
    if cluster == "slurm":
        ex.update_parameters(**opts.slurm.submitit_parameters(name))
        threads = int(opts.slurm.cpus or 1)
    else:
        ex.update_parameters(name=name, timeout_min=parse_minutes(opts.slurm.time))
        threads = 0
    echo = io.StringIO()  # submitit echoes sbatch's output; its error goes into our one-line message
    before = set(Path(folder).rglob("*")) if Path(folder).is_dir() else set()
    chunk = max_array_size() if cluster == "slurm" else len(cells)
    jobs: list[Any] = []
    try:
        with contextlib.redirect_stdout(echo), contextlib.redirect_stderr(echo):
            for i in range(0, len(cells), chunk):  # arrays of at most MaxArraySize tasks
                part = list(cells[i:i + chunk])
                jobs += ex.map_array(worker, part, [threads] * len(part))
    except Exception as exc:  # sbatch refused the request (partition, GRES, account, limits ...)
        _cancel(jobs, cluster)
        _remove_new(Path(folder), before)
        msg = " ".join(str(exc).split())
        raise SweepError(f"Slurm refused the job array ({type(exc).__name__}): {msg[-600:]}") from None
    arrays = sorted({j.job_id.split("_")[0] for j in jobs})
    if cluster == "slurm":
        log.info("submitted %d cells as Slurm job array(s) %s", len(jobs), ",".join(arrays))
    waiter = _SlurmWaiter(jobs) if cluster == "slurm" else None
    report = SweepReport()
    bar = _progress(len(jobs), f"{opts.desc} ({cluster} array {','.join(arrays)})")
    pending = dict(zip((j.job_id for j in jobs), zip(cells, jobs)))
    bad: Outcome | None = None
    try:
        while pending:
            finished = waiter.poll(pending) if waiter else {jid: "" for jid, (_, j) in pending.items() if j.done()}
            for jid, death in finished.items():
                cell, job = pending.pop(jid)
                out = _job_outcome(job, death, cluster)
                if out.status == "bad_input" and bad is None:
                    bad = out
                    _cancel([job for _, job in pending.values()], cluster)
                elif out.status != "bad_input":
                    _record(report, cell, out)
                bar.update(1)
            if pending:
                time.sleep(waiter.interval() if waiter else 0.5)
    except BaseException:  # Ctrl-C or an error here: do not leave the array running
        _cancel([job for _, job in pending.values()], cluster)
        raise
    finally:
        bar.close()
    if bad is not None:
        raise bad.error  # type: ignore[misc]
    return report


def max_array_size() -> int:
    """Tasks per job array: ``SLURM_MAX_ARRAY_SIZE``, else the cluster's ``MaxArraySize`` (Slurm's default
    is 1001), else 1000."""
    if os.environ.get("SLURM_MAX_ARRAY_SIZE"):
        return _nonneg_int(os.environ["SLURM_MAX_ARRAY_SIZE"], "SLURM_MAX_ARRAY_SIZE", minimum=1)
    try:
        out = subprocess.run(["scontrol", "show", "config"], capture_output=True, text=True, timeout=30).stdout
        m = re.search(r"^MaxArraySize\s*=\s*(\d+)", out, re.M)
        if m:
            return max(1, int(m.group(1)))
    except (OSError, subprocess.SubprocessError):
        pass
    return 1000


def _cancel(jobs: Sequence[Any], cluster: str) -> None:
    """Cancel unfinished tasks: one ``scancel`` for all of them on Slurm."""
    if not jobs:
        return
    if cluster == "slurm":
        subprocess.run(["scancel", *[j.job_id for j in jobs]], capture_output=True, timeout=60)
        return
    for job in jobs:
        job.cancel(check=False)


def _remove_new(folder: Path, before: set[Path]) -> None:
    """Undo a refused submission: the pickles and scripts it wrote, and folders left empty."""
    if not folder.is_dir():
        return
    for path in sorted(set(folder.rglob("*")) - before, key=lambda p: len(p.parts), reverse=True):
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
    for path in (folder, folder.parent):
        try:
            path.rmdir()
        except OSError:
            break


def _job_outcome(job: Any, death: str, cluster: str) -> Outcome:
    where = ""
    if cluster == "slurm":
        where = (f" [Slurm job {job.job_id}; stdout: {job.paths.stdout}; stderr: {job.paths.stderr}]")
    if death:
        return Outcome("failed", f"Slurm job {death} before the cell finished{where}")
    try:
        out = job.result()
    except Exception as exc:  # the job itself failed outside the cell (import error, signal ...)
        last = [ln for ln in str(exc).strip().splitlines() if ln.strip()]
        return Outcome("failed", f"{type(exc).__name__}: {last[-1] if last else ''}{where}")
    if out.status == "failed":
        out.message += where
    return out


class _SlurmWaiter:
    """Which array tasks ended: a result pickle, or a terminal state in ``squeue -t all``.

    ``sacct`` needs Slurm accounting, which many small clusters (and the test cluster) lack; squeue
    shows finished jobs for ``MinJobAge`` seconds, and a task that vanished without a result is
    declared dead after a grace period (shared filesystems may show the pickle late).
    """

    DEAD = {"CANCELLED", "FAILED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY", "PREEMPTED", "BOOT_FAIL",
            "DEADLINE", "REVOKED"}

    def __init__(self, jobs: Sequence[Any], grace_s: float | None = None) -> None:
        self.array_id = ",".join(sorted({j.job_id.split("_")[0] for j in jobs}))
        self.grace_s = float(os.environ.get("SLURM_RESULT_GRACE_S", 20) if grace_s is None else grace_s)
        self.t0 = time.time()
        self.missing_since: dict[str, float] = {}
        self.squeue_failing_since: float | None = None

    def interval(self) -> float:
        return min(10.0, 0.5 + (time.time() - self.t0) / 30)

    def _states(self) -> dict[str, str] | None:
        try:
            out = subprocess.run(["squeue", "-h", "-r", "-t", "all", "-j", self.array_id, "-o", "%i %T"],
                                 capture_output=True, text=True, timeout=30)
        except (OSError, subprocess.SubprocessError):
            out = None
        if out is None or out.returncode != 0:
            if "Invalid job id" in (out.stderr if out else ""):
                return {}  # the whole array has left the controller's memory
            now = time.time()
            self.squeue_failing_since = self.squeue_failing_since or now
            if now - self.squeue_failing_since > 300:
                raise SweepError(f"squeue has not answered for 5 minutes; job array {self.array_id} is left "
                                 f"as it is (rerun the same make command later to collect it)")
            return None
        self.squeue_failing_since = None
        states = {}
        for line in out.stdout.splitlines():
            parts = line.split()
            if len(parts) == 2:
                states[parts[0]] = parts[1]
        return states

    def poll(self, pending: Mapping[str, tuple[Any, Any]]) -> dict[str, str]:
        """job id -> '' (has a result) or the Slurm state it died in."""
        finished = {jid: "" for jid, (_, job) in pending.items() if job.paths.result_pickle.exists()}
        rest = [jid for jid in pending if jid not in finished]
        if not rest:
            return finished
        states = self._states()
        if states is None:
            return finished
        now = time.time()
        for jid in rest:
            state = states.get(jid, "")
            if state in self.DEAD:
                finished[jid] = state
            elif state in ("", "COMPLETED"):
                since = self.missing_since.setdefault(jid, now)
                if pending[jid][1].paths.result_pickle.exists():
                    finished[jid] = ""
                elif now - since > self.grace_s:
                    finished[jid] = state or "ended (no longer in squeue)"
        return finished


def run_slurm(cells: Sequence[Any], worker: Worker, opts: ExecOptions) -> SweepReport:
    return run_submitit(cells, worker, opts, "slurm")


def run_submitit_local(cells: Sequence[Any], worker: Worker, opts: ExecOptions) -> SweepReport:
    return run_submitit(cells, worker, opts, "local")


def run_submitit_debug(cells: Sequence[Any], worker: Worker, opts: ExecOptions) -> SweepReport:
    return run_submitit(cells, worker, opts, "debug")


EXECUTORS: dict[str, Callable[[Sequence[Any], Worker, ExecOptions], SweepReport]] = {
    "serial": run_serial,
    "local": run_local,
    "slurm": run_slurm,
    "submitit-local": run_submitit_local,
    "submitit-debug": run_submitit_debug,
}
#: The executors a user picks with ``EXECUTOR=`` (the submitit ones are for tests).
PUBLIC_EXECUTORS = ("serial", "local", "slurm")
