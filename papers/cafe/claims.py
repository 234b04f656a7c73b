"""The CAFe paper's claims as noise-aware checks over the aggregated error-rate tables (lower error is
better), with the helpers of ``common.claims``: every comparison is seed-paired (one seed = one source
model, one benchmark draw and one stream order, shared by every method), its 95 % interval must clear
the table's ``MARGIN`` for a verdict, and a claim holds only if it holds on every quick dataset.

Sources cite only what was read: the abstract (arXiv 2204.13263) and the third-party reading note
transcribed in the papers' briefs; the paper's own tables could not be read (README).
"""

from common.claims import (
    HELD,
    INCONCLUSIVE,
    NOT_HELD,
    Claim,
    NotMeasured,
    Verdict,
    beats_best,
    combine,
    decide,
    fmt,
    paired,
    paired_differences,
    requires,
    t_interval,
)

SINGLE, MIXED = "x_single_stream", "x_mixed_stream"
PRIOR_TTA = ["bn", "tent", "pl", "shot_im", "tfa"]
METRIC = "error_pct"
MARGIN = {"x_single_stream": 0.5, "x_mixed_stream": 3.0}
"""Error-rate points a seed-paired effect must clear, per table: at least its measured rerun drift.
Rerunning Fashion-MNIST seed 0 with 2 threads instead of 1 (which retrains the source model) moved the
paired effects on the mixed stream (CAFe - {tfa, shot_im, bn, tent, cafe_nogroup, cafe_symkl, source},
Tent - Source) by up to 2.71 points, those on the single-stream mean by up to 0.30 (README: drift)."""
SOURCE_BAR = 10.0
"""Sanity S3: the source model's clean error must stay below this (>= 90 % accuracy, the issue's bar)."""
CHANCE_GAP = 20.0
"""Precondition of every TTA claim: the source model's clean error is this many points below chance."""


def _datasets(res, table):
    return sorted(set(res.select(table, metric=METRIC)["dataset"]))


def _source_learned(res, dataset):
    """``requires``: a TTA comparison means nothing on top of a source model at chance."""
    err = res.mean(SINGLE, dataset=dataset, method="source", setting="clean", metric=METRIC)
    chance = 90.0  # both quick datasets have 10 classes
    requires(err < chance - CHANCE_GAP, f"{dataset}: source clean error {err:.1f} % is not {CHANCE_GAP:.0f} "
                                        f"points below chance ({chance:.0f} %)")


def _cafe_beats_prior(table, setting):
    def check(res):
        for d in _datasets(res, table):
            _source_learned(res, d)
        return beats_best(res, table, "cafe", PRIOR_TTA, METRIC, per=["dataset"], margin=MARGIN[table],
                          higher=False, setting=setting)
    return check


def _gain_shrinks_under_mixing(res, method, dataset):
    """(Source - method) on the single-stream mean minus (Source - method) on the mixed stream, per seed."""
    def s(table, m, setting):
        return res.seeds(table, dataset=dataset, method=m, setting=setting, metric=METRIC)
    g_single = s(SINGLE, "source", "mean") - s(SINGLE, method, "mean")
    g_mixed = s(MIXED, "source", "mixed") - s(MIXED, method, "mixed")
    diff = (g_single - g_mixed).dropna()
    if diff.empty:
        raise NotMeasured(f"{dataset}: no seed in both tables")
    est, lo, hi = t_interval(diff.to_numpy(float))
    return decide(est, lo, hi, MARGIN[MIXED], f"{method} gain over source, single minus mixed ({len(diff)} seeds)")


def _prior_limited_under_mixing(res):
    """Tent works on single corruptions (beats Source there) and gains less in the mixed stream."""
    parts = {}
    for d in _datasets(res, SINGLE):
        _source_learned(res, d)
        parts[f"{d} single"] = paired(res, SINGLE, {"method": "tent"}, {"method": "source"}, METRIC, MARGIN[SINGLE],
                                      higher=False, dataset=d, setting="mean")
        parts[f"{d} shrink"] = _gain_shrinks_under_mixing(res, "tent", d)
    return combine(parts)


def _grouping_helps(res):
    parts = {}
    for d in _datasets(res, MIXED):
        _source_learned(res, d)
        parts[d] = paired(res, MIXED, {"method": "cafe"}, {"method": "cafe_nogroup"}, METRIC, MARGIN[MIXED],
                          higher=False, dataset=d, setting="mixed")
    return combine(parts)


def _corruptions_shift(res):
    """Protocol: the corrupted single streams raise the source model's error above its clean error."""
    return combine({d: paired(res, SINGLE, {"setting": "mean"}, {"setting": "clean"}, METRIC, MARGIN[SINGLE],
                              dataset=d, method="source") for d in _datasets(res, SINGLE)})


def _source_accurate(res):
    """Protocol (issue 31): every seed's source model reaches >= 90 % clean accuracy (error < ``SOURCE_BAR``)
    on the clean test draw; the verdict quotes the worst seed and the 95 % interval of the seeds' mean."""
    parts = {}
    for d in _datasets(res, SINGLE):
        err = res.seeds(SINGLE, dataset=d, method="source", setting="clean", metric=METRIC).dropna()
        if err.empty:
            raise NotMeasured(f"{d}: no clean source error")
        est, lo, hi = t_interval(err.to_numpy(float))
        text = (f"source clean error, worst seed {fmt(err.max())} % (mean {fmt(est)} [{fmt(lo)}, {fmt(hi)}], "
                f"{len(err)} seeds; bar < {SOURCE_BAR:g} %)")
        parts[d] = Verdict(HELD if err.max() < SOURCE_BAR else NOT_HELD, text, est, (lo, hi), SOURCE_BAR)
    return combine(parts)


def _bn_clean_harmless(res):
    """Protocol: test-time BN on clean test images moves the error by less than sampling noise: the
    seed-paired 95 % interval of BN - Source lies within ±2 binomial standard errors of a difference
    of two error rates on the n clean images (not held when it lies entirely outside)."""
    parts = {}
    for d in _datasets(res, SINGLE):
        bn = res.seeds(SINGLE, dataset=d, method="bn", setting="clean", metric=METRIC)
        src = res.seeds(SINGLE, dataset=d, method="source", setting="clean", metric=METRIC)
        n = float(res.runs(SINGLE, dataset=d, method="bn", setting="clean", metric=METRIC)["n"].astype(float).iloc[0])
        p = (bn.mean() + src.mean()) / 200
        tol = 100 * 2 * (2 * p * (1 - p) / n) ** 0.5
        est, lo, hi = t_interval(paired_differences(bn, src))
        text = f"clean error BN - Source = {fmt(est)} [{fmt(lo)}, {fmt(hi)}] (95% CI; tolerance ±{fmt(tol)}: 2 SE, n={n:.0f})"
        status = HELD if -tol <= lo and hi <= tol else NOT_HELD if lo > tol or hi < -tol else INCONCLUSIVE
        parts[d] = Verdict(status, text, est, (lo, hi), tol)
    return combine(parts)


CLAIMS = [
    Claim("C1", "CAFe outperforms prior TTA methods on image corruptions (one corruption per stream, mean "
          "error over the 15 corruptions)", "Abstract", _cafe_beats_prior(SINGLE, "mean")),
    Claim("C2", "CAFe outperforms prior TTA methods under multiple types of corruptions (mixed stream)",
          "Abstract", _cafe_beats_prior(MIXED, "mixed")),
    Claim("C3", "Existing TTA methods work well on a single corruption, but their adaptation is limited when "
          "multiple corruption types occur (Tent beats Source on single streams; its gain over Source shrinks "
          "in the mixed stream)", "Abstract", _prior_limited_under_mixing),
    Claim("C4", "Feature grouping by spectral clustering improves CAFe over aligning the full, degenerate "
          "covariance (mixed stream; the ablation is ours)",
          "Abstract; reading note in the briefs (grouping because d exceeds the batch size)", _grouping_helps),
    Claim("S1", "The corrupted single streams raise the source model's error above its clean error",
          "protocol", _corruptions_shift, kind="sanity"),
    Claim("S2", "Test-time BN on clean test images changes the error by less than sampling noise",
          "protocol", _bn_clean_harmless, kind="sanity"),
    Claim("S3", "Every seed's source model reaches at least 90 % clean test accuracy",
          "protocol", _source_accurate, kind="sanity"),
]

HEADLINE = [
    dict(table=SINGLE, metric=METRIC, rows="method", cols="dataset", filters={"setting": "mean"},
         row_order=["source", "bn", "tent", "pl", "shot_im", "tfa", "cafe_nogroup", "cafe_symkl", "cafe"],
         title="Error (%), one corruption per stream, mean over the 15 corruptions at severity 5"),
    dict(table=MIXED, metric=METRIC, rows="method", cols="dataset", filters={"setting": "mixed"},
         row_order=["source", "bn", "tent", "pl", "shot_im", "tfa", "cafe_nogroup", "cafe_symkl", "cafe"],
         title="Error (%), the 15 corruptions shuffled into one stream (the paper's multiple-corruption setting)"),
]

# A quick cell CI reruns and compares with the committed value (common.drift). tol = 2x the largest
# change of any of its 16 rows between 1 and 2 threads (6.7 points on one corruption's 1,000 images within
# the mixed stream; the whole-stream row moved 2.24): a rerun elsewhere retrains the source model, a draw
# of its own.
DRIFT = dict(table=MIXED, cell={"dataset": "fmnist", "method": "cafe", "seed": 0}, tol=13.5)
