"""The template paper's claims as noise-aware checks (see common/claims.py)."""

from common.claims import Claim, beats_best, compare, trend


def _sizes_add_up(res):
    """Protocol: the training set is the requested fraction of the 1,797 images."""
    n = res.value("t1_accuracy", method="softmax", setting="train_frac=0.1", metric="n_train")
    return compare(n, "==", round(0.1 * 1797), "training images at train_frac=0.1", "0.1 x 1797")


CLAIMS = [
    Claim("C1", "Softmax regression beats nearest centroid at every training fraction", "template (Table 1)",
          lambda res: beats_best(res, "t1_accuracy", "softmax", ["nearest_centroid"], "test_acc_pct",
                                 per=["setting"], margin=0.5)),
    Claim("C2", "Test accuracy of softmax regression grows with the training fraction", "template (Table 1)",
          lambda res: trend(res, "t1_accuracy", "test_acc_pct", x="train_frac", method="softmax")),
    Claim("S1", "The training set has the requested size", "protocol", _sizes_add_up, kind="sanity"),
]

HEADLINE = [dict(table="t1_accuracy", metric="test_acc_pct", rows="method", cols="setting",
                 title="Test accuracy (%) by training fraction")]

# A small cell CI reruns and compares with the committed value (common.drift): tol = measured drift.
DRIFT = dict(table="t1_accuracy", cell={"method": "softmax", "train_frac": 0.05, "seed": 0}, tol=1e-9)
