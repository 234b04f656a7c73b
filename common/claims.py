"""The paper's claims as noise-aware checks over aggregated results.

A paper's ``claims.py`` defines ``CLAIMS``, a list of :class:`Claim`. Each check receives a
:class:`Results` view of ``results/<slug>/<profile>/`` and returns a :class:`Verdict`:

- **held**: the 95 % interval of the effect lies entirely beyond the claim's margin, on the
  claimed side;
- **not held**: the interval lies entirely on the other side of the margin;
- **inconclusive**: the interval straddles the margin (the interval is shown);
- **not measured**: a needed cell is missing or failed, or a precondition of the claim failed
  (e.g. a judge classifier at chance), with the reason.

The interval is that of the seed-paired difference (Student t over seeds) for one cell, or a
bootstrap over cells and seeds when an effect is averaged over several cells. Use the helpers
rather than hand-written loops::

    CLAIMS = [
        Claim("C1", "Ours beats every baseline on every dataset", "Table 2",
              lambda res: beats_best(res, "t2_auc", "ours", ["gcn", "ocsvm"], "test_auc_pct",
                                     per=["dataset"], margin=0.5)),
        Claim("C2", "Accuracy grows with width", "Fig. 3",
              lambda res: trend(res, "f3_width", "test_acc_pct", x="width", method="ours")),
        Claim("S1", "Fast and original solvers give the same objective", "Sec. 4",
              lambda res: compare(res.value("t1", method="gap", metric="max_abs"), "<=", 0.0,
                                   "gap", "0"), kind="sanity"),
    ]

``kind="sanity"`` marks a protocol check (an identity, a precondition): it is reported apart
and never counted in "claims held". :func:`compare` is a point comparison for deterministic
quantities only (identities, counts); anything with seed noise goes through an interval.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from common import results as R

HELD, NOT_HELD, INCONCLUSIVE, NOT_MEASURED = "held", "not held", "inconclusive", "not measured"
STATUSES = (HELD, NOT_HELD, INCONCLUSIVE, NOT_MEASURED)
KINDS = ("claim", "sanity")
LEVEL = 0.95
N_BOOT = 4000
# claims.csv: one row per claim; the verdict (held / not held / inconclusive / not measured) is the ``verdict``
# column. In memory (``evaluate``) the same value is under ``status``, as ``Verdict.status``.
CLAIM_COLUMNS = ["id", "kind", "claim", "source", "verdict", "effect", "ci_low", "ci_high", "margin",
                 "evidence"]


def to_csv_row(v: Mapping) -> dict:
    """One ``evaluate`` row as a claims.csv row (``status`` -> ``verdict``)."""
    return {("verdict" if k == "status" else k): x for k, x in v.items()}


def from_csv_row(r: Mapping) -> dict:
    """One claims.csv row as an ``evaluate`` row (``verdict`` -> ``status``; ``kind`` defaults to claim)."""
    out = {("status" if k == "verdict" else k): x for k, x in r.items()}
    out.setdefault("kind", "claim")
    return out


class NotMeasured(LookupError):
    """The results needed by a claim are not there (or a precondition failed)."""


@dataclass(frozen=True)
class Verdict:
    status: str
    evidence: str
    effect: float = float("nan")
    ci: tuple[float, float] = (float("nan"), float("nan"))
    margin: float = float("nan")


def held(evidence: str, **kw) -> Verdict:
    return Verdict(HELD, evidence, **kw)


def not_held(evidence: str, **kw) -> Verdict:
    return Verdict(NOT_HELD, evidence, **kw)


def inconclusive(evidence: str, **kw) -> Verdict:
    return Verdict(INCONCLUSIVE, evidence, **kw)


def not_measured(reason: str) -> Verdict:
    return Verdict(NOT_MEASURED, reason)


@dataclass(frozen=True)
class Claim:
    id: str
    text: str
    source: str
    check: Callable[["Results"], Verdict]
    kind: str = "claim"

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"claim {self.id}: kind must be one of {KINDS}, got {self.kind!r}")


# --------------------------------------------------------------------------------------
# Reading results.


class Results:
    """Read access to the aggregated tables of one paper and profile.

    A table with cells that failed or never finished (``<table>_missing.csv``, written by the
    aggregation) raises :class:`NotMeasured` on every read: a claim never rests on the cells
    that happened to survive.
    """

    def __init__(self, folder: Path, paper: str = "", profile: str = "") -> None:
        self.folder = Path(folder)
        self.paper, self.profile = paper, profile
        self._cache: dict[str, pd.DataFrame] = {}

    def tables(self) -> list[str]:
        return sorted(p.stem for p in self.folder.glob("*.csv") if R.is_cell_table(p))

    def _check_complete(self, table: str) -> None:
        missing = self.folder / f"{table}_missing.csv"
        if missing.is_file():
            labels = [r.get("cell", "") for r in R.read_csv(missing)]
            raise NotMeasured(f"{len(labels)} cell(s) of {table!r} failed or did not run "
                              f"(e.g. {labels[0] if labels else '?'})")

    def cells(self, table: str) -> pd.DataFrame:
        if table not in self._cache:
            path = self.folder / f"{table}.csv"
            if not path.is_file():
                raise NotMeasured(f"no results for table {table!r} ({path.name} missing)")
            self._check_complete(table)
            self._cache[table] = pd.read_csv(path, keep_default_na=False,
                                             dtype={"setting": str, "dataset": str, "method": str})
        return self._cache[table]

    def runs(self, table: str, **filters) -> pd.DataFrame:
        key = f"{table}_runs"
        if key not in self._cache:
            path = self.folder / f"{table}_runs.csv"
            if not path.is_file():
                raise NotMeasured(f"no per-run results for table {table!r}")
            self._check_complete(table)
            df = pd.read_csv(path, keep_default_na=False, dtype={"setting": str, "dataset": str, "method": str})
            df["value"] = pd.to_numeric(df["value"], errors="coerce")
            self._cache[key] = df
        return _filter(self._cache[key], table, filters)

    def select(self, table: str, **filters) -> pd.DataFrame:
        return _filter(self.cells(table), table, filters)

    def mean(self, table: str, **filters) -> float:
        """Mean over seeds of one cell, or the average over the matching cells."""
        return float(pd.to_numeric(self.select(table, **filters)["mean"]).mean())

    def value(self, table: str, **filters) -> float:
        """Mean of exactly one cell; more than one match is an error in the claim."""
        df = self.select(table, **filters)
        if len(df) != 1:
            raise ValueError(f"{len(df)} cells match {filters} in {table!r}; add filters")
        return float(df["mean"].iloc[0])

    def seeds(self, table: str, **filters) -> pd.Series:
        """Per-seed values of exactly one cell, indexed by seed (the unit of pairing)."""
        df = self.runs(table, **filters)
        keys = df[["dataset", "method", "setting", "metric"]].drop_duplicates()
        if len(keys) != 1:
            raise ValueError(f"{len(keys)} cells match {filters} in {table!r}; add filters")
        return df.set_index(df["seed"].astype(int))["value"].sort_index()


def _filter(df: pd.DataFrame, table: str, filters: Mapping) -> pd.DataFrame:
    for key, want in filters.items():
        if key not in df.columns:
            raise NotMeasured(f"table {table!r} has no column {key!r}")
        if isinstance(want, (list, tuple, set)):
            df = df[df[key].astype(str).isin([str(w) for w in want])]
        else:
            df = df[df[key].astype(str) == str(want)]
    if df.empty:
        raise NotMeasured(f"no rows in {table!r} with {dict(filters)}")
    return df


# --------------------------------------------------------------------------------------
# Intervals.


def fmt(x: float) -> str:
    return "nan" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.4g}"


def t_interval(values: Sequence[float], level: float = LEVEL) -> tuple[float, float, float]:
    """(mean, low, high): Student t interval of the mean; one value gives an infinite interval."""
    from scipy import stats

    x = np.asarray([v for v in values if np.isfinite(v)], dtype=float)
    if x.size == 0:
        return float("nan"), float("nan"), float("nan")
    m = float(x.mean())
    if x.size == 1:
        return m, -math.inf, math.inf
    sd = float(x.std(ddof=1))
    half = float(stats.t.ppf(0.5 + level / 2, x.size - 1)) * sd / math.sqrt(x.size)
    return m, m - half, m + half


def bootstrap_interval(groups: Sequence[Sequence[float]], level: float = LEVEL, n_boot: int = N_BOOT,
                       seed: int = 0) -> tuple[float, float, float]:
    """(mean, low, high) of the mean over groups of each group's mean, by a two-level bootstrap:
    resample groups (cells), then seeds within each; percentile interval, fixed rng."""
    gs = [np.asarray([v for v in g if np.isfinite(v)], dtype=float) for g in groups]
    gs = [g for g in gs if g.size]
    if not gs:
        return float("nan"), float("nan"), float("nan")
    est = float(np.mean([g.mean() for g in gs]))
    if len(gs) == 1:
        return t_interval(gs[0], level)
    rng = np.random.default_rng(seed)
    stats_ = np.empty(n_boot)
    for b in range(n_boot):
        pick = rng.integers(0, len(gs), len(gs))
        stats_[b] = np.mean([gs[i][rng.integers(0, gs[i].size, gs[i].size)].mean() for i in pick])
    lo, hi = np.quantile(stats_, [(1 - level) / 2, (1 + level) / 2])
    return est, float(lo), float(hi)


def decide(effect: float, lo: float, hi: float, margin: float, what: str, higher: bool = True) -> Verdict:
    """Held when [lo, hi] lies beyond ``margin`` on the claimed side, not held when entirely on the
    other side, else inconclusive. ``higher=False`` claims the effect is below ``-margin``."""
    if any(math.isnan(v) for v in (effect, lo, hi)):
        return not_measured(f"{what}: no finite values")
    text = f"{what} = {fmt(effect)} [{fmt(lo)}, {fmt(hi)}] (95% CI; margin {fmt(margin)})"
    kw = dict(effect=effect, ci=(lo, hi), margin=margin)
    if higher:
        status = HELD if lo > margin else NOT_HELD if hi < margin else INCONCLUSIVE
    else:
        status = HELD if hi < -margin else NOT_HELD if lo > -margin else INCONCLUSIVE
    return Verdict(status, text, **kw)


def paired_differences(a: pd.Series, b: pd.Series) -> np.ndarray:
    """Seed-paired a - b (both indexed by seed); unpaired seeds are an error in the claim."""
    common = a.index.intersection(b.index)
    if len(common) == 0:
        raise NotMeasured("no common seeds to pair")
    return (a.loc[common] - b.loc[common]).to_numpy(dtype=float)


# --------------------------------------------------------------------------------------
# Claim shapes.


def paired(res: Results, table: str, a: Mapping, b: Mapping, metric: str, margin: float = 0.0,
           higher: bool = True, a_name: str = "", b_name: str = "", **common) -> Verdict:
    """A beats B (``higher``: A - B > margin; else A - B < -margin), seed-paired. ``a`` and ``b`` are
    the filters that differ (e.g. ``{"method": "ours"}``), ``common`` those they share. Cells are
    matched on dataset and setting where neither side fixes them; over several matched cells the
    effect is the mean paired difference with a bootstrap interval over cells and seeds."""
    ra = res.runs(table, metric=metric, **common, **a)
    free = [c for c in ("dataset", "setting") if c not in a and c not in b and c not in common]
    groups = []
    for key, sub in (ra.groupby(free) if free else [((), ra)]):
        sel = dict(zip(free, key if isinstance(key, tuple) else (key,)))
        sb = res.runs(table, metric=metric, **{**common, **sel, **b})
        sa = sub.set_index(sub["seed"].astype(int))["value"].sort_index()
        sb = sb.set_index(sb["seed"].astype(int))["value"].sort_index()
        groups.append(paired_differences(sa, sb))
    est, lo, hi = bootstrap_interval(groups) if len(groups) > 1 else t_interval(groups[0])
    what = f"{a_name or _desc(a)} - {b_name or _desc(b)} ({metric}, {len(groups)} cell(s))"
    return decide(est, lo, hi, margin, what, higher)


def _desc(d: Mapping) -> str:
    return ",".join(f"{v}" for v in d.values()) or "all"


def combine(verdicts: Mapping[str, Verdict]) -> Verdict:
    """Holds on every part: held if all held; not held if any not held; not measured if any part
    is not measured; else inconclusive. The reported interval is the weakest part's."""
    if not verdicts:
        return not_measured("nothing to check")
    parts = list(verdicts.items())
    ev = "; ".join(f"{k}: {v.status}, {v.evidence}" for k, v in parts)
    statuses = [v.status for _, v in parts]
    finite = [v for _, v in parts if not math.isnan(v.ci[0])]
    weakest = min(finite, key=lambda v: v.ci[0] - v.margin, default=None)
    kw = dict(effect=weakest.effect, ci=weakest.ci, margin=weakest.margin) if weakest else {}
    if NOT_HELD in statuses:
        return Verdict(NOT_HELD, ev, **kw)
    if NOT_MEASURED in statuses:
        return Verdict(NOT_MEASURED, ev)
    if all(s == HELD for s in statuses):
        return Verdict(HELD, ev, **kw)
    return Verdict(INCONCLUSIVE, ev, **kw)


def beats_best(res: Results, table: str | Sequence[str], ours: str, others: Iterable[str], metric: str,
               per: Sequence[str] = ("dataset",), margin: float = 0.0, higher: bool = True,
               **filters) -> Verdict:
    """Ours beats the best of ``others`` in every group (``per`` keys, e.g. dataset; several tables
    count as groups too). The best competitor of a group is the one with the best mean there (over the
    group's cells, when it holds several, e.g. settings not named in ``per``); the comparison is
    seed-paired."""
    tables = [table] if isinstance(table, str) else list(table)
    others = list(others)
    parts: dict[str, Verdict] = {}
    for t in tables:
        cells = res.select(t, metric=metric, **filters)
        for key, sub in cells.groupby(list(per)) if per else [((), cells)]:
            key = key if isinstance(key, tuple) else (key,)
            sel = dict(zip(per, key))
            comp = sub[sub["method"].isin(others)]
            if comp.empty or not (sub["method"] == ours).any():
                raise NotMeasured(f"{t} {sel}: need {ours} and at least one of {others}")
            means = pd.to_numeric(comp["mean"]).groupby(comp["method"]).mean()
            best = means.idxmax() if higher else means.idxmin()
            name = f"{t} " + ",".join(f"{v}" for v in key) if len(tables) > 1 else ",".join(f"{v}" for v in key)
            parts[name or t] = paired(res, t, {"method": ours}, {"method": best}, metric, margin, higher,
                                      ours, best, **{**filters, **sel})
    return combine(parts)


def trend(res: Results, table: str, metric: str, x: str, increasing: bool = True, margin: float = 0.0,
          **filters) -> Verdict:
    """A quantity grows (or falls) with ``x``: the least-squares slope of value on x, per seed, with a
    t interval over seeds (seeds are the independent replicates). ``x`` is a cell key stored in the
    setting label (``key=value`` parts) or a column."""
    runs = res.runs(table, metric=metric, **filters)
    xs = runs[x] if x in runs.columns else runs["setting"].map(lambda s: _setting_value(s, x))
    runs = runs.assign(_x=pd.to_numeric(xs, errors="coerce")).dropna(subset=["_x"])
    if runs["_x"].nunique() < 2:
        raise NotMeasured(f"{table}: fewer than two values of {x!r}")
    slopes = []
    for _, sub in runs.groupby("seed"):
        if sub["_x"].nunique() >= 2:
            slopes.append(float(np.polyfit(sub["_x"].to_numpy(float), sub["value"].to_numpy(float), 1)[0]))
    est, lo, hi = t_interval(slopes)
    what = f"slope of {metric} per unit {x} ({len(slopes)} seeds, x in {sorted(runs['_x'].unique().tolist())})"
    return decide(est, lo, hi, margin, what, higher=increasing)


def _setting_value(setting: str, key: str):
    for part in str(setting).split(";"):
        k, _, v = part.partition("=")
        if k == key:
            return v
    return None


def within_paper(res: Results, table: str, tol: float, **filters) -> Verdict:
    """Our cell is within ``tol`` of the paper's number: held when the t interval of our mean lies
    inside [paper - tol, paper + tol], not held when it lies entirely outside, else inconclusive."""
    cell = res.select(table, **filters)
    if len(cell) != 1:
        raise ValueError(f"{len(cell)} cells match {filters} in {table!r}; add filters")
    pv = cell["paper_value"].iloc[0]
    if pv == "":
        raise NotMeasured(f"no paper value for {filters} in {table!r}")
    s = res.seeds(table, **filters)
    m, lo, hi = t_interval(s.to_numpy(float))
    d, dlo, dhi = m - float(pv), lo - float(pv), hi - float(pv)
    what = f"ours - paper ({fmt(m)} vs {fmt(float(pv))})"
    text = f"{what} = {fmt(d)} [{fmt(dlo)}, {fmt(dhi)}] (95% CI; tolerance ±{fmt(tol)})"
    kw = dict(effect=d, ci=(dlo, dhi), margin=tol)
    if -tol <= dlo and dhi <= tol:
        return held(text, **kw)
    if dlo > tol or dhi < -tol:
        return not_held(text, **kw)
    return inconclusive(text, **kw)


def compare(a: float, op: str, b: float, a_name: str, b_name: str, margin: float = 0.0) -> Verdict:
    """Point comparison for deterministic quantities only (no seed noise): held when ``a op b`` by
    ``margin``, else not held."""
    ops = {">": lambda: a > b + margin, ">=": lambda: a >= b + margin,
           "<": lambda: a < b - margin, "<=": lambda: a <= b - margin, "==": lambda: abs(a - b) <= margin}
    if op not in ops:
        raise ValueError(f"unknown comparison {op!r}")
    if any(isinstance(v, float) and math.isnan(v) for v in (a, b)):
        return not_measured(f"{a_name} = {fmt(a)}, {b_name} = {fmt(b)} (nan)")
    text = f"{a_name} = {fmt(a)} {op} {b_name} = {fmt(b)}" + (f" (margin {fmt(margin)})" if margin else "")
    return held(text, effect=a - b) if ops[op]() else not_held(text, effect=a - b)


def requires(ok: bool, reason: str) -> None:
    """A precondition: when it fails the claim is not measured (e.g. a judge classifier at chance)."""
    if not ok:
        raise NotMeasured(f"precondition failed: {reason}")


# --------------------------------------------------------------------------------------
# Evaluation.


def evaluate(claims: list[Claim], results: Results) -> list[dict[str, str]]:
    """Run every check; a missing table or row is 'not measured', never an exception."""
    out = []
    for claim in claims:
        try:
            verdict = claim.check(results)
        except NotMeasured as exc:
            verdict = not_measured(str(exc))
        if not isinstance(verdict, Verdict) or verdict.status not in STATUSES:
            raise TypeError(f"claim {claim.id}: check must return a Verdict, got {verdict!r}")
        out.append({"id": claim.id, "kind": claim.kind, "claim": claim.text, "source": claim.source,
                    "status": verdict.status, "effect": _round(verdict.effect),
                    "ci_low": _round(verdict.ci[0]), "ci_high": _round(verdict.ci[1]),
                    "margin": _round(verdict.margin), "evidence": verdict.evidence})
    return out


def _round(x: float) -> str:
    return "" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.6g}"


def counts(verdicts: Iterable[Mapping], kind: str = "claim") -> dict[str, int]:
    rows = [v for v in verdicts if v.get("kind", "claim") == kind]
    return {s: sum(v["status"] == s for v in rows) for s in STATUSES}


__all__ = ["Claim", "Results", "Verdict", "NotMeasured", "held", "not_held", "inconclusive", "not_measured",
           "t_interval", "bootstrap_interval", "decide", "paired", "paired_differences", "beats_best", "trend",
           "within_paper", "combine", "compare", "requires", "evaluate", "counts", "fmt"]
