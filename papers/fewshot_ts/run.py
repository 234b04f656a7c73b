"""One run = one method and one seed: split the datasets by dataset into meta-train / validation /
meta-test (a random partition drawn from the seed, UCR datasets and long series each split on their own), build the method (meta-trained networks come
from the cache ``runs/fewshot_ts/_cache`` when another cell of the seed trained them), and forecast
the query series of fixed test episodes at every support size.

Rows (dataset ``ucr`` / ``long`` / ``all``: the macro average over the seed's meta-test UCR datasets / long
series / both; ``setting``
``n_support=N``): ``next_mse`` / ``next_mae`` (one-step-ahead forecasts of the unobserved part from
the true past), ``multi_mse`` / ``multi_mae`` (recursive ``horizon``-step forecasts from the end of
the observed part), all in units of the normalised series; plus ``train_s`` and, for the
statistical models, ``fallback_pct`` (series whose fit failed and fell back to the naive forecast).

    python -m papers.fewshot_ts.run --method knn --profile smoke
    make reproduce-fewshot-ts [PROFILE=smoke]
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from common.cache import cache_entry
from common.runtime import derive_seed, paper_logger, setup
from papers.fewshot_ts.baselines import METHODS
from papers.fewshot_ts.config import Config
from papers.fewshot_ts.data import LONG_SERIES, Task, load_series, load_tasks, sample_episodes, split_families

SLUG = "fewshot_ts"
log = paper_logger(SLUG)
# every field that determines a meta-trained network (besides the method and the seed)
TRAIN_FIELDS = ("datasets", "n_val", "n_test", "long_series", "n_val_long", "n_test_long", "max_len", "context_frac", "norm", "hidden", "attn_dim", "attn_window", "mlp_hidden",
                "meta_steps", "lr", "train_support_max", "train_query", "eval_every", "val_episodes", "n_query",
                "n_support", "horizon", "maml_inner_steps", "maml_inner_lr")


@dataclass
class Context:
    train_tasks: list[Task]
    val_tasks: list[Task]
    seed: int
    init_seed: int
    trained: Callable[[str, Callable[[], dict]], dict]
    log: object = field(default=None)


def min_series(cfg: Config) -> int:
    """The most series one episode draws from a task (meta-training or meta-test)."""
    return max(cfg.train_support_max + cfg.train_query, max(cfg.n_support) + cfg.n_query)


def split_tasks(cfg: Config):
    families = [(list(cfg.datasets), cfg.n_val, cfg.n_test), (list(cfg.long_series), cfg.n_val_long, cfg.n_test_long)]
    train, val, test = split_families(families, derive_seed(cfg.seed, "dataset_split"))

    def loader(name: str):
        return load_series(name, min_series(cfg), cfg.max_len)

    return [load_tasks(names, cfg.max_len, cfg.context_frac, cfg.norm, loader) for names in (train, val, test)]


def family(name: str) -> str:
    return "long" if name in LONG_SERIES else "ucr"


def make_context(cfg: Config, train_tasks, val_tasks) -> Context:
    def trained(kind: str, fit: Callable[[], dict]) -> dict:
        key = {k: getattr(cfg, k) for k in TRAIN_FIELDS}
        key.update(seed=cfg.seed)
        return cache_entry(SLUG, kind, key).load_or_compute("model.pt", fit, fmt="torch")

    return Context(train_tasks, val_tasks, cfg.seed, derive_seed(cfg.seed, "init"), trained, log)


def errors(pred: np.ndarray, truth: np.ndarray) -> tuple[float, float]:
    d = pred - truth
    return float(np.mean(d ** 2)), float(np.mean(np.abs(d)))


def evaluate(cfg: Config, forecaster, test_tasks: list[Task], episodes) -> dict[str, dict[int, dict[str, float]]]:
    """Per family (``ucr``, ``long``, ``all``) and support size: metric -> macro average over the family's
    meta-test tasks of the mean over their query series."""
    per = {n: {i: [] for i in range(len(test_tasks))} for n in cfg.n_support}
    for ep in episodes:
        t = test_tasks[ep.task]
        q = t.series[ep.query].astype(np.float64)
        h = min(cfg.horizon, q.shape[1] - t.context)
        shared = None
        for n in cfg.n_support:
            if shared is None or forecaster.uses_support:
                shared = forecaster.predict(t.series[ep.support[:n]], t.series[ep.query], t.context, h)
            nxt, multi = shared
            per[n][ep.task].append((*errors(nxt, q[:, t.context:]), *errors(multi, q[:, t.context:t.context + h])))
    names = ("next_mse", "next_mae", "multi_mse", "multi_mae")
    groups = {"all": list(range(len(test_tasks)))}
    for i, t in enumerate(test_tasks):
        groups.setdefault(family(t.name), []).append(i)
    return {g: {n: dict(zip(names, np.mean([np.mean(per[n][i], 0) for i in idx], 0))) for n in cfg.n_support}
            for g, idx in groups.items()}


def run(cfg: Config, workdir: Path | None = None) -> list[dict]:
    setup(cfg)
    train_tasks, val_tasks, test_tasks = split_tasks(cfg)
    episodes = sample_episodes(test_tasks, cfg.n_episodes, max(cfg.n_support), cfg.n_query,
                               derive_seed(cfg.seed, "test_episodes"))
    t0 = time.time()
    forecaster = METHODS[cfg.method](cfg, make_context(cfg, train_tasks, val_tasks))
    t1 = time.time()
    results = evaluate(cfg, forecaster, test_tasks, episodes)
    log.info("%s seed %d: meta-test %s; build %.1fs, evaluation %.1fs", cfg.method, cfg.seed,
             [t.name for t in test_tasks], t1 - t0, time.time() - t1)
    rows = []
    for group, by_size in results.items():
        n_g = sum(cfg.n_query for ep in episodes if group in ("all", family(test_tasks[ep.task].name)))
        for n, metrics in by_size.items():
            log.info("%s n_support=%d: %s", group, n, {k: round(v, 4) for k, v in metrics.items()})
            rows += [{"dataset": group, "setting": f"n_support={n}", "metric": k, "value": float(v), "n": n_g}
                     for k, v in metrics.items()]
    rows.append({"dataset": "all", "setting": "all", "metric": "build_s", "value": t1 - t0})
    rows.append({"dataset": "all", "setting": "all", "metric": "eval_s", "value": time.time() - t1})
    if "series" in forecaster.info and forecaster.info["series"]:
        pct = 100.0 * forecaster.info["fallback_series"] / forecaster.info["series"]
        rows.append({"dataset": "all", "setting": "all", "metric": "fallback_pct", "value": pct,
                     "n": forecaster.info["series"]})
    return rows


if __name__ == "__main__":
    from common.cli import paper_main

    sys.exit(paper_main(SLUG))
