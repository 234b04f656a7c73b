"""One PU-diffusion run: build the PU split, train a DDPM with the method's risk, sample, judge, FID.

Reads top to bottom: data -> judge/feature CNN (trained once on the real labelled training split,
cached under runs/pu_diffusion/_cache/) -> DDPM training (AdamW, cosine schedule with warm-up, grad-norm
clipping, as the official trainer; a checkpoint per epoch in the run folder so a run resumes) ->
sampling -> metrics: non-sensitive rate (% of generated images the judge assigns to a normal class) and
FID against real normal test images in the judge's feature space (or Inception-v3, given weights).
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from common.results import runs_root
from common.runtime import setup

from .config import Config
from .data import load_images, make_pu_split, normal_test_indices, to_model_space
from .method import NoiseSchedule, fid_from_features, per_example_loss, pu_risk_terms, risk, sample
from .models import JudgeCNN, UNet

SLUG = "pu_diffusion"
log = logging.getLogger(f"repro.{SLUG}")


def cosine_with_warmup(step: int, warmup: int, total: int) -> float:
    """LR factor of diffusers' get_cosine_schedule_with_warmup (num_cycles = 0.5)."""
    if step < warmup:
        return step / max(1, warmup)
    progress = (step - warmup) / max(1, total - warmup)
    return max(0.0, 0.5 * (1.0 + math.cos(math.pi * progress)))


# --------------------------------------------------------------------------------------
# Judge / feature network (cached: every cell of a dataset/resolution reuses it).


def _judge_key(cfg: Config, data_name: str) -> str:
    spec = {"data": data_name, "size": cfg.image_size, "ch": cfg.in_channels, "epochs": cfg.judge_epochs,
            "n": cfg.judge_train_size, "v": 2}
    return hashlib.sha1(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:12]


def get_judge(cfg: Config, xtr, ytr, xte, yte, data_name: str, device) -> tuple[JudgeCNN, dict]:
    """10-class CNN on the real labelled training split; returns it and its test accuracies (%)."""
    cache = runs_root() / SLUG / "_cache"
    key = _judge_key(cfg, data_name)
    wpath, mpath = cache / f"judge_{key}.pt", cache / f"judge_{key}.json"
    net = JudgeCNN(cfg.in_channels).to(device)
    if wpath.is_file() and mpath.is_file():
        net.load_state_dict(torch.load(wpath, map_location=device, weights_only=True))
        net.eval()
        return net, json.loads(mpath.read_text())
    g = torch.Generator().manual_seed(12345)      # the judge does not depend on the run's seed
    n = len(xtr) if cfg.judge_train_size == 0 else min(cfg.judge_train_size, len(xtr))
    idx = torch.randperm(len(xtr), generator=g)[:n]
    x, y = xtr[idx], torch.as_tensor(ytr)[idx]
    torch.manual_seed(12345)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    steps = cfg.judge_epochs * math.ceil(n / 128)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=3e-3, total_steps=steps)
    net.train()
    for _ in range(cfg.judge_epochs):
        perm = torch.randperm(n, generator=g)
        for i in range(0, n, 128):
            b = perm[i:i + 128]
            xb = x[b].to(device)
            xb = torch.where(torch.rand(len(b), 1, 1, 1, generator=g).to(device) < 0.5, xb, xb.flip(-1)) \
                if cfg.in_channels == 3 else xb
            loss = F.cross_entropy(net(xb), y[b].to(device))
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
    net.eval()
    pred = predict(net, xte, device)
    yte = np.asarray(yte)
    normal = np.asarray(cfg.normal_classes)
    metrics = {"judge_test_acc_pct": float(100 * np.mean(pred == yte)),
               "judge_normal_vs_sensitive_acc_pct": float(100 * np.mean(np.isin(pred, normal) == np.isin(yte, normal))),
               "judge_n_test": int(len(yte)), "judge_n_train": int(n)}
    cache.mkdir(parents=True, exist_ok=True)
    tmp = wpath.with_suffix(".tmp")
    torch.save(net.state_dict(), tmp)
    tmp.replace(wpath)
    mpath.write_text(json.dumps(metrics))
    return net, metrics


@torch.no_grad()
def predict(net, x, device, bs: int = 512) -> np.ndarray:
    return torch.cat([net(x[i:i + bs].to(device)).argmax(1).cpu() for i in range(0, len(x), bs)]).numpy()


@torch.no_grad()
def judge_features(net, x, device, bs: int = 512) -> np.ndarray:
    return torch.cat([net.features(x[i:i + bs].to(device)).cpu() for i in range(0, len(x), bs)]).double().numpy()


@torch.no_grad()
def inception_features(weights: str, x, device, bs: int = 64) -> np.ndarray:
    """Standard-FID path: torchvision Inception-v3 pool (2048-d) features; weights from a local file."""
    from torchvision.models import inception_v3

    path = Path(weights)
    if not path.is_file():
        raise FileNotFoundError(f"inception_weights {weights!r} not found")
    net = inception_v3(weights=None, aux_logits=True, init_weights=False)
    net.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    net.fc = torch.nn.Identity()
    net = net.eval().to(device)
    mean = torch.tensor([0.485, 0.456, 0.406], device=device).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225], device=device).view(1, 3, 1, 1)
    out = []
    for i in range(0, len(x), bs):
        b = (x[i:i + bs].to(device) + 1) / 2
        b = b.expand(-1, 3, -1, -1) if b.shape[1] == 1 else b
        b = F.interpolate(b, size=(299, 299), mode="bilinear", align_corners=False)
        out.append(net((b - mean) / std).cpu())
    return torch.cat(out).double().numpy()


# --------------------------------------------------------------------------------------
# Diffusion training and sampling.


def build_unet(cfg: Config) -> UNet:
    return UNet(cfg.in_channels, cfg.block_out_channels, cfg.layers_per_block, cfg.attn_levels, cfg.norm_groups)


def train_diffusion(cfg: Config, x: torch.Tensor, y: torch.Tensor, device,
                    workdir: Path | None) -> tuple[UNet, list, float]:
    """Train eps_theta with the method's risk; returns the model, per-epoch mean losses, and the % of
    steps on which the PU negative-class risk E_U[l] - beta E_P[l] of the batch was below zero (where
    the absolute-value and non-negative PU forms differ)."""
    model = build_unet(cfg).to(device)
    schedule = NoiseSchedule.linear(cfg.num_train_timesteps)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.learning_rate)
    steps_per_epoch = math.ceil(len(x) / cfg.batch_size)
    total = steps_per_epoch * cfg.num_epochs
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: cosine_with_warmup(s, cfg.num_warmup_steps, total))
    gen = torch.Generator().manual_seed(cfg.seed)
    start, history, n_neg, n_steps = 0, [], 0, 0
    ckpt = workdir / "checkpoint.pt" if workdir else None
    if ckpt and ckpt.is_file():
        state = torch.load(ckpt, map_location=device, weights_only=True)
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["opt"])
        sched.load_state_dict(state["sched"])
        gen.set_state(state["gen"])
        torch.set_rng_state(state["torch_rng"])
        start, history = int(state["epoch"]), [float(v) for v in state["history"]]
        n_neg, n_steps = int(state["n_neg"]), int(state["n_steps"])
        log.info("resumed from epoch %d", start)
    model.train()
    for epoch in range(start, cfg.num_epochs):
        perm = torch.randperm(len(x), generator=gen)
        total_loss = 0.0
        for i in range(0, len(x), cfg.batch_size):
            b = perm[i:i + cfg.batch_size]
            ell = per_example_loss(model, schedule, x[b].to(device))
            loss = risk(cfg.method, ell, y[b].to(device), cfg.beta)
            with torch.no_grad():
                n_neg += int(pu_risk_terms(ell, y[b].to(device).float(), cfg.beta)[1] < 0)
                n_steps += 1
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
            opt.step()
            sched.step()
            total_loss += loss.item() / steps_per_epoch
        history.append(total_loss)
        log.info("epoch %d loss %.4f", epoch, total_loss)
        if ckpt:
            tmp = ckpt.with_suffix(".tmp")
            torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "sched": sched.state_dict(),
                        "gen": gen.get_state(), "torch_rng": torch.get_rng_state(), "epoch": epoch + 1,
                        "history": history, "n_neg": n_neg, "n_steps": n_steps}, tmp)
            tmp.replace(ckpt)
    model.eval()
    return model, history, 100.0 * n_neg / max(1, n_steps)


def generate(cfg: Config, model, device, bs: int = 200) -> torch.Tensor:
    schedule = NoiseSchedule.linear(cfg.num_train_timesteps)
    g = torch.Generator(device=device).manual_seed(10_000 + cfg.seed)
    out = []
    for i in range(0, cfg.n_generate, bs):
        n = min(bs, cfg.n_generate - i)
        out.append(sample(model, schedule, (n, cfg.in_channels, cfg.image_size, cfg.image_size), cfg.sampler,
                          cfg.num_inference_steps, g, device).clamp(-1, 1).cpu())
    return torch.cat(out)


# --------------------------------------------------------------------------------------
# The run.


def run(cfg: Config, workdir: Path | None = None) -> list[dict]:
    cfg.validate()
    device = setup(cfg)
    t0 = time.time()
    xtr_raw, ytr, name = load_images(cfg.dataset, "train")
    xte_raw, yte, _ = load_images(cfg.dataset, "test")
    split = make_pu_split(ytr, cfg.normal_classes, cfg.n_unlabeled_normal, cfg.n_unlabeled_sensitive,
                          cfg.n_labeled_sensitive, cfg.seed)
    test_idx = normal_test_indices(yte, cfg.normal_classes, cfg.n_test)
    paper_size = {"mnist": 32, "cifar10": 32, "stl10": 96}.get(name)
    dataset = name if cfg.image_size == paper_size else f"{name}_{cfg.image_size}px"

    # Judge / feature CNN on real labelled data (all training images; the PU split is not used).
    judge_x = to_model_space(xtr_raw, cfg.image_size, cfg.in_channels)
    xte = to_model_space(xte_raw, cfg.image_size, cfg.in_channels)
    judge, jm = get_judge(cfg, judge_x, ytr, xte, yte, name, device)
    x_train = judge_x[torch.as_tensor(split.index)]
    y_train = torch.as_tensor(split.label)
    del judge_x
    t_data = time.time() - t0

    t1 = time.time()
    model, history, neg_pct = train_diffusion(cfg, x_train, y_train, device, workdir)
    t_train = time.time() - t1
    t2 = time.time()
    gen = generate(cfg, model, device)
    t_sample = time.time() - t2
    if not torch.isfinite(gen).all():
        raise FloatingPointError("generated samples contain non-finite values")

    pred = predict(judge, gen, device)
    nonsensitive = 100 * float(np.mean(np.isin(pred, np.asarray(cfg.normal_classes))))
    ref = xte[torch.as_tensor(test_idx)]
    if cfg.fid_features == "judge":
        fid = fid_from_features(judge_features(judge, gen, device), judge_features(judge, ref, device))
    else:
        fid = fid_from_features(inception_features(cfg.inception_weights, gen, device),
                                inception_features(cfg.inception_weights, ref, device))
    fid_name = "fid_judgefeat" if cfg.fid_features == "judge" else "fid_inception"

    if workdir is not None and cfg.n_grid:
        k = min(cfg.n_grid, len(gen))
        np.save(workdir / "samples_grid.npy", ((gen[:k] + 1) * 127.5).round().clamp(0, 255).byte().numpy())
        (workdir / "train_loss.json").write_text(json.dumps(history))

    rows = [
        {"dataset": dataset, "metric": "nonsensitive_rate_pct", "value": nonsensitive, "n": len(gen)},
        {"dataset": dataset, "metric": fid_name, "value": fid, "n": len(gen)},
        {"dataset": dataset, "metric": "final_train_loss", "value": history[-1] if history else float("nan")},
        {"dataset": dataset, "metric": "pu_negative_risk_below0_steps_pct", "value": neg_pct},
        {"dataset": dataset, "metric": "judge_test_acc_pct", "value": jm["judge_test_acc_pct"], "n": jm["judge_n_test"]},
        {"dataset": dataset, "metric": "judge_normal_vs_sensitive_acc_pct",
         "value": jm["judge_normal_vs_sensitive_acc_pct"], "n": jm["judge_n_test"]},
        {"dataset": dataset, "metric": "train_time_s", "value": t_train},
        {"dataset": dataset, "metric": "sample_time_s", "value": t_sample},
        {"dataset": dataset, "metric": "data_and_judge_time_s", "value": t_data},
    ]
    if cfg.method == "unsupervised":
        # Reference rows (once per seed): the real unlabelled training set judged like the samples, and
        # its FID to the test reference -- what a perfect density model of U would score.
        xu = x_train[y_train == 0]
        ku = torch.randperm(len(xu), generator=torch.Generator().manual_seed(cfg.seed))[:len(gen)]
        pu = predict(judge, xu[ku], device)
        rows.append({"dataset": dataset, "method": "real_unlabeled_data", "metric": "nonsensitive_rate_pct",
                     "value": 100 * float(np.mean(np.isin(pu, np.asarray(cfg.normal_classes)))), "n": len(ku)})
        if cfg.fid_features == "judge":
            rows.append({"dataset": dataset, "method": "real_unlabeled_data", "metric": fid_name,
                         "value": fid_from_features(judge_features(judge, xu[ku], device),
                                                    judge_features(judge, ref, device)), "n": len(ku)})
    return rows


# --------------------------------------------------------------------------------------
# Figures: one sample grid per method (seed 0 of each cell), and a bar chart of the two metrics.


def _grid(images: np.ndarray, nrow: int = 8) -> np.ndarray:
    n, c, h, w = images.shape
    rows = math.ceil(n / nrow)
    out = np.full((rows * (h + 1) + 1, nrow * (w + 1) + 1, c), 255, dtype=np.uint8)
    for i in range(n):
        r, q = divmod(i, nrow)
        out[1 + r * (h + 1):1 + r * (h + 1) + h, 1 + q * (w + 1):1 + q * (w + 1) + w] = images[i].transpose(1, 2, 0)
    return out[..., 0] if c == 1 else out


def make_figures(results_dir: Path, profile: str) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pandas as pd

    from common.plotting import save

    for runs_csv in sorted(Path(results_dir).glob("*_runs.csv")):
        table = runs_csv.name[:-len("_runs.csv")]
        df = pd.read_csv(runs_csv)
        df = df[df["method"] != "real_unlabeled_data"]
        cells = df.drop_duplicates("run_id").sort_values(["setting", "method", "seed"])
        panels = []
        for (method, setting), grp in cells.groupby(["method", "setting"], sort=False):
            rid = grp.sort_values("seed").iloc[0]["run_id"]
            f = runs_root() / SLUG / table / rid / "samples_grid.npy"
            if f.is_file():
                panels.append((f"{method} ({setting})" if isinstance(setting, str) and setting and setting != "-"
                               else method, np.load(f)))
        if not panels:
            continue
        fig, axes = plt.subplots(1, len(panels), figsize=(3.2 * len(panels), 3.6))
        axes = np.atleast_1d(axes)
        for ax, (title, imgs) in zip(axes, panels):
            g = _grid(imgs)
            ax.imshow(g, cmap="gray" if g.ndim == 2 else None, vmin=0, vmax=255, interpolation="nearest")
            ax.set_title(title, fontsize=9)
            ax.axis("off")
        fig.suptitle(f"{table} [{profile}]: generated samples (seed of the first run per cell)", fontsize=10)
        save(fig, Path(results_dir) / f"{table}_samples.png")
        plt.close(fig)


if __name__ == "__main__":
    from common.cli import paper_main

    sys.exit(paper_main(SLUG))
