"""The paper's claims as checks over aggregated results.

A paper's ``claims.py`` defines ``CLAIMS``, a list of :class:`Claim`. Each check receives a
:class:`Results` view of ``results/<slug>/<profile>/`` and returns :func:`held`,
:func:`not_held` or :func:`not_measured`, always with the numbers compared as evidence::

    def _beats_gcn(res):
        ours = res.mean("table2", method="proposed", metric="test_auc_pct")
        gcn = res.mean("table2", method="gcn", metric="test_auc_pct")
        return compare(ours, ">", gcn, "proposed", "GCN classifier")

    CLAIMS = [Claim("C1", "The proposed method beats the GCN classifier on average",
                    "Sec. 5, Table 3", _beats_gcn)]

A lookup that finds no rows raises :class:`NotMeasured`, which the report turns into
"not measured" with the reason.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pandas as pd

from common import results as R

HELD, NOT_HELD, NOT_MEASURED = "held", "not held", "not measured"


class NotMeasured(LookupError):
    """The results needed by a claim are not there."""


@dataclass(frozen=True)
class Verdict:
    status: str
    evidence: str


def held(evidence: str) -> Verdict:
    return Verdict(HELD, evidence)


def not_held(evidence: str) -> Verdict:
    return Verdict(NOT_HELD, evidence)


def not_measured(reason: str) -> Verdict:
    return Verdict(NOT_MEASURED, reason)


@dataclass(frozen=True)
class Claim:
    id: str
    text: str
    source: str
    check: Callable[["Results"], Verdict]


class Results:
    """Read access to the aggregated cell tables of one paper and profile."""

    def __init__(self, folder: Path, paper: str = "", profile: str = "") -> None:
        self.folder = Path(folder)
        self.paper, self.profile = paper, profile
        self._cache: dict[str, pd.DataFrame] = {}

    def tables(self) -> list[str]:
        return sorted(p.stem for p in self.folder.glob("*.csv") if R.is_cell_table(p))

    def cells(self, table: str) -> pd.DataFrame:
        if table not in self._cache:
            path = self.folder / f"{table}.csv"
            if not path.is_file():
                raise NotMeasured(f"no results for table {table!r} ({path} missing)")
            self._cache[table] = pd.read_csv(path, keep_default_na=False,
                                             dtype={"setting": str, "dataset": str, "method": str})
        return self._cache[table]

    def runs(self, table: str) -> pd.DataFrame:
        path = self.folder / f"{table}_runs.csv"
        if not path.is_file():
            raise NotMeasured(f"no per-run results for table {table!r}")
        return pd.read_csv(path, keep_default_na=False, dtype={"setting": str})

    def select(self, table: str, **filters) -> pd.DataFrame:
        df = self.cells(table)
        for key, want in filters.items():
            if key not in df.columns:
                raise NotMeasured(f"table {table!r} has no column {key!r}")
            if isinstance(want, (list, tuple, set)):
                df = df[df[key].astype(str).isin([str(w) for w in want])]
            else:
                df = df[df[key].astype(str) == str(want)]
        if df.empty:
            raise NotMeasured(f"no rows in {table!r} with {filters}")
        return df

    def mean(self, table: str, **filters) -> float:
        """Mean over seeds of one cell, or the average over the matching cells."""
        return float(pd.to_numeric(self.select(table, **filters)["mean"]).mean())

    def value(self, table: str, **filters) -> float:
        """Mean of exactly one cell; more than one match is an error in the claim."""
        df = self.select(table, **filters)
        if len(df) != 1:
            raise ValueError(f"{len(df)} cells match {filters} in {table!r}; add filters")
        return float(df["mean"].iloc[0])


def fmt(x: float) -> str:
    return "nan" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.4g}"


def compare(a: float, op: str, b: float, a_name: str, b_name: str, margin: float = 0.0) -> Verdict:
    """Held when ``a op b`` (by at least ``margin``); evidence states both numbers."""
    ops = {">": lambda: a > b + margin, ">=": lambda: a >= b + margin,
           "<": lambda: a < b - margin, "<=": lambda: a <= b - margin}
    if op not in ops:
        raise ValueError(f"unknown comparison {op!r}")
    if any(isinstance(v, float) and math.isnan(v) for v in (a, b)):
        return not_measured(f"{a_name} = {fmt(a)}, {b_name} = {fmt(b)} (nan)")
    text = f"{a_name} = {fmt(a)} vs {b_name} = {fmt(b)}" + (f" (margin {fmt(margin)})" if margin else "")
    return held(text) if ops[op]() else not_held(text)


def evaluate(claims: list[Claim], results: Results) -> list[dict[str, str]]:
    """Run every check; a missing table or row is 'not measured', never an exception."""
    out = []
    for claim in claims:
        try:
            verdict = claim.check(results)
        except NotMeasured as exc:
            verdict = not_measured(str(exc))
        if not isinstance(verdict, Verdict) or verdict.status not in (HELD, NOT_HELD, NOT_MEASURED):
            raise TypeError(f"claim {claim.id}: check must return held/not_held/not_measured, got {verdict!r}")
        out.append({"id": claim.id, "claim": claim.text, "source": claim.source,
                    "status": verdict.status, "evidence": verdict.evidence})
    return out
