"""One run = one method trained on the labelled source domains, scored on the unseen target domains.

    python -m papers.zsda.run --dataset rotated_mnist --method proposed
    make reproduce-zsda [PROFILE=smoke|quick|full]
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch
from scipy.stats import spearmanr

from common.runtime import derive_seed, paper_logger, setup
from papers.zsda.baselines import METHODS
from papers.zsda.config import Config
from papers.zsda.data import load_domains
from papers.zsda.method import domain_vectors

SLUG = "zsda"
log = paper_logger(SLUG)


def order_correlation(z_sources: np.ndarray, z_targets: np.ndarray, var_targets: np.ndarray) -> float:
    """|Spearman| between unseen domains' variable (angle) and their domain vectors projected on the first
    principal direction of the source domains' vectors (the sign of a direction is arbitrary). Computed on
    the unseen target domains and on the probe domains (11 further unseen half-way angles)."""
    centre = z_sources.mean(0)
    _, _, vt = np.linalg.svd(z_sources - centre, full_matrices=False)
    proj = (z_targets - centre) @ vt[0]
    rho = spearmanr(proj, var_targets).statistic
    return float(abs(rho)) if np.isfinite(rho) else 0.0


def distance_correlation(z: np.ndarray, angles: np.ndarray, period: float = 180.0) -> float:
    """Spearman between the pairwise distances of domain vectors and the pairwise angle differences on
    a circle of ``period`` degrees: a set of images rotated by a and by a + 180 degrees has nearly the
    same pixel statistics, so over 0..165 degrees the domain vectors can only follow a loop."""
    i, j = np.triu_indices(len(z), 1)
    dz = np.linalg.norm(z[i] - z[j], axis=1)
    da = np.abs(angles[i] - angles[j]) % period
    da = np.minimum(da, period - da)
    rho = spearmanr(dz, da).statistic
    return float(rho) if np.isfinite(rho) else 0.0


def run(cfg: Config, workdir: Path | None = None) -> list[dict]:
    setup(cfg)
    split = load_domains(cfg, derive_seed(cfg.seed, "images"), derive_seed(cfg.seed, "unseen_domains"))
    torch.manual_seed(derive_seed(cfg.seed, "init"))
    gen = torch.Generator().manual_seed(derive_seed(cfg.seed, "batches"))
    reg = split.task == "regression"
    if reg:  # standardise features and target with the pooled source statistics (no target information)
        xs = np.concatenate([d.x for d in split.sources])
        ys = np.concatenate([d.y for d in split.sources])
        mx, sx, my, sy = xs.mean(0), xs.std(0) + 1e-6, float(ys.mean()), float(ys.std())
    else:
        mx, sx, my, sy = 0.0, 1.0, 0.0, 1.0

    def tx(x):
        return torch.as_tensor((x - mx) / sx, dtype=torch.float32)

    def ty(y):
        return torch.as_tensor((y - my) / sy, dtype=torch.float32) if reg else torch.as_tensor(y)

    sources = [(tx(d.x), ty(d.y)) for d in split.sources]
    targets = [tx(d.x) for d in split.targets_eval]
    oracle = [(tx(d.x), ty(d.y)) for d in split.targets_oracle]
    preds, extras = METHODS[cfg.method](sources, targets, oracle, split.task, split.n_out, cfg, gen)

    per_domain = []
    for p, d in zip(preds, split.targets_eval):
        if reg:
            per_domain.append(float(np.sqrt(np.mean((p.numpy().astype(np.float64) * sy + my - d.y) ** 2))))
        else:
            per_domain.append(float(np.mean(p.argmax(-1).numpy() == d.y) * 100))
    metric = "test_rmse" if reg else "test_acc_pct"
    n_test = int(sum(len(d.y) for d in split.targets_eval))
    names = ",".join(d.name for d in split.targets_eval)
    log.info("%s on %s, unseen %s: %s per domain %s", cfg.method, cfg.dataset, names, metric,
             ", ".join(f"{v:.3f}" for v in per_domain))
    rows = [{"metric": metric, "value": float(np.mean(per_domain)), "n": n_test},
            {"metric": "n_source_domains", "value": len(split.sources)},
            {"metric": "n_source_instances", "value": int(sum(len(d.y) for d in split.sources))}]
    if "model" in extras:
        rows.append({"metric": "final_train_loss", "value": float(np.mean(extras["curve"][-50:]))})
        if not reg:
            z_src = domain_vectors(extras["model"], [x for x, _ in sources]).numpy()
            rho = order_correlation(z_src, extras["z_targets"].numpy(),
                                    np.array([d.variable for d in split.targets_eval]))
            rows.append({"metric": "z_angle_spearman_abs", "value": rho, "n": len(targets)})
            if split.probes:
                z_probe = domain_vectors(extras["model"], [tx(d.x) for d in split.probes]).numpy()
                a_probe = np.array([d.variable for d in split.probes])
                rows.append({"metric": "z_probe_angle_spearman_abs", "n": len(split.probes),
                             "value": order_correlation(z_src, z_probe, a_probe)})
                rows.append({"metric": "z_probe_distance_spearman", "n": len(split.probes),
                             "value": distance_correlation(z_probe, a_probe)})
    return rows


if __name__ == "__main__":
    from common.cli import paper_main

    sys.exit(paper_main(SLUG))
