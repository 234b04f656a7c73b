"""The paper's claims as checks over the aggregated results (table t1)."""

from common.claims import Claim, compare, fmt, held, not_held

T = "x_methods"
RATE, FID = "nonsensitive_rate_pct", "fid_judgefeat"


def _fid_metric(res):
    metrics = set(res.cells(T)["metric"])
    return FID if FID in metrics else "fid_inception"


def _pu_beats_unsupervised(res):
    return compare(res.mean(T, method="pu", metric=RATE), ">", res.mean(T, method="unsupervised", metric=RATE),
                   "non-sensitive rate PU (%)", "Unsupervised (%)", margin=1.0)


def _pu_beats_supervised(res):
    return compare(res.mean(T, method="pu", metric=RATE), ">", res.mean(T, method="supervised", metric=RATE),
                   "non-sensitive rate PU (%)", "Supervised (%)")


def _quality_kept(res):
    """FID of PU within 10% (relative) of the Unsupervised model trained on the same data."""
    m = _fid_metric(res)
    pu, un = res.mean(T, method="pu", metric=m), res.mean(T, method="unsupervised", metric=m)
    text = f"FID PU = {fmt(pu)} vs Unsupervised = {fmt(un)} (held when PU <= 1.10 x Unsupervised)"
    return held(text) if pu <= 1.10 * un else not_held(text)


def _prevents_without_compromise(res):
    a, b = _pu_beats_unsupervised(res), _quality_kept(res)
    text = f"[rate] {a.evidence}; [quality] {b.evidence}"
    if "not measured" in (a.status, b.status):
        return a if a.status == "not measured" else b
    return held(text) if a.status == b.status == "held" else not_held(text)


def _nn_variant_also_prevents(res):
    return compare(res.mean(T, method="pu_nn", metric=RATE), ">", res.mean(T, method="unsupervised", metric=RATE),
                   "non-sensitive rate PU-nn (%)", "Unsupervised (%)", margin=1.0)


CLAIMS = [
    Claim("C1", "PU diffusion prevents the generation of sensitive data without compromising image quality "
          "(higher non-sensitive rate than Unsupervised by > 1 point, FID within 10%)", "Abstract",
          _prevents_without_compromise),
    Claim("C2", "PU diffusion yields a higher non-sensitive rate than the Unsupervised diffusion model",
          "Abstract (paraphrased)", _pu_beats_unsupervised),
    Claim("C3", "PU diffusion keeps sample quality: FID comparable to (within 10% of) Unsupervised",
          "Abstract (paraphrased)", _quality_kept),
    Claim("C4", "PU diffusion yields a higher non-sensitive rate than the Supervised approach, which treats "
          "unlabelled data as normal", "Abstract / method motivation (paraphrased: maximising the ELBO of "
          "unlabelled data also fits the sensitive data it contains)", _pu_beats_supervised),
    Claim("C5", "The non-negative (nnPU-style) variant of the PU objective also prevents sensitive generation",
          "official code, models/losses.py PUBaseLoss(use_abs=False) (our check, not a paper statement)", _nn_variant_also_prevents),
]
