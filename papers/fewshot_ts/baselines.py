"""Every method under one protocol, and the registry ``METHODS`` that ``run.py`` looks up.

A builder ``build(cfg, ctx) -> Forecaster`` gets the run's config and a context with the
meta-training and validation tasks, the run seed and ``ctx.trained(kind, fit)`` (a cache of
meta-trained weights shared by the cells of one seed). ``Forecaster.predict(support, query, t0, H)``
takes normalised float32 arrays, support (N, T) and query (Q, T), and returns
``(next (Q, T - t0), multi (Q, H))``: one-step-ahead forecasts of steps t0..T-1 from the true past
and a recursive H-step forecast from the first t0 steps. Methods with ``uses_support=False`` see
only the query's own past.

Baselines (each as its source describes it; the settings are ours where the paper's are unreadable):
- per_task_lstm: the LSTM of models.py trained from scratch on the target task's support series;
- pooled_lstm / pooled_lstm_ft: one LSTM trained on the series of every meta-training task, used as
  it is / fine-tuned on the support series (Adam, ``ft_steps``);
- maml: MAML (Finn et al. 2017) of the same LSTM, second-order, ``maml_inner_steps`` SGD steps;
- no_attention: the proposed model with the attention replaced by a pooled support summary;
- arima: statsmodels ARIMA per query series on its observed part, order by AIC over ``arima_orders``;
- ets: statsmodels state-space simple exponential smoothing (Brown 1956; level only, fitted by maximum
  likelihood) per series (ours: no trend, no season, which UCR series do not carry);
- naive: the last value; seasonal_naive: the value one season earlier, the season being the lag
  (2..t0/2) of the largest autocorrelation of the observed part (UCR series carry no calendar);
- knn: k-nearest-neighbour pattern matching (analogue forecasting): the ``knn_window`` last values
  are matched (Euclidean) against every window of the support series; the forecast averages what
  followed the k nearest windows.
"""

from __future__ import annotations

import copy
import warnings
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch
from threadpoolctl import threadpool_limits

from common.config import ConfigError
from papers.fewshot_ts import method as M
from papers.fewshot_ts import train as T
from papers.fewshot_ts.models import LSTMForecaster


@dataclass
class Forecaster:
    predict: Callable[[np.ndarray, np.ndarray, int, int], tuple[np.ndarray, np.ndarray]]
    uses_support: bool = True
    info: dict = field(default_factory=dict)
    """Counters reported as result rows (e.g. fallbacks of the statistical models)."""


def _np(x: torch.Tensor) -> np.ndarray:
    return x.detach().numpy().astype(np.float64)


# ---------------------------------------------------------------- neural methods
def _neural(model, adapt=None) -> Forecaster:
    model.eval()

    def predict(support, query, t0, h):
        s, q = T._t(support), T._t(query)
        m = adapt(model, s) if adapt is not None else model
        nxt, multi = M.forecast(m, s, q, t0, h)
        return _np(nxt), _np(multi)

    return Forecaster(predict)


def _torch_predict(model, s, q, t0, h):
    return M.forecast(model, s, q, t0, h)


def proposed(cfg, ctx, attention: bool = True) -> Forecaster:
    def fit():
        torch.manual_seed(ctx.init_seed)
        model = M.AttentionForecaster(cfg.hidden, cfg.attn_dim, cfg.mlp_hidden, attention, window=cfg.attn_window)
        T.meta_train(model, T.attention_loss, _torch_predict, ctx.train_tasks, ctx.val_tasks, cfg, ctx.seed, ctx.log)
        return model.state_dict()

    model = M.AttentionForecaster(cfg.hidden, cfg.attn_dim, cfg.mlp_hidden, attention, window=cfg.attn_window)
    model.load_state_dict(ctx.trained("proposed" if attention else "no_attention", fit))
    return _neural(model)


def no_attention(cfg, ctx) -> Forecaster:
    return proposed(cfg, ctx, attention=False)


def _pooled_model(cfg, ctx) -> LSTMForecaster:
    def fit():
        torch.manual_seed(ctx.init_seed)
        model = LSTMForecaster(cfg.hidden, cfg.mlp_hidden)
        # one batch = train_query series of one training task; the support draw is unused
        T.meta_train(model, lambda m, s, q: T.mse_next(m, q), _torch_predict, ctx.train_tasks, ctx.val_tasks,
                     cfg, ctx.seed, ctx.log)
        return model.state_dict()

    model = LSTMForecaster(cfg.hidden, cfg.mlp_hidden)
    model.load_state_dict(ctx.trained("pooled_lstm", fit))
    return model


def pooled_lstm(cfg, ctx) -> Forecaster:
    f = _neural(_pooled_model(cfg, ctx))
    f.uses_support = False
    return f


def pooled_lstm_ft(cfg, ctx) -> Forecaster:
    base = _pooled_model(cfg, ctx)

    def adapt(model, support):
        tuned = T.train_on_support(copy.deepcopy(model).train(), support, cfg.ft_steps, cfg.ft_lr)
        return tuned.eval()

    return _neural(base, adapt)


def per_task_lstm(cfg, ctx) -> Forecaster:
    gen = torch.Generator().manual_seed(ctx.init_seed)

    def adapt(_, support):
        torch.manual_seed(int(torch.randint(0, 2**31 - 1, (1,), generator=gen)))
        model = LSTMForecaster(cfg.hidden, cfg.mlp_hidden)
        return T.train_on_support(model, support, cfg.per_task_steps, cfg.per_task_lr).eval()

    return _neural(LSTMForecaster(cfg.hidden, cfg.mlp_hidden), adapt)  # adapt ignores it: a fresh model per call


def maml(cfg, ctx) -> Forecaster:
    def adapt(model, support):
        return T.maml_adapted_copy(model, support, cfg.maml_inner_steps, cfg.maml_inner_lr).eval()

    def fit():
        torch.manual_seed(ctx.init_seed)
        model = LSTMForecaster(cfg.hidden, cfg.mlp_hidden)
        loss = lambda m, s, q: T.maml_loss(m, s, q, cfg.maml_inner_steps, cfg.maml_inner_lr)  # noqa: E731
        T.meta_train(model, loss, lambda m, s, q, t0, h: M.forecast(adapt(m, s), s, q, t0, h), ctx.train_tasks,
                     ctx.val_tasks, cfg, ctx.seed, ctx.log)
        return model.state_dict()

    model = LSTMForecaster(cfg.hidden, cfg.mlp_hidden)
    model.load_state_dict(ctx.trained("maml", fit))
    return _neural(model, adapt)


# ---------------------------------------------------------------- per-series statistical methods
def naive(cfg, ctx) -> Forecaster:
    def predict(support, query, t0, h):
        q = query.astype(np.float64)
        return q[:, t0 - 1:-1], np.repeat(q[:, t0 - 1:t0], h, 1)

    return Forecaster(predict, uses_support=False)


def season_length(x: np.ndarray) -> int:
    """Lag in 2..len(x)//2 with the largest sample autocorrelation."""
    x = x - x.mean()
    lags = np.arange(2, max(3, len(x) // 2 + 1))
    denom = float(x @ x) or 1.0
    acf = [float(x[lag:] @ x[:-lag]) / denom for lag in lags]
    return int(lags[int(np.argmax(acf))])


def seasonal_naive(cfg, ctx) -> Forecaster:
    def predict(support, query, t0, h):
        q = query.astype(np.float64)
        nxt, multi = np.empty((len(q), q.shape[1] - t0)), np.empty((len(q), h))
        for i, x in enumerate(q):
            m = season_length(x[:t0])
            nxt[i] = x[t0 - m:len(x) - m]
            multi[i] = x[t0 - m + np.arange(h) % m]
        return nxt, multi

    return Forecaster(predict, uses_support=False)


def _statsmodels(fit_one) -> Forecaster:
    info = {"fallback_series": 0, "series": 0}

    def predict(support, query, t0, h):
        q = query.astype(np.float64)
        nxt, multi = q[:, t0 - 1:-1].copy(), np.repeat(q[:, t0 - 1:t0], h, 1)  # naive, kept where a fit fails
        for i, x in enumerate(q):
            info["series"] += 1
            # one BLAS thread: the fits are tiny, and idle BLAS threads spin on a shared machine
            with warnings.catch_warnings(), threadpool_limits(1):
                warnings.simplefilter("ignore")
                try:
                    res = fit_one(x[:t0])
                    pred = res.apply(x).predict(start=t0, end=len(x) - 1)
                    fc = res.forecast(h)
                except (ValueError, np.linalg.LinAlgError):
                    res = None
            if res is None or not (np.isfinite(pred).all() and np.isfinite(fc).all()):
                info["fallback_series"] += 1  # the naive forecast stays
                continue
            nxt[i], multi[i] = pred, fc
        return nxt, multi

    return Forecaster(predict, uses_support=False, info=info)


def arima(cfg, ctx) -> Forecaster:
    from statsmodels.tsa.arima.model import ARIMA

    def fit_one(x):
        best = None
        for order in cfg.arima_orders:
            if sum(order) >= len(x) - 2:
                continue
            try:
                r = ARIMA(x, order=order).fit()
            except (ValueError, np.linalg.LinAlgError):
                continue
            if np.isfinite(r.aic) and (best is None or r.aic < best.aic):
                best = r
        if best is None:
            raise ValueError("no ARIMA order could be fitted")
        return best

    return _statsmodels(fit_one)


def ets(cfg, ctx) -> Forecaster:
    from statsmodels.tsa.statespace.exponential_smoothing import ExponentialSmoothing

    return _statsmodels(lambda x: ExponentialSmoothing(x).fit(disp=False))


# ---------------------------------------------------------------- pattern matching over the support set
def knn(cfg, ctx) -> Forecaster:
    w, k = cfg.knn_window, cfg.knn_k

    def predict(support, query, t0, h):
        s, q = support.astype(np.float64), query.astype(np.float64)
        T_ = s.shape[1]
        if t0 < w or T_ - h < w:
            raise ConfigError(f"knn_window={w} is longer than the observed part ({t0}) or leaves no window "
                              f"followed by {h} steps (length {T_})")
        win = np.lib.stride_tricks.sliding_window_view(s, w + 1, axis=1).reshape(-1, w + 1)  # window + next
        fut = np.lib.stride_tricks.sliding_window_view(s, w + h, axis=1).reshape(-1, w + h)  # window + h steps
        qwin = np.lib.stride_tricks.sliding_window_view(q[:, :-1], w, axis=1)[:, t0 - w:]     # (Q, T - t0, w)
        d = ((qwin[..., None, :] - win[:, :w]) ** 2).sum(-1)                                   # (Q, T - t0, L)
        kk = min(k, win.shape[0])
        nn_idx = np.argpartition(d, kk - 1, -1)[..., :kk]
        nxt = win[:, w][nn_idx].mean(-1)
        d2 = ((q[:, None, t0 - w:t0] - fut[:, :w]) ** 2).sum(-1)
        k2 = min(k, fut.shape[0])
        idx2 = np.argpartition(d2, k2 - 1, -1)[:, :k2]
        multi = fut[:, w:][idx2].mean(1)
        return nxt, multi

    return Forecaster(predict)


METHODS: dict[str, Callable[..., Forecaster]] = {
    "proposed": proposed,
    "no_attention": no_attention,
    "per_task_lstm": per_task_lstm,
    "pooled_lstm": pooled_lstm,
    "pooled_lstm_ft": pooled_lstm_ft,
    "maml": maml,
    "arima": arima,
    "ets": ets,
    "naive": naive,
    "seasonal_naive": seasonal_naive,
    "knn": knn,
}
