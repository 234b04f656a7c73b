"""meta_annotators' claims as noise-aware checks (common.claims): seed-paired 95 % intervals over the seeds,
per dataset and test setting (a claim holds only where it holds in every group of its table).

Only the abstract (and reviews' descriptions of the method) could be read; the claims paraphrase the abstract's
last sentence ("We show the effectiveness of our method with real-world datasets with synthetic noise and
real-world crowdsourcing datasets") and the issue's bars; the confusion-estimate claim is ours.
"""

from common.claims import Claim, beats_best, combine, compare, trend

SYN, REAL = "t1_synthetic", "t2_real"
ACC, ERR = "test_acc_pct", "conf_err_tv"
BASELINES_SYN = ["protonet_mv", "em_fixed", "crowdlayer", "mv_clf", "ds_clf", "glad_clf", "mace_clf"]
BASELINES_REAL = BASELINES_SYN


def _present(res, table, methods):
    have = set(res.select(table, metric=ACC)["method"])
    return [m for m in methods if m in have]


def _beats(table, others, metric=ACC, higher=True):
    return lambda res: beats_best(res, table, "proposed", _present(res, table, others), metric,
                                  per=["dataset", "setting"], higher=higher)


def _ablation(res):
    return combine({t: beats_best(res, t, "proposed", ["proposed_noannot"], ACC, per=["dataset", "setting"])
                    for t in (SYN, REAL)})


def _same_tasks(res):
    parts = {}
    for t in (SYN, REAL):
        ns = set(res.runs(t, metric=ACC)["n"].astype(str))
        parts[t] = compare(len(ns), "==", 1, f"distinct test-task counts ({', '.join(sorted(ns))})", "one count")
    return combine(parts)


CLAIMS = [
    Claim("C1", "With synthetic annotator noise on real image classes, the proposed method classifies held-out "
                "tasks more accurately than every baseline (ProtoNet on majority votes, EM on fixed features, "
                "CrowdLayer, majority vote / Dawid-Skene + classifier), at every support size and number of "
                "annotators", "Abstract, last sentence; issue 22 bars", _beats(SYN, BASELINES_SYN)),
    Claim("C2", "On real crowdsourcing datasets (LabelMe, Music, Sentiment) the proposed method is more accurate "
                "than every baseline (also MACE + classifier; GLAD in the full profile)", "Abstract, last sentence; issue 22 bars",
          _beats(REAL, BASELINES_REAL)),
    Claim("C3", "Modelling the annotators helps: the proposed method beats the same meta-learned Gaussian "
                "classifier fitted to soft majority votes (ablation), on synthetic and real crowds",
          "Abstract ('estimating annotators' abilities'); issue 22 bars", _ablation),
    Claim("C4", "The meta-learned latent space gives better estimates of the annotators' confusion matrices "
                "(lower total-variation error) than the same EM on fixed features and Dawid-Skene",
          "ours (from the abstract's 'estimating annotators' abilities on the latent space')",
          _beats(SYN, ["em_fixed", "ds_clf"], ERR, higher=False)),
    Claim("S1", "Every method is evaluated on the same number of test tasks", "protocol", _same_tasks, kind="sanity"),
    Claim("S2", "The proposed method's accuracy grows with the support size K (synthetic annotators)", "protocol",
          lambda res: combine({ds: trend(res, SYN, ACC, "K", method="proposed", dataset=ds)
                               for ds in sorted(set(res.select(SYN, metric=ACC)["dataset"]))}), kind="sanity"),
]

HEADLINE = [dict(table=SYN, metric=ACC, rows="method", cols="setting", filters={"dataset": ds},
                 title=f"Synthetic annotators on {ds}: test accuracy (%) on held-out classes")
            for ds in ("omniglot_small", "fmnist")]
HEADLINE += [dict(table=REAL, metric=ACC, rows="method", cols="dataset",
                  title="Real crowds: test accuracy (%) of the adapted classifier"),
             dict(table=SYN, metric=ERR, rows="method", cols="setting", filters={"dataset": "omniglot_small"},
                  title="Synthetic annotators on omniglot_small: total-variation error of the estimated confusions")]

# A small deterministic cell CI reruns (common.drift): no training, float64 EM on fixed features.
DRIFT = dict(table=REAL, cell={"method": "em_fixed", "dataset": "music", "seed": 0}, tol=1e-6)
