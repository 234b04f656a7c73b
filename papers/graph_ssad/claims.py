"""The paper's claims as noise-aware checks over the paper's results table, ``t1_auc`` and its
continuation ``t1_auc_b`` in ``results/graph_ssad/<profile>/`` (read as one table: the quick profile
runs the costlier baselines of ``t1_auc_b`` on 3 of the 10 splits; paired effects use the splits
both methods share).

The paper's claims are read from its results table as transcribed in the project brief (BRIEFS
§21 [paper]: per-graph numbers of the proposed method, five-graph averages of every method) and
from its abstract. "On average" means over every graph of the profile (quick: Cora and Citeseer;
full: the paper's five) and every labelled fraction, like the paper's average rows; the effect is
the seed-paired difference averaged over those cells, with a bootstrap interval over cells and
seeds (``common.claims.paired``). Margins are in AUC points and far above the measured
cross-thread drift (``DRIFT``).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pandas as pd

from common.claims import Claim, NotMeasured, Results, Verdict, combine, compare, paired, requires, trend, within_paper

T, T_B, METRIC = "t1_auc", "t1_auc_b", "test_auc_pct"
MARGIN = 0.5
"""AUC points by which one method must beat another (the interval must clear it)."""
WIDE = 10.0
"""'A wide margin' of the anomalous labels over the normal-only variant, in AUC points (paper: 27-29)."""
PAPER_TOL = 2.0
"""Reproduction bar: the proposed method within this many AUC points of the paper's number."""
PAPER_BASELINES = ("normal_only", "ocsvm", "deep_svdd", "deep_svdd_auc", "deep_sad", "nn", "gcn", "deepwalk_lr",
                   "dominant")
LABEL_USERS = ("proposed", "gcn", "nn", "deep_svdd_auc", "deep_sad")
"""The paper's methods trained with the anomalous labels (all >= 77.8 % on the paper's average rows)."""
# The paper's average rows, best first (DeepWalk + LR's average is not in our transcription).
PAPER_RANKING = ("proposed", "gcn", "nn", "deep_svdd_auc", "deep_sad", "normal_only", "deep_svdd", "ocsvm",
                 "dominant")
FRACS = ("label_frac=0.025", "label_frac=0.05", "label_frac=0.1")


class PaperTable(Results):
    """``t1_auc`` and ``t1_auc_b`` read as the one results table ``t1_auc`` (other tables as they are).
    A failed or missing cell of either part makes every read of the table 'not measured'."""

    def __init__(self, res: Results) -> None:
        super().__init__(res.folder, res.paper, res.profile)

    def _parts(self, read, table: str, **filters) -> pd.DataFrame:
        if table != T:
            return read(table, **filters)
        parts = [T] + ([T_B] if (self.folder / f"{T_B}.csv").is_file() else [])
        for t in parts:  # a failed cell of either part makes every read "not measured"
            self._check_complete(t)
        frames = []
        for t in parts:
            try:
                frames.append(read(t, **filters))
            except NotMeasured:
                continue
        if not frames:
            raise NotMeasured(f"no rows in {T!r} or {T_B!r} with {dict(filters)}")
        return pd.concat(frames, ignore_index=True)

    def cells(self, table: str) -> pd.DataFrame:
        return self._parts(super().cells, table)

    def runs(self, table: str, **filters) -> pd.DataFrame:
        return self._parts(super().runs, table, **filters)


def _one_table(check):
    return lambda res: check(PaperTable(res))


def _paper_avg(method: str) -> str:
    df = pd.read_csv(Path(__file__).with_name("paper_results.csv"), dtype=str, keep_default_na=False)
    df = df[(df.dataset == "mean_of_5_datasets") & (df.method == method)]
    return "/".join(df["value"]) if len(df) else "n/a"


def _with_paper(v: Verdict, *methods: str) -> Verdict:
    avgs = ", ".join(f"{m} {_paper_avg(m)}" for m in methods)
    return replace(v, evidence=f"{v.evidence} (paper, 5-graph average at 2.5/5/10 %: {avgs})")


def _beats(a: str, b: str, margin: float = MARGIN):
    """``a`` beats ``b`` on average over the profile's graphs and fractions, seed-paired."""
    return lambda res: _with_paper(paired(res, T, {"method": a}, {"method": b}, METRIC, margin), a, b)


def _beats_best_baseline(res) -> Verdict:
    means = {}
    for m in PAPER_BASELINES:
        try:
            means[m] = res.mean(T, method=m, metric=METRIC)
        except LookupError:  # a baseline that was not run is left out
            continue
    requires(bool(means), "no baseline of the paper was run")
    best = max(means, key=means.get)
    v = paired(res, T, {"method": "proposed"}, {"method": best}, METRIC, MARGIN)
    others = ", ".join(f"{m} {x:.1f}" for m, x in sorted(means.items(), key=lambda kv: -kv[1]))
    return _with_paper(replace(v, evidence=f"best baseline on average: {best}; {v.evidence}; averages: {others}"),
                       "proposed", best)


def _wide_margin(res) -> Verdict:
    return combine({f.split("=")[1]: paired(res, T, {"method": "proposed"}, {"method": "normal_only"}, METRIC,
                                            WIDE, setting=f) for f in FRACS})


def _label_users_beat_dominant(res) -> Verdict:
    return combine({m: paired(res, T, {"method": m}, {"method": "dominant"}, METRIC, MARGIN) for m in LABEL_USERS})


def _more_labels_help(res) -> Verdict:
    datasets = sorted(set(res.select(T, method="proposed", metric=METRIC)["dataset"]))
    span = 0.1 - 0.025  # a slope of MARGIN / span is MARGIN points more AUC from 2.5 % to 10 % labelled
    return combine({ds: trend(res, T, METRIC, x="label_frac", method="proposed", dataset=ds, margin=MARGIN / span)
                    for ds in datasets})


def within_paper_cells(res) -> dict[str, Verdict]:
    """C9 cell by cell: ``"<graph> <labelled fraction>"`` -> the verdict of that cell, with the t
    interval over splits of ours - paper (also written per cell to ``t1_within_paper.md``)."""
    cells = res.select(T, method="proposed", metric=METRIC)
    cells = cells[cells["paper_value"].astype(str) != ""]
    requires(not cells.empty, "no paper value for the graphs of this profile")
    return {f"{r.dataset} {r.setting.split('=')[1]}": within_paper(res, T, PAPER_TOL, method="proposed",
                                                                    metric=METRIC, dataset=r.dataset,
                                                                    setting=r.setting)
            for r in cells.itertuples()}


def _within_paper(res) -> Verdict:
    return combine(within_paper_cells(res))


def _paper_ranking(res) -> Verdict:
    return combine({f"{a} > {b}": paired(res, T, {"method": a}, {"method": b}, METRIC, MARGIN)
                    for a, b in zip(PAPER_RANKING, PAPER_RANKING[1:])})


def _every_split_has_labelled_anomalies(res) -> Verdict:
    n = res.runs(T, metric="labelled_anomalies")["value"]
    return compare(float(n.min()), ">=", 1.0, f"fewest labelled anomalies in a split ({len(n)} runs)", "1")


SRC = "results table, average rows (BRIEFS §21 [paper])"
CLAIMS = [
    Claim("C1", "The proposed method achieves better performance than the existing anomaly detection methods: "
                "it beats the best of the paper's baselines on average", "Abstract; " + SRC, _beats_best_baseline),
    Claim("C2", f"Using the labels of anomalous nodes beats the normal-only variant by a wide margin (>= {WIDE:g} "
                "AUC points at every labelled fraction)", "results table, proposed vs. normal-only rows "
                                                          "(BRIEFS §21 [paper])", _wide_margin),
    Claim("C4", "The graph helps: the proposed method (GCN) beats the same objective on an MLP (Deep SVDD + AUC)",
          SRC, _beats("proposed", "deep_svdd_auc")),
    Claim("C5", "The AUC term helps without the graph too: Deep SVDD + AUC beats Deep SVDD", SRC,
          _beats("deep_svdd_auc", "deep_svdd")),
    Claim("C6", "The GCN classifier beats the plain NN classifier (graph structure helps classifiers)", SRC,
          _beats("gcn", "nn")),
    Claim("C7", "Methods trained with the anomalous labels (proposed, GCN, NN, Deep SVDD + AUC, Deep SAD) each "
                "beat the unsupervised DOMINANT on average", SRC, _label_users_beat_dominant),
    Claim("C8", "More labelled nodes give a higher test AUC for the proposed method on every graph (slope over "
                "2.5 -> 10 % labelled)", "results table, 2.5 -> 10 % columns (BRIEFS §21 [paper])",
          _more_labels_help),
    Claim("C9", f"Reproduction bar: the proposed method's test AUC is within {PAPER_TOL:g} points of the paper's "
                "at every graph and labelled fraction measured", "results table (BRIEFS §21 [paper]); issue #4",
          _within_paper),
    Claim("C10", "The ranking of the paper's average rows, each adjacent pair in order: proposed > GCN classifier "
                 "> NN > Deep SVDD + AUC > Deep SAD > normal-only > Deep SVDD > OCSVM > DOMINANT", SRC,
          _paper_ranking),
    Claim("S1", "Every split has at least one labelled anomalous node (the AUC term needs a pair)",
          "protocol (random splits are redrawn until every part holds both classes)",
          _every_split_has_labelled_anomalies, kind="sanity"),
]
CLAIMS = [replace(c, check=_one_table(c.check)) for c in CLAIMS]  # t1_auc + t1_auc_b as one table

_ORDERS = {T: ["proposed", "normal_only", "gcn", "nn", "deep_sad", "deep_svdd", "ocsvm", "deepwalk_lr"],
           T_B: ["deep_svdd_auc", "dominant", "deep_sad_labelled"]}
HEADLINE = [dict(table=t, metric=METRIC, rows="method", cols="setting", filters={"dataset": ds},
                 row_order=_ORDERS[t], title=f"{name}: test AUC (%) by labelled fraction (the paper's results table"
                 + (")" if t == T else ", continued: the costlier baselines and our Deep SAD variant)"))
            for ds, name in (("cora", "Cora"), ("citeseer", "Citeseer")) for t in (T, T_B)]

# A small quick cell that CI reruns and compares with the committed value: tol = 2x the largest change
# measured between threads=1 and threads=2 (2.9e-4 AUC points on this cell; bit-identical on the others tried).
DRIFT = dict(table=T, cell={"dataset": "cora", "method": "nn", "label_frac": 0.05, "seed": 0}, tol=1e-3)
