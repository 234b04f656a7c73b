"""hetero_ssl claims as noise-aware checks over the aggregated t1_ssl table (see common/claims.py).

The abstract: "our proposed method outperforms the existing meta-learning and semi-supervised learning
methods" on classification and regression datasets with heterogeneous attribute spaces; the issue's bars:
the proposed method beats every baseline for both problem types, unlabelled data help (ablation), and it
beats the 2020 heterogeneous-attribute meta-learner. Every comparison is seed-paired and pooled over the
numbers of labelled instances (bootstrap interval over cells and seeds), per problem type.
"""

from common.claims import Claim, combine, paired, trend

TABLE = "t1_ssl"
METRIC = {"pmlb_classification": ("test_acc_pct", True), "pmlb_regression": ("test_mse", False)}
BASELINES = {"pmlb_classification": ["hetero2020", "protonet", "maml", "logreg", "rf", "label_spreading",
                                     "self_training"],
             "pmlb_regression": ["hetero2020", "protonet", "maml", "ridge", "rf", "label_spreading"]}
ORDER = ["proposed", "proposed_nounlab", "hetero2020", "protonet", "maml", "logreg", "ridge", "rf",
         "label_spreading", "self_training"]


def _beats_every_baseline(dataset):
    """Seed-paired against each baseline in turn, pooled over N (the best baseline differs between N)."""
    metric, higher = METRIC[dataset]
    return lambda res: combine({b: paired(res, TABLE, {"method": "proposed"}, {"method": b}, metric, higher=higher,
                                          a_name="proposed", b_name=b, dataset=dataset) for b in BASELINES[dataset]})


def _paired_per_problem(res, other: str):
    return combine({d: paired(res, TABLE, {"method": "proposed"}, {"method": other}, m, higher=h,
                              a_name="proposed", b_name=other, dataset=d) for d, (m, h) in METRIC.items()})


def _more_labels_help(res):
    """Sanity of the protocol: the per-task supervised models improve with more labelled instances."""
    return combine({"classification": trend(res, TABLE, "test_acc_pct", x="n_labelled", method="logreg",
                                            dataset="pmlb_classification"),
                    "regression": trend(res, TABLE, "test_mse", x="n_labelled", increasing=False, method="ridge",
                                        dataset="pmlb_regression")})


CLAIMS = [
    Claim("C1", "Classification: the proposed method estimates the labels of unlabelled instances on held-out "
          "tables more accurately than every meta-learning, supervised and semi-supervised baseline",
          "abstract; issue 17 (Bars)", _beats_every_baseline("pmlb_classification")),
    Claim("C2", "Regression: the proposed method has a lower MSE than every baseline", "abstract; issue 17 (Bars)",
          _beats_every_baseline("pmlb_regression")),
    Claim("C3", "Unlabelled data help: the proposed method beats the same network meta-trained and adapted "
          "without unlabelled data, for both problem types", "abstract ('improved with unlabeled data'); issue 17",
          lambda res: _paired_per_problem(res, "proposed_nounlab")),
    Claim("C4", "The proposed method beats the 2020 heterogeneous-attribute meta-learner, for both problem types",
          "abstract ('existing meta-learning methods'); issue 17", lambda res: _paired_per_problem(res, "hetero2020")),
    Claim("S1", "Protocol: per-task logistic / ridge regression improves with the number of labelled instances",
          "protocol", _more_labels_help, kind="sanity"),
]

HEADLINE = [
    dict(table=TABLE, metric="test_acc_pct", rows="method", cols="setting", row_order=ORDER,
         filters={"dataset": "pmlb_classification"},
         title="Classification (held-out PMLB tables, 2 classes, 30 unlabelled): accuracy (%) of the unlabelled "
               "instances by labelled instances per class"),
    dict(table=TABLE, metric="test_mse", rows="method", cols="setting", row_order=ORDER,
         filters={"dataset": "pmlb_regression"},
         title="Regression (held-out PMLB tables, 30 unlabelled): MSE of the standardised target by labelled "
               "instances (lower is better)"),
]

# The regression cell of seed 0; CI reruns it and compares with the committed value (common.drift).
DRIFT = dict(table=TABLE, cell={"problem": "regression", "seed": 0}, tol=1e-6)
