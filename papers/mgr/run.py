"""One run = one method trained on one stratified training fraction of one dataset and seed; the metric is the
top-1 accuracy on the official test split.

    python -m papers.mgr.run --profile quick --method mgr --train-frac 0.01
    make reproduce-mgr [PROFILE=smoke|full]
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import torch

from common.cache import cache_entry
from common.runtime import derive_seed, paper_logger, setup
from papers.mgr.baselines import METHODS
from papers.mgr.config import Config
from papers.mgr.data import Split, make_split
from papers.mgr.method import sample_synthetic
from papers.mgr.models import ConditionalVAE, build_classifier, load_generator_weights
from papers.mgr.train import accuracy, train_classifier, train_cvae

SLUG = "mgr"
log = paper_logger(SLUG)


def get_generator(cfg: Config, split: Split, x: torch.Tensor, y: torch.Tensor, seed: int) -> ConditionalVAE:
    """The class-conditional generator of this dataset, fraction and seed: user weights when given, else trained
    in-run on the kept training images (not the validation split) and cached, shared by every method's cell."""
    vae = ConditionalVAE(tuple(x.shape[1:]), split.num_classes, cfg.gen_latent, cfg.gen_hidden)
    if cfg.generator_weights:
        return load_generator_weights(vae, cfg.generator_weights).to(x.device).eval()
    key = {"dataset": cfg.dataset, "name": split.name, "train_frac": cfg.train_frac, "val_frac": cfg.val_frac,
           "n_train": len(y), "image_size": cfg.image_size, "latent": cfg.gen_latent, "hidden": cfg.gen_hidden,
           "steps": cfg.gen_steps, "seed": seed, "version": 1}
    state = cache_entry(SLUG, "generator", key).load_or_compute(
        "generator.pt", lambda: train_cvae(x, y, split.num_classes, cfg.gen_latent, cfg.gen_hidden, cfg.gen_steps,
                                           seed).cpu().state_dict(), fmt="torch")
    vae.load_state_dict(state)
    return vae.to(x.device).eval()


@torch.no_grad()
def synthetic_accuracy(model, generator, finder=None, n: int = 2000) -> float:
    """Accuracy of ``model`` on synthetic images against their conditioning labels (prior or finder latents)."""
    dev = next(model.parameters()).device
    x, y = sample_synthetic(generator, n, generator.num_classes, dev, finder)
    return accuracy(model, x, y)


def run(cfg: Config, workdir: Path | None = None) -> list[dict]:
    dev = setup(cfg)
    t0 = time.perf_counter()
    split = make_split(cfg.dataset, cfg.train_frac, cfg.val_frac, derive_seed(cfg.seed, "subsample"), cfg.image_size)

    def t(a, dtype=torch.float32):
        return torch.as_tensor(a, dtype=dtype, device=dev)
    x, y, xv, yv = t(split.x_train), t(split.y_train, torch.int64), t(split.x_val), t(split.y_val, torch.int64)
    generator = get_generator(cfg, split, x, y, derive_seed(cfg.seed, "generator"))
    t_gen = time.perf_counter() - t0
    torch.manual_seed(derive_seed(cfg.seed, "classifier_init"))
    model = build_classifier(cfg.arch, x.shape[1], split.num_classes, x.shape[-1], cfg.width).to(dev)
    spec = METHODS[cfg.method]
    stats = train_classifier(model, spec, x, y, xv, yv, generator, cfg, derive_seed(cfg.seed, "training"), log)
    torch.manual_seed(derive_seed(cfg.seed, "evaluation"))
    test_acc = accuracy(model, t(split.x_test), t(split.y_test, torch.int64))
    rows = [{"metric": "test_acc_pct", "value": test_acc, "n": len(split.y_test)},
            {"metric": "val_acc_pct", "value": accuracy(model, xv, yv), "n": len(yv)},
            {"metric": "synthetic_acc_pct", "value": synthetic_accuracy(model, generator)},
            {"metric": "n_train", "value": len(y)}, {"metric": "n_val", "value": len(yv)}]
    if stats["finder"] is not None:
        rows.append({"metric": "finder_synthetic_acc_pct", "value": synthetic_accuracy(model, generator, stats["finder"])})
        rows.append({"metric": "meta_val_loss", "value": stats["meta_val_loss"]})
    t_all = time.perf_counter() - t0
    rows += [{"metric": "time_s", "value": t_all}, {"metric": "generator_s", "value": t_gen}]
    log.info("%s on %s (train_frac %g: %d train / %d val): test accuracy %.2f%% (generator %.1fs, total %.1fs)",
             cfg.method, split.name, cfg.train_frac, len(y), len(yv), test_acc, t_gen, t_all)
    return rows


if __name__ == "__main__":
    from common.cli import paper_main

    sys.exit(paper_main(SLUG))
