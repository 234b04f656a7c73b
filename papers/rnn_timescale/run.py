"""One run = one RNN (method) trained on one task at one sequence length with one seed.

Rows (setting ``seq_len=N`` for the synthetic tasks): ``test_mse`` (adding) or ``test_acc_pct`` (copy,
sfmnist, ucr) at the end of training; ``curve_<metric>_sNNNNNN`` along training; the gradient condition
at stage init / early / late: ``grad_r2_<stage>`` (R^2 of the log-linear fit of ||dL/ds_{T-k}|| over k),
``grad_slope_<stage>`` (its slope per step), ``logf_mean_<stage>`` (mean log forget gate),
``gradprof_<stage>_kNNNN`` (the profile, relative to k = 0); and ``train_s``.

    python -m papers.rnn_timescale.run --task adding --seq-len 100 --method ts_lstm --profile quick
    make reproduce-rnn-timescale [PROFILE=smoke|quick|full]
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch
from torch import nn

from common.runtime import derive_seed, paper_logger, setup
from papers.rnn_timescale.baselines import METHODS, _seeded
from papers.rnn_timescale.config import Config
from papers.rnn_timescale.data import make_task
from papers.rnn_timescale.train import train

SLUG = "rnn_timescale"
log = paper_logger(SLUG)


def run(cfg: Config, workdir: Path | None = None) -> list[dict]:
    setup(cfg)
    task = make_task(cfg, np.random.default_rng(derive_seed(cfg.seed, "data")))
    gen = torch.Generator().manual_seed(derive_seed(cfg.seed, "model"))
    steps = task.x_train.shape[1]
    rnn = METHODS[cfg.method](cfg, task.x_train.shape[-1], steps, gen)
    head = _seeded(lambda: nn.Linear(cfg.hidden, task.n_out), gen)
    log.info("%s on %s: %d steps per sequence, %d train / %d test", cfg.method, cfg.task, steps,
             len(task.y_train), len(task.y_test))
    batches = torch.Generator().manual_seed(derive_seed(cfg.seed, "batches"))
    rows = train(cfg, task, rnn, head, batches)
    for r in rows:
        r.setdefault("dataset", cfg.ucr_name if cfg.task == "ucr" else cfg.task)
    return rows


if __name__ == "__main__":
    from common.cli import paper_main

    sys.exit(paper_main(SLUG))
