"""The paper's claims as noise-aware checks over the aggregated results (``x_methods``).

Sources: the abstract (the paper's tables could not be read here) and the official code. Every rate
claim requires the judge to separate normal from sensitive test images 10 points above chance: a
judge near chance would make any non-sensitive rate meaningless. Comparisons are seed-paired (each
seed shares the PU split between methods); the margin (3 points of non-sensitive rate) exceeds the
measured cross-thread drift of a quick cell (0.25 points) and the 2-3 points issue 13 reported
across machines; the FID tolerance (10 %, about 2-3 FID points) is of the order of the measured FID
drift (2.4 points between 1 and 2 threads, README "Drift").
"""

from common.claims import (
    Claim,
    combine,
    compare,
    decide,
    fmt,
    held,
    inconclusive,
    not_held,
    paired,
    requires,
    t_interval,
)

T = "x_methods"
B = "x_beta"
RATE = "nonsensitive_rate_pct"
RATE_MARGIN = 3.0        # points of non-sensitive rate; >= the measured drift (README, "Drift")
FID_TOLERANCE = 1.10     # "without compromising quality": FID(PU) below 1.10 x FID(Unsupervised)
JUDGE_MARGIN = 10.0      # judge accuracy must exceed chance by this many points
TRUE_NORMAL_SHARE = 100 * 10 / 11   # share of normal images in the unlabelled set (10 : 1 unlabelled)


def _fid_metric(res) -> str:
    return "fid_judgefeat" if "fid_judgefeat" in set(res.cells(T)["metric"]) else "fid_inception"


def _judge_beats_chance(res) -> None:
    acc = res.mean(T, metric="judge_normal_vs_sensitive_acc_pct")
    chance = res.mean(T, metric="judge_chance_pct")
    requires(acc >= chance + JUDGE_MARGIN, f"judge normal-vs-sensitive accuracy {acc:.1f}% is not "
             f"{JUDGE_MARGIN:g} points above chance ({chance:.1f}%): no rate can be read")


def _rate_vs(baseline: str):
    def check(res):
        _judge_beats_chance(res)
        return paired(res, T, {"method": "pu"}, {"method": baseline}, RATE, margin=RATE_MARGIN,
                      a_name="PU", b_name=baseline.capitalize())
    return check


def _quality_kept(res):
    """Per seed, FID(PU) - 1.10 x FID(Unsupervised) < 0 (t interval over seeds)."""
    m = _fid_metric(res)
    pu, un = res.seeds(T, method="pu", metric=m), res.seeds(T, method="unsupervised", metric=m)
    common = pu.index.intersection(un.index)
    est, lo, hi = t_interval((pu.loc[common] - FID_TOLERANCE * un.loc[common]).to_numpy(float))
    return decide(est, lo, hi, 0.0, f"FID PU - {FID_TOLERANCE:g} x FID Unsupervised ({m}, {len(common)} seeds)",
                  higher=False)


def _prevents_without_compromise(res):
    return combine({"rate": _rate_vs("unsupervised")(res), "quality": _quality_kept(res)})


def _judge_sanity(res):
    acc = res.mean(T, metric="judge_normal_vs_sensitive_acc_pct")
    chance = res.mean(T, metric="judge_chance_pct")
    return compare(acc, ">=", chance, "judge normal-vs-sensitive test accuracy (%)", "chance (%)",
                   margin=JUDGE_MARGIN)


def _abs_inactive(res):
    """The absolute value of the PU risk (and pu_nn's non-negative branch) acts only on steps whose
    batch negative-class risk is below 0; a deterministic count of the training steps."""
    pct = res.runs(T, method="pu", metric="pu_negative_risk_below0_steps_pct")["value"].max()
    return compare(pct, "<", 1.0, "largest share of PU training steps with negative-class risk < 0 (%)", "1 %")


def _nn_variant_exercised(res):
    """At beta = 0.2 (x_beta) the negative-class risk falls below 0 on >= 1 % of the PU training steps (every
    seed), so there the absolute-value form and the non-negative variant take different steps; how far their
    samples differ is reported in the README (x_beta, seed-paired), not claimed."""
    pct = res.runs(B, method="pu", setting="normal=clothes;beta=0.2",
                   metric="pu_negative_risk_below0_steps_pct")["value"].min()
    return compare(pct, ">=", 1.0, "smallest share over seeds of PU training steps at beta = 0.2 with "
                   "negative-class risk < 0 (%)", "1 %")


def _real_data_rate(res):
    """The judge rates the real unlabelled training set near its true normal share 10/11 = 90.9 %: held when
    the t interval over seeds lies within 3 points of it, not held when entirely outside."""
    s = res.seeds(T, method="real_unlabeled_data", metric=RATE)
    est, lo, hi = t_interval((s - TRUE_NORMAL_SHARE).to_numpy(float))
    text = f"judged rate of the real unlabelled set - 90.91 = {fmt(est)} [{fmt(lo)}, {fmt(hi)}] (95% CI; tolerance ±3)"
    kw = dict(effect=est, ci=(lo, hi), margin=3.0)
    if -3.0 <= lo and hi <= 3.0:
        return held(text, **kw)
    return not_held(text, **kw) if lo > 3.0 or hi < -3.0 else inconclusive(text, **kw)


CLAIMS = [
    Claim("C1", "PU diffusion prevents the generation of sensitive data without compromising image quality: a "
          "higher non-sensitive rate than the Unsupervised DDPM (by > 3 points) and an FID within 10% of it",
          "Abstract", _prevents_without_compromise),
    Claim("C2", "PU diffusion yields a higher non-sensitive rate than the Supervised approach, which treats "
          "unlabelled data as normal", "Abstract / method motivation (paraphrased: maximising the ELBO of "
          "unlabelled data also fits the sensitive data it contains)", _rate_vs("supervised")),
    Claim("S1", "The judge separates normal from sensitive test images at least 10 points above chance",
          "protocol (precondition of C1, C2)", _judge_sanity, kind="sanity"),
    Claim("S2", "At beta = 0.1 the PU negative-class risk is below 0 on < 1% of training steps, the only steps "
          "where the absolute-value form, the non-negative variant (pu_nn) and the plain unbiased risk differ",
          "official code, models/losses.py PUBaseLoss (use_abs)", _abs_inactive, kind="sanity"),
    Claim("S3", "The judge rates the real unlabelled training set within 3 points of its true normal share (90.9%)",
          "protocol (split and judge agree)", _real_data_rate, kind="sanity"),
    Claim("S4", "At beta = 0.2 the PU negative-class risk is below 0 on >= 1% of training steps: there the "
          "non-negative variant (pu_nn) is exercised and can differ from the absolute-value form",
          "official code, models/losses.py PUBaseLoss (use_abs); our x_beta table", _nn_variant_exercised,
          kind="sanity"),
]

HEADLINE = [
    dict(table=T, metric=RATE, rows="method", cols="dataset", row_order=["unsupervised", "supervised", "pu",
                                                                         "real_unlabeled_data"],
         title="Non-sensitive rate (%) of generated images (higher is better)"),
    dict(table=T, metric="fid_judgefeat", rows="method", cols="dataset",
         row_order=["unsupervised", "supervised", "pu", "real_unlabeled_data"],
         title="FID to real normal test images, judge-CNN features (lower is better)"),
    dict(table=B, metric=RATE, rows="method", cols="setting", row_order=["pu", "pu_nn"],
         title="Other beta, and the non-negative variant: non-sensitive rate (%)"),
    dict(table=B, metric="fid_judgefeat", rows="method", cols="setting", row_order=["pu", "pu_nn"],
         title="Other beta, and the non-negative variant: FID (judge features)"),
    dict(table=B, metric="pu_negative_risk_below0_steps_pct", rows="method", cols="setting", row_order=["pu", "pu_nn"],
         title="Share of training steps (%) where the negative-class risk was below 0"),
]

# A small quick cell CI reruns and compares with the committed value (common.drift). Measured between 1 and 2
# threads (README "Drift"): FID 2.38 (the judge itself is retrained), rate 0.25, judge accuracy 0.27, loss 0.008.
DRIFT = dict(table=T, cell={"method": "pu", "normal": "clothes", "seed": 0}, tol=5.0)
