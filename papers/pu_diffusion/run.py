"""One PU-diffusion run: build the PU split, train a DDPM with the method's risk, sample, judge, FID.

Reads top to bottom: data -> judge/feature CNN (trained once on the real labelled training split,
cached) -> DDPM training (``train.py``) -> sampling -> metrics: non-sensitive rate (% of generated
images the judge assigns to a normal class) and FID against real normal test images in the judge's
feature space (or Inception-v3, given weights).

    python -m papers.pu_diffusion.run --profile smoke --method pu
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import torch

from common.cache import save_atomic
from common.config import ConfigError
from common.runtime import derive_seed, paper_logger, setup

from .config import Config
from .data import load_images, make_pu_split, normal_test_indices, to_model_space
from .method import fid_from_features
from .train import generate, get_judge, inception_features, judge_features, judge_metrics, predict, train_diffusion

SLUG = "pu_diffusion"
log = paper_logger(SLUG)


def run(cfg: Config, workdir: Path | None = None) -> list[dict]:
    cfg.validate()
    device = setup(cfg)
    t0 = time.time()
    xtr_raw, ytr, name = load_images(cfg.dataset, "train")
    xte_raw, yte, _ = load_images(cfg.dataset, "test")
    try:   # validate() checks the official class counts; this catches other copies (subsets, test data)
        split = make_pu_split(ytr, cfg.normal_classes, cfg.n_unlabeled_normal, cfg.n_unlabeled_sensitive,
                              cfg.n_labeled_sensitive, derive_seed(cfg.seed, "pu_split"))
        test_idx = normal_test_indices(yte, cfg.normal_classes, cfg.n_test)
    except ValueError as exc:
        raise ConfigError(f"{name}: {exc}") from None
    paper_size = {"mnist": 32, "cifar10": 32, "stl10": 96}.get(name)
    dataset = name if cfg.image_size == paper_size else f"{name}_{cfg.image_size}px"

    # Judge / feature CNN on real labelled data (all training images; the PU split is not used).
    judge_x = to_model_space(xtr_raw, cfg.image_size, cfg.in_channels)
    xte = to_model_space(xte_raw, cfg.image_size, cfg.in_channels)
    judge = get_judge(cfg, judge_x, ytr, name, device)
    jm = judge_metrics(judge, xte, yte, cfg.normal_classes, device)
    x_train, y_train = judge_x[torch.as_tensor(split.index)], torch.as_tensor(split.label)
    del judge_x
    t_data = time.time() - t0

    t1 = time.time()
    model, scheduler, history, neg_pct = train_diffusion(cfg, x_train, y_train, device, workdir)
    t_train = time.time() - t1
    t2 = time.time()
    gen = generate(cfg, model, scheduler, device)
    t_sample = time.time() - t2
    if not torch.isfinite(gen).all():
        raise FloatingPointError("generated samples contain non-finite values")

    normal = np.asarray(cfg.normal_classes)
    nonsensitive = 100 * float(np.mean(np.isin(predict(judge, gen, device), normal)))
    ref = xte[torch.as_tensor(test_idx)]
    if cfg.fid_features == "judge":
        feats = lambda x: judge_features(judge, x, device)  # noqa: E731
    else:
        feats = lambda x: inception_features(cfg.inception_weights, x, device)  # noqa: E731
    ref_feats = feats(ref)
    fid = fid_from_features(feats(gen), ref_feats)
    fid_name = "fid_judgefeat" if cfg.fid_features == "judge" else "fid_inception"

    if workdir is not None and cfg.n_grid:
        k = min(cfg.n_grid, len(gen))
        np.save(workdir / "samples_grid.npy", ((gen[:k] + 1) * 127.5).round().clamp(0, 255).byte().numpy())
        save_atomic(workdir / "train_loss.json", history, "json")

    n_test = len(yte)
    rows = [
        {"metric": "nonsensitive_rate_pct", "value": nonsensitive, "n": len(gen)},
        {"metric": fid_name, "value": fid, "n": len(gen)},
        {"metric": "final_train_loss", "value": history[-1] if history else float("nan")},
        {"metric": "pu_negative_risk_below0_steps_pct", "value": neg_pct},
        {"metric": "judge_test_acc_pct", "value": jm["judge_test_acc_pct"], "n": n_test},
        {"metric": "judge_normal_vs_sensitive_acc_pct", "value": jm["judge_normal_vs_sensitive_acc_pct"], "n": n_test},
        {"metric": "judge_chance_pct", "value": jm["judge_chance_pct"], "n": n_test},
        {"metric": "train_time_s", "value": t_train},
        {"metric": "sample_time_s", "value": t_sample},
        {"metric": "data_and_judge_time_s", "value": t_data},
    ]
    if cfg.method == "unsupervised":
        # Reference rows (once per seed): the real unlabelled training set judged like the samples, and
        # its FID to the test reference -- what a perfect density model of U would score.
        xu = x_train[y_train == 0]
        ku = torch.randperm(len(xu), generator=torch.Generator().manual_seed(derive_seed(cfg.seed, "reference")))[:len(gen)]
        rows.append({"method": "real_unlabeled_data", "metric": "nonsensitive_rate_pct",
                     "value": 100 * float(np.mean(np.isin(predict(judge, xu[ku], device), normal))), "n": len(ku)})
        if cfg.fid_features == "judge":
            rows.append({"method": "real_unlabeled_data", "metric": fid_name,
                         "value": fid_from_features(feats(xu[ku]), ref_feats), "n": len(ku)})
    return [{"dataset": dataset, **r} for r in rows]


if __name__ == "__main__":
    from common.cli import paper_main

    sys.exit(paper_main(SLUG))
