"""Claims of Kumagai, Iwata & Fujiwara (NeurIPS 2021) checked against our aggregated results.

Only the paper's abstract, the first four paragraphs of Section 1 and (through a third-party
summary) the caption of Figure 1 could be read here; its Section 5 (experiments) and tables could
not (README, "What the paper says"). Each claim therefore cites the sentence it rests on:
- Abstract, sentences 3-4: existing (relative) DRE methods need many instances, which are often
  unavailable; §1 ¶3 ends "In such cases, existing methods cannot work well."
- Abstract, sentences 5-8: the meta-learned model estimates the relative ratio from a few
  instances using related datasets; the datasets' information, extracted by neural networks,
  gives the instance embeddings; closed-form adaptation; trained on the expected test error.
- Abstract, last sentence: effectiveness demonstrated on relative DRE, dataset comparison and
  outlier detection.
- §1 ¶4 and Fig. 1: source datasets for training, different but related target datasets at test.
The comparison against meta-learning baselines (fine-tuning, MAML) is our reading of "effective
... by using knowledge in related datasets"; the paper's baseline list is unreadable here.
Checked at the smallest support size of each table (the few-instance regime).
"""

from __future__ import annotations

from common.claims import Claim, NotMeasured, compare, not_measured

PER_TASK = ("rulsif", "ulsif", "kliep", "nn")
META = ("ft", "maml")


def _best(res, table, metric, methods, lower_is_better, **filters):
    vals = {}
    for m in methods:
        try:
            vals[m] = res.mean(table, method=m, metric=metric, **filters)
        except NotMeasured:
            continue
    if not vals:
        raise NotMeasured(f"none of {methods} measured in {table} with {filters}")
    pick = min if lower_is_better else max
    name = pick(vals, key=vals.get)
    return vals[name], name


def _smallest_setting(res, table, metric, split=None):
    df = res.select(table, metric=metric)
    settings = df["setting"].astype(str)
    if split is not None:
        settings = settings[settings.str.contains(f"pair_split={split}")]
    if settings.empty:
        raise NotMeasured(f"no {table} settings with split {split}")
    return min(set(settings), key=lambda s: int(s.split("n_support=")[1].split(";")[0]))


def _rdre_vs(methods, split):
    def check(res):
        setting = _smallest_setting(res, "x_rdre", "test_rdre_error", split)
        ours = res.mean("x_rdre", method="proposed", metric="test_rdre_error", setting=setting)
        best, name = _best(res, "x_rdre", "test_rdre_error", methods, True, setting=setting)
        return compare(ours, "<", best, f"proposed error [{setting}]", f"best of {name}")
    return check


def _auc_vs(table, metric, methods, split=None):
    def check(res):
        if split is None:
            # mean over every dataset at the smallest support size
            setting = _smallest_setting(res, table, metric)
        else:
            setting = _smallest_setting(res, table, metric, split)
        ours = res.mean(table, method="proposed", metric=metric, setting=setting)
        best, name = _best(res, table, metric, methods, False, setting=setting)
        return compare(ours, ">", best, f"proposed AUC [{setting}, mean over datasets]", f"best of {name}")
    return check


def _encoder_helps(res):
    try:
        setting = _smallest_setting(res, "x_rdre", "test_rdre_error", "rows")
        ours = res.mean("x_rdre", method="proposed", metric="test_rdre_error", setting=setting)
        abl = res.mean("x_rdre", method="proposed_noenc", metric="test_rdre_error", setting=setting)
    except NotMeasured as exc:
        return not_measured(str(exc))
    return compare(ours, "<", abl, f"proposed error [{setting}]", "without dataset encoders")


CLAIMS = [
    Claim("C1", "With few instances, the proposed method estimates the relative density ratio better than "
                "per-task relative DRE methods (RuLSIF, uLSIF, KLIEP, neural DRE) - test densities related to the "
                "source ones (held-out rows)", "Abstract s.3-5 and last; §1 ¶3", _rdre_vs(PER_TASK, "rows")),
    Claim("C2", "With few instances, the proposed method beats the meta-learning baselines (fine-tuning, MAML) in "
                "relative DRE (held-out rows)", "Abstract s.5-8 and last (baselines: ours)", _rdre_vs(META, "rows")),
    Claim("C3", "With few instances, the proposed method beats every baseline also when the test densities are "
                "mixtures of classes unseen in meta-training (held-out classes)",
          "Abstract s.5; §1 ¶4; Fig. 1 (related source/target datasets)", _rdre_vs(PER_TASK + META, "classes")),
    Claim("C4", "The proposed method is better than every baseline at dataset comparison with few instances",
          "Abstract last sentence; §1 ¶3 (dataset comparison)", _auc_vs("x_comparison", "comparison_auc_pct", PER_TASK + META)),
    Claim("C5", "The proposed method is better than every baseline at outlier detection with few instances "
                "(mean AUC over datasets)", "Abstract last sentence; §1 ¶1 (outlier detection)",
          _auc_vs("x_outlier", "outlier_auc_pct", PER_TASK + META)),
    Claim("C6", "Using the datasets' information (dataset encoders) for the instance embeddings improves the "
                "estimate (ablation without encoders)", "Abstract s.6 (datasets' information -> embeddings)", _encoder_helps),
]
