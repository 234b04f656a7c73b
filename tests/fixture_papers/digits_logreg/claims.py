from common.claims import Claim, compare, paired


def _logreg_beats_centroid(res):
    return paired(res, "t1", {"method": "logreg"}, {"method": "centroid"}, "test_acc_pct")


def _centroid_beats_logreg(res):
    return paired(res, "t1", {"method": "centroid"}, {"method": "logreg"}, "test_acc_pct")


def _logreg_beats_centroid_by_50_points(res):
    return paired(res, "t1", {"method": "logreg"}, {"method": "centroid"}, "test_acc_pct", margin=50.0)


def _needs_missing_table(res):
    return compare(res.mean("t9", metric="x"), ">", 0.0, "t9", "zero")


def _three_seeds(res):
    return compare(float(res.select("t1", method="logreg", metric="test_acc_pct")["n_seeds"].iloc[0]), "==", 3.0,
                   "seeds", "3")


CLAIMS = [
    Claim("C1", "Logistic regression beats nearest centroid on digits", "fixture", _logreg_beats_centroid),
    Claim("C2", "Nearest centroid beats logistic regression (false on purpose)", "fixture", _centroid_beats_logreg),
    Claim("C3", "A claim on a table that was not run", "fixture", _needs_missing_table),
    Claim("C4", "Logistic regression is 50 points better (false on purpose)", "fixture",
          _logreg_beats_centroid_by_50_points),
    Claim("C5", "Logistic regression is 6 points better (inside the noise: inconclusive)", "fixture",
          lambda res: paired(res, "t1", {"method": "logreg"}, {"method": "centroid"}, "test_acc_pct", margin=6.0)),
    Claim("S1", "Every cell has three seeds", "fixture", _three_seeds, kind="sanity"),
]

HEADLINE = [dict(table="t1", metric="test_acc_pct", rows="method", cols="dataset", title="Test accuracy (%)")]
