"""meta_occ's claims as noise-aware checks (common.claims): seed-paired intervals over 3+ seeds."""

from common.claims import Claim, beats_best, compare

AD = ["ocsvm", "iforest", "deep_svdd", "deep_sad", "supervised", "proposed_nometa"]
FEWSHOT = ["maml", "protonet", "oc_protonet"]


def _same_tasks(res):
    """Protocol: every method is scored on the same number of test tasks."""
    ns = set(res.runs("t1_auroc", metric="auroc_pct")["n"].astype(str))
    return compare(len(ns), "==", 1, f"distinct test-task counts across runs ({', '.join(sorted(ns))})", "one count")


CLAIMS = [
    Claim("C1", "The proposed method achieves better mean AUROC than existing anomaly-detection methods "
                "(OCSVM, IForest, Deep SVDD, Deep SAD, a supervised classifier per task, the solver without meta-learning)",
          "Abstract, last sentence", lambda res: beats_best(res, "t1_auroc", "proposed", AD, "auroc_pct", per=["setting"])),
    Claim("C2", "The proposed method achieves better mean AUROC than few-shot learning methods "
                "(MAML, ProtoNet, one-class ProtoNet)", "Abstract, last sentence",
          lambda res: beats_best(res, "t1_auroc", "proposed", FEWSHOT, "auroc_pct", per=["setting"])),
    Claim("C3", "Meta-learning helps: the meta-trained encoder beats the same eigen solver on the input features",
          "Abstract s.3-4 (meta-training with various datasets improves unseen tasks)",
          lambda res: beats_best(res, "t1_auroc", "proposed", ["proposed_nometa"], "auroc_pct", per=["setting"])),
    Claim("S1", "Every method is evaluated on the same test tasks", "protocol", _same_tasks, kind="sanity"),
]

HEADLINE = [dict(table="t1_auroc", metric="auroc_pct", rows="method", cols="setting",
                 title="Mean AUROC (%) on unseen Fashion-MNIST one-class-vs-rest tasks")]

# A small cell CI reruns and compares with the committed value (common.drift): tol = measured drift.
DRIFT = dict(table="t1_auroc", cell={"method": "proposed_nometa", "seed": 0}, tol=1e-6)
