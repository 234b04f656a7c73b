"""lmc_width: one cell = one pair of independently trained models of one width (cached, shared by
the methods), model b treated by one method (``baselines.METHODS``: naive / wm / random_perm), then

- the loss and accuracy along the linear path ``(1 - t) theta_a + t theta_b`` and their barriers,
  raw and with the softmax inverse temperature fitted on held-out data at every point;
- the merged model (t = 1/2) against the ensemble of the two models;
- for MLPs, LEWC's relative error per layer and its two sufficient conditions;
- the REPAIR control (metrics ``*_repair*``): the same barriers when every path point gets REPAIR's
  renormalisation, computed on ``repair_n`` training images: for MLPs the per-unit affine correction
  (``method.repair_mlp``), for BatchNorm CNNs (``norm: batch``) the BN statistics reset
  (``common.lmc.batchnorm.reset_bn_stats``); LayerNorm CNNs have neither (skipped).

    python -m papers.lmc_width.run --profile smoke --method naive
    make reproduce-lmc-width [PROFILE=smoke]
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch

from common.lmc.batchnorm import has_bn, matching_spec, reset_bn_stats
from common.lmc.interpolation import lerp
from common.lmc.permutation import apply_permutation
from common.runtime import derive_seed, paper_logger, setup
from papers.lmc_width import method as M
from papers.lmc_width.baselines import METHODS
from papers.lmc_width.config import Config
from papers.lmc_width.data import load_split
from papers.lmc_width.models import mlp_layers, mlp_width, permutation_spec
from papers.lmc_width.train import logits, make_model, trained_params

SLUG = "lmc_width"
log = paper_logger(SLUG)


def _lewc_rows(cfg: Config, pa, pb, x: torch.Tensor) -> list[dict]:
    """LEWC's relative error per layer and its sufficient conditions, at ``lam = cfg.lewc_lam``."""
    n_layers, lam = cfg.n_hidden + 1, cfg.lewc_lam
    with torch.no_grad():
        pre_a, out_a = mlp_layers(pa, x, n_layers)
        pre_b, out_b = mlp_layers(pb, x, n_layers)
        _, out_m = mlp_layers(M.merge(pa, pb, lam), x, n_layers)
    errs = M.lewc_relative_errors(out_m, out_a, out_b, lam)
    add = M.additivity_errors(pre_a[:-1], pre_b[:-1], lam)
    cross = M.cross_term_ratios([pa[f"fc.{i}.weight"] for i in range(n_layers)],
                                [pb[f"fc.{i}.weight"] for i in range(n_layers)], out_a, out_b)
    n = len(x)
    rows = [{"metric": f"lewc_relerr_l{i + 1}", "value": e, "n": n} for i, e in enumerate(errs)]
    rows += [{"metric": f"additivity_err_l{i + 1}", "value": e, "n": n} for i, e in enumerate(add)]
    rows += [{"metric": f"cross_ratio_l{i + 2}", "value": c, "n": n} for i, c in enumerate(cross)]
    rows += [{"metric": "lewc_relerr_mean", "value": M.mean_finite(errs), "n": n},
             {"metric": "additivity_err_mean", "value": M.mean_finite(add), "n": n},
             {"metric": "cross_ratio_mean", "value": M.mean_finite(cross), "n": n}]
    return rows


def _repair_rows(cfg: Config, model, pa, pb, ts, xtr, xv, yv, xte, yte) -> list[dict]:
    """Barriers and merged accuracy along the path with REPAIR at every point: the per-unit affine
    correction of an MLP's hidden units, or the BN statistics reset of a BatchNorm CNN."""
    gen = torch.Generator().manual_seed(derive_seed(cfg.seed, "repair_subset"))
    idx = torch.randperm(len(xtr), generator=gen)[:min(cfg.repair_n, len(xtr))].to(xtr.device)
    xs = xtr[idx]

    if cfg.arch == "mlp":
        n_layers = cfg.n_hidden + 1

        def logits_at(t):
            p = M.repair_mlp(pa, pb, t, xs, n_layers)
            return (M.mlp_logits(p, xv, n_layers, cfg.eval_batch), M.mlp_logits(p, xte, n_layers, cfg.eval_batch))
    else:
        def logits_at(t):
            p = reset_bn_stats(model, lerp(t, pa, pb), xs, cfg.eval_batch)
            return logits(model, p, xv, cfg.eval_batch), logits(model, p, xte, cfg.eval_batch)

    res = M.path_barriers(logits_at, ts, yv, yte)
    curve, mid, n = res["curve"], ts.index(0.5), len(yte)
    rows = [{"metric": f"barrier_{k}_repair_test", "value": res[k], "n": n}
            for k in ("mid_loss", "mid_loss_cal", "mid_acc_pct", "max_loss", "max_loss_cal", "max_acc_pct")]
    rows += [{"metric": "merged_acc_pct_repair_test", "value": curve["acc_pct"][mid], "n": n},
             {"metric": "merged_beta_repair", "value": curve["beta"][mid], "n": len(yv)}]
    return rows


def run(cfg: Config, workdir: Path | None = None) -> list[dict]:
    device = setup(cfg)
    split = load_split(cfg.dataset, cfg.n_val, derive_seed(cfg.seed, "val_split"))
    xtr, ytr = split.x_train.to(device), split.y_train.to(device)
    xv, yv, xte, yte = (t.to(device) for t in (split.x_val, split.y_val, split.x_test, split.y_test))
    pa = trained_params(cfg, "a", xtr, ytr, device)
    pb = trained_params(cfg, "b", xtr, ytr, device)
    model = make_model(cfg, xtr.shape[1:]).to(device)
    spec = permutation_spec(model, pa)    # BN models: running statistics move with their channels,
    # but weight matching compares weights only
    perm = METHODS[cfg.method](matching_spec(model, spec), pa, pb, derive_seed(cfg.seed, f"search/{cfg.method}"), cfg)
    pb = apply_permutation(spec, perm, pb)

    ts = np.linspace(0.0, 1.0, cfg.n_lambdas).round(6).tolist()
    res = M.path_barriers(lambda t: (logits(model, lerp(t, pa, pb), xv, cfg.eval_batch),
                                     logits(model, lerp(t, pa, pb), xte, cfg.eval_batch)), ts, yv, yte)
    curve, mid, n = res["curve"], ts.index(0.5), len(yte)
    ens = logits(model, pa, xte, cfg.eval_batch) + logits(model, pb, xte, cfg.eval_batch)
    merged = logits(model, lerp(0.5, pa, pb), xte, cfg.eval_batch)
    rows = [{"metric": f"barrier_{k}_test", "value": res[k], "n": n}
            for k in ("mid_loss", "mid_loss_cal", "mid_acc_pct", "max_loss", "max_loss_cal", "max_acc_pct")]
    rows += [
        {"metric": "endpoint_acc_pct_test", "value": 0.5 * (curve["acc_pct"][0] + curve["acc_pct"][-1]), "n": n},
        {"metric": "endpoint_loss_test", "value": 0.5 * (curve["loss"][0] + curve["loss"][-1]), "n": n},
        {"metric": "merged_acc_pct_test", "value": curve["acc_pct"][mid], "n": n},
        {"metric": "merged_beta", "value": curve["beta"][mid], "n": len(yv)},
        {"metric": "ensemble_acc_pct_test", "value": 100.0 * float((ens.argmax(1) == yte).double().mean()), "n": n},
        {"metric": "merged_agrees_ensemble_pct", "value": 100.0 * float((merged.argmax(1) == ens.argmax(1))
                                                                       .double().mean()), "n": n},
        {"metric": "hidden_width", "value": mlp_width(cfg.width, cfg.width_mult) if cfg.arch == "mlp"
         else cfg.width_mult},
    ]
    for i, t in enumerate(ts):
        rows += [{"metric": f"path_{k}_t{t:g}", "value": curve[k][i], "n": n} for k in ("loss", "loss_cal", "acc_pct")]
    if cfg.arch == "mlp":
        rows += _lewc_rows(cfg, pa, pb, xte)
    else:  # LEWC's exponents assume a chain of homogeneous layers; the CNNs have normalisation layers
        log.info("LEWC is measured for MLPs only; %s skipped", cfg.arch)
    if cfg.arch == "mlp" or has_bn(model):
        rows += _repair_rows(cfg, model, pa, pb, ts, xtr, xv, yv, xte, yte)
    else:
        log.info("REPAIR is measured for MLPs and BatchNorm CNNs; %s with LayerNorm skipped", cfg.arch)
    log.info("%s x%g %s: mid loss barrier %.3f (calibrated %.3f), merged acc %.1f%%", cfg.dataset, cfg.width_mult,
             cfg.method, res["mid_loss"], res["mid_loss_cal"], curve["acc_pct"][mid])
    return rows


if __name__ == "__main__":
    from common.cli import paper_main

    sys.exit(paper_main(SLUG))
