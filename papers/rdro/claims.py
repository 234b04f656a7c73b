"""The paper's claims (abstract; brief section 10; issue 20) as noise-aware checks over our results.

Categorical setting (x_categorical) and the tiny language model (x_sentiment_lm) are ours; the
paper's own evaluation (AlpacaEval 2 LC win rate, BBH with Llama 3 / Qwen 2.5) runs only in full.
"""

from __future__ import annotations

import numpy as np

from common.claims import Claim, combine, compare, decide, not_measured, paired, t_interval

CAT, LM, UFG = "x_categorical", "x_sentiment_lm", "t2_ufg_alignment"
NS = (300, 3000, 30000, 300000)


def _n(n: int) -> dict:
    return {"setting": f"n_samples={n}"}


def _ratio_bounded(res):
    """With enough data RDRO's fitted ratio pi/pi_ref sits at its bound 1/alpha (alpha * ratio <= 1.1 at the
    largest n, every seed), and DDRO's fitted ratio is larger than RDRO's (seed-paired over every n)."""
    runs = res.runs(CAT, metric="final_ratio_times_alpha", method="rdro_class", **_n(NS[-1]))
    worst = float(runs["value"].max())
    return combine({
        "rdro_class bound": compare(worst, "<=", 1.1, f"max over seeds of alpha * final ratio at n={NS[-1]}", "1.1"),
        "ddro vs rdro_class": paired(res, CAT, {"method": "ddro"}, {"method": "rdro_class"}, "final_max_ratio"),
    })


def _lm_stability(res):
    return combine({m: paired(res, LM, {"method": "ddro"}, {"method": "rdro"}, m, margin=0.0)
                    for m in ("peak_logratio", "peak_grad_norm")})


def _consistent(res):
    """RDRO's distance to the true preferred distribution p+ falls at every tenfold increase of n."""
    return combine({f"n {a}->{b}": paired(res, CAT, {**_n(a), "method": "rdro_class"}, {**_n(b), "method": "rdro_class"},
                                          "tv_to_preferred", margin=0.0) for a, b in zip(NS, NS[1:])})


def _faster_than_ddro(res):
    """Estimation error (TV to each method's own n -> infinity limit): RDRO below DDRO at every n."""
    return combine({f"n={n}": paired(res, CAT, {"method": "rdro_class"}, {"method": "ddro"}, "tv_to_limit",
                                     higher=False, **_n(n)) for n in NS})


def _reward_at_matched_kl(res):
    if res.runs(LM, metric="reward_at_kl_match_pct").empty:
        return not_measured("no method reached the matched KL")
    return combine({o: paired(res, LM, {"method": "rdro"}, {"method": o}, "reward_at_kl_match_pct", margin=-1.0)
                    for o in ("kto", "dpo")})


def _one_sided(res, table, method, metric, margin, what):
    v = res.runs(table, method=method, metric=metric)["value"].to_numpy(float)
    if len(v) < 2:
        return not_measured(f"{what}: {len(v)} run(s)")
    return decide(*t_interval(v), margin, what)


def _sensible_reward(res):
    v = res.runs(LM, metric="reward_clf_test_acc_pct")["value"].to_numpy(float)
    return compare(float(np.min(v)), ">=", 75.0, "min sentiment-classifier test accuracy (%)", "75")


CLAIMS = [
    Claim("C1", "The relative density ratio is bounded above by 1/alpha; DDRO's density ratio is not, and the "
                "fitted DDRO ratio is larger (categorical setting)", "abstract; brief §10", _ratio_bounded),
    Claim("C2", "RDRO trains stably where DDRO does not: smaller peak log ratio and gradient norm when aligning "
                "the language model", "abstract ('DDRO ... often diverges, leading to training instability')",
          _lm_stability),
    Claim("C3", "RDRO is statistically consistent: the policy converges to the true preferred distribution as "
                "the number of samples grows", "abstract", _consistent),
    Claim("C4", "RDRO has tighter convergence than DDRO: smaller estimation error at every sample size",
          "abstract ('significantly tighter convergence guarantees than DDRO')", _faster_than_ddro),
    Claim("C5", "RDRO's reward is at least that of KTO and DPO at a matched KL to the reference (within 1 pp)",
          "issue 20 bar; paper: RDRO comparable or better than KTO/DDRO on AlpacaEval", _reward_at_matched_kl),
    Claim("C6", "Effective with Qwen 2.5 and Llama 3 (AlpacaEval 2 LC win rate)", "abstract",
          lambda res: not_measured("needs the full profile on GPU with the user's weights and an LLM judge")),
    Claim("S1", "The reward model is a real sentiment signal (test accuracy >= 75%)", "protocol", _sensible_reward,
          kind="sanity"),
    Claim("S2", "Aligning with RDRO raises the reward over the reference policy", "protocol",
          lambda res: _one_sided(res, LM, "rdro", "reward_gain_pct", 0.0, "rdro reward gain (pp)"), kind="sanity"),
]

HEADLINE = [
    dict(table=CAT, metric="tv_to_preferred", rows="method", cols="setting",
         title="Categorical setting: TV distance to the true preferred distribution p+ vs n"),
    dict(table=CAT, metric="final_max_ratio", rows="method", cols="setting",
         title="Categorical setting: fitted density ratio max_y pi/pi_ref (RDRO's population bound: 1/alpha ~ 1.8-2)"),
    dict(table=LM, metric="reward_pct", rows="method", cols="dataset", title="Tiny Llama: final reward (%)"),
    dict(table=LM, metric="kl", rows="method", cols="dataset", title="Tiny Llama: final KL(pi || pi_ref) (nats)"),
    dict(table=LM, metric="reward_at_kl_match_pct", rows="method", cols="dataset",
         title="Tiny Llama: reward (%) at KL = 1 nat along the checkpoint path"),
    dict(table=LM, metric="peak_logratio", rows="method", cols="dataset",
         title="Tiny Llama: peak sequence log ratio in training batches"),
]

DRIFT = dict(table=CAT, cell={"method": "rdro_class", "n_samples": 3000, "seed": 0}, tol=1e-6)
