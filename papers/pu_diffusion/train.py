"""Training and evaluation networks of a PU-diffusion run: the judge / FID-feature CNN (trained once on
the real labelled training split, cached with ``common.cache``), the DDPM trainer of the official code
(a fresh ``UNet2DModel`` or a pretrained diffusers pipeline to fine-tune; AdamW, diffusers'
``get_cosine_schedule_with_warmup``, grad-norm clipping, a checkpoint per epoch in the run folder so a
run resumes), sampling, and the feature extractors of the metrics.

Every random choice of a run draws from a named stream of its seed (``derive_seed``): ``init`` (UNet
weights), ``batch_order``, ``diffusion_noise`` (timesteps and noise of the loss), ``sampling``; the
judge draws from ``judge_seed`` (one judge for every run seed) and never touches the global generator.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from diffusers.optimization import get_cosine_schedule_with_warmup

from common.cache import cache_entry
from common.config import ConfigError
from common.runtime import derive_seed, paper_logger

from .baselines import risk
from .config import Config
from .method import make_scheduler, per_example_loss, pu_risk_terms, sample
from .models import JudgeCNN, build_unet, load_pretrained

SLUG = "pu_diffusion"
log = paper_logger(SLUG)


# --------------------------------------------------------------------------------------
# Judge / feature network (cached: every cell of a dataset and resolution reuses it).


def _train_judge(cfg: Config, net: JudgeCNN, xtr: torch.Tensor, ytr, device) -> dict[str, torch.Tensor]:
    """10-class training of ``net`` on the real labelled training split (one-cycle Adam)."""
    g = torch.Generator().manual_seed(derive_seed(cfg.judge_seed, "judge_data"))
    n = len(xtr) if cfg.judge_train_size == 0 else min(cfg.judge_train_size, len(xtr))
    idx = torch.randperm(len(xtr), generator=g)[:n]
    x, y = xtr[idx], torch.as_tensor(ytr)[idx]
    opt = torch.optim.Adam(net.parameters(), lr=cfg.judge_lr)
    bs = cfg.judge_batch
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg.judge_lr, total_steps=cfg.judge_epochs * math.ceil(n / bs))
    net.train()
    for _ in range(cfg.judge_epochs):
        perm = torch.randperm(n, generator=g)
        for i in range(0, n, bs):
            b = perm[i:i + bs]
            xb = x[b].to(device)
            if cfg.in_channels == 3:   # horizontal flips for colour images
                xb = torch.where(torch.rand(len(b), 1, 1, 1, generator=g).to(device) < 0.5, xb, xb.flip(-1))
            loss = F.cross_entropy(net(xb), y[b].to(device))
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
    return {k: v.detach().cpu() for k, v in net.state_dict().items()}


def get_judge(cfg: Config, xtr: torch.Tensor, ytr, data_name: str, device) -> JudgeCNN:
    """The judge CNN of this dataset and resolution, from the cache or trained now."""
    key = {"data": data_name, "size": cfg.image_size, "ch": cfg.in_channels, "epochs": cfg.judge_epochs,
           "n": cfg.judge_train_size, "lr": cfg.judge_lr, "batch": cfg.judge_batch, "seed": cfg.judge_seed,
           "normal": list(cfg.normal_classes), "threads": torch.get_num_threads(), "v": 5}
    with torch.random.fork_rng(devices=[]):   # the judge leaves the global generator as it found it
        torch.manual_seed(derive_seed(cfg.judge_seed, "judge_init"))
        net = JudgeCNN(cfg.in_channels).to(device)
        state = cache_entry(SLUG, "judge", key).load_or_compute(
            "judge.pt", lambda: _train_judge(cfg, net, xtr, ytr, device), fmt="torch")
    net.load_state_dict(state)
    return net.eval()


def judge_metrics(net: JudgeCNN, xte: torch.Tensor, yte, normal_classes, device) -> dict[str, float]:
    """10-class and normal-vs-sensitive test accuracy (%) of the judge, and the chance level (%) of the
    latter (the majority class's share of the test split)."""
    pred, yte = predict(net, xte, device), np.asarray(yte)
    normal = np.asarray(normal_classes)
    share = float(np.mean(np.isin(yte, normal)))
    return {"judge_test_acc_pct": float(100 * np.mean(pred == yte)),
            "judge_normal_vs_sensitive_acc_pct": float(100 * np.mean(np.isin(pred, normal) == np.isin(yte, normal))),
            "judge_chance_pct": 100 * max(share, 1 - share)}


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


def build_model(cfg: Config):
    """(eps_theta, noise scheduler): a pretrained diffusers pipeline's UNet and scheduler to fine-tune
    (``cfg.pretrained``, as the official ``main_ft.py``), or a fresh ``UNet2DModel`` and the default
    DDPM schedule (``main.py``)."""
    if cfg.pretrained:
        unet, scheduler = load_pretrained(cfg.pretrained)
        got = (unet.config.in_channels, unet.config.sample_size)
        if got != (cfg.in_channels, cfg.image_size):
            raise ConfigError(f"pretrained {cfg.pretrained!r} takes {got[0]}-channel {got[1]} px images, but the "
                              f"config asks for in_channels={cfg.in_channels}, image_size={cfg.image_size}")
        return unet, scheduler
    unet = build_unet(cfg.in_channels, cfg.image_size, cfg.block_out_channels, cfg.layers_per_block,
                      cfg.attn_levels, cfg.norm_groups)
    return unet, make_scheduler(cfg.num_train_timesteps)


def train_diffusion(cfg: Config, x: torch.Tensor, y: torch.Tensor, device,
                    workdir: Path | None) -> tuple[torch.nn.Module, object, list, float]:
    """Train eps_theta with the method's risk; returns the model, its noise scheduler, per-epoch mean
    losses, and the % of
    steps on which the PU negative-class risk E_U[l] - beta E_P[l] of the batch was below zero (where
    the absolute-value and non-negative PU forms differ)."""
    torch.manual_seed(derive_seed(cfg.seed, "init"))
    model, scheduler = build_model(cfg)
    model = model.to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.learning_rate)
    steps_per_epoch = math.ceil(len(x) / cfg.batch_size)
    total = steps_per_epoch * cfg.num_epochs
    sched = get_cosine_schedule_with_warmup(opt, cfg.num_warmup_steps, total)
    gen = torch.Generator().manual_seed(derive_seed(cfg.seed, "batch_order"))
    noise = torch.Generator(device=device).manual_seed(derive_seed(cfg.seed, "diffusion_noise"))
    start, history, n_neg, n_steps = 0, [], 0, 0
    ckpt = workdir / "checkpoint.pt" if workdir else None
    if ckpt and ckpt.is_file():
        state = torch.load(ckpt, map_location=device, weights_only=True)
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["opt"])
        sched.load_state_dict(state["sched"])
        gen.set_state(state["gen"])
        noise.set_state(state["noise"])
        start, history = int(state["epoch"]), [float(v) for v in state["history"]]
        n_neg, n_steps = int(state["n_neg"]), int(state["n_steps"])
        log.info("resumed from epoch %d", start)
    model.train()
    for epoch in range(start, cfg.num_epochs):
        perm = torch.randperm(len(x), generator=gen)
        total_loss = 0.0
        for i in range(0, len(x), cfg.batch_size):
            b = perm[i:i + cfg.batch_size]
            ell = per_example_loss(model, scheduler, x[b].to(device), generator=noise)
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
                        "gen": gen.get_state(), "noise": noise.get_state(), "epoch": epoch + 1,
                        "history": history, "n_neg": n_neg, "n_steps": n_steps}, tmp)
            tmp.replace(ckpt)
    model.eval()
    return model, scheduler, history, 100.0 * n_neg / max(1, n_steps)


def generate(cfg: Config, model, scheduler, device, bs: int = 500) -> torch.Tensor:
    """``cfg.n_generate`` samples in batches of ``bs`` (one scheduler pass per batch)."""
    g = torch.Generator(device=device).manual_seed(derive_seed(cfg.seed, "sampling"))
    out = []
    for i in range(0, cfg.n_generate, bs):
        n = min(bs, cfg.n_generate - i)
        out.append(sample(model, scheduler, (n, cfg.in_channels, cfg.image_size, cfg.image_size), cfg.sampler,
                          cfg.num_inference_steps, g, device).clamp(-1, 1).cpu())
    return torch.cat(out)
