from common.claims import Claim, compare


def _logreg_beats_centroid(res):
    return compare(res.mean("t1", method="logreg", metric="test_acc_pct"), ">",
                   res.mean("t1", method="centroid", metric="test_acc_pct"), "logreg", "centroid")


def _centroid_beats_logreg(res):
    return compare(res.mean("t1", method="centroid", metric="test_acc_pct"), ">",
                   res.mean("t1", method="logreg", metric="test_acc_pct"), "centroid", "logreg")


def _needs_missing_table(res):
    return compare(res.mean("t9", metric="x"), ">", 0.0, "t9", "zero")


CLAIMS = [
    Claim("C1", "Logistic regression beats nearest centroid on digits", "fixture", _logreg_beats_centroid),
    Claim("C2", "Nearest centroid beats logistic regression (false on purpose)", "fixture", _centroid_beats_logreg),
    Claim("C3", "A claim on a table that was not run", "fixture", _needs_missing_table),
]
