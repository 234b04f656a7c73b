"""One table cell of the CAFe reproduction: (dataset, method, stream, seed) -> error rates.

Reads top to bottom: (1) the source model, trained once on clean source images and cached;
(2) the pre-computed source feature statistics + spectral feature groups, cached; (3) the corrupted
test streams (quick: made here from real images; full: the CIFAR-10-C / CIFAR-100-C / ImageNet-C
files); (4) online test-time adaptation over the stream; (5) error rates as rows.

Caches live in ``runs/cafe/_cache/<kind>-<hash>/`` keyed by exactly the fields that determine them,
so every cell (any method, stream, seed) of a profile reuses one source model and one set of
statistics. Only ``model.pt`` / ``stats.pt`` / ``bench.npz`` and a ``done`` marker are written, atomically.
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import os
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from common.results import runs_root
from common.runtime import setup

from . import baselines as B
from . import data as D
from .config import Config
from .corruptions import CORRUPTIONS
from .method import SourceStatistics, TestTimeAdapter, compute_source_statistics
from .models import ResNetCifar, TorchvisionFeatures

SLUG = "cafe"
log = logging.getLogger("repro.cafe")
MEAN, STD = 0.5, 0.25   # fixed input normalisation of the CIFAR-style models: (x/255 - 0.5) / 0.25
_MEMO: dict = {}


# ------------------------------------------------------------------ caching helpers

def cache_dir(kind: str, key: dict) -> Path:
    h = hashlib.sha1(json.dumps(key, sort_keys=True).encode()).hexdigest()[:12]
    return runs_root() / SLUG / "_cache" / f"{kind}-{h}"


def _save_atomic(obj_path: Path, save_fn) -> None:
    obj_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = obj_path.with_name(obj_path.name + f".tmp{os.getpid()}")
    save_fn(tmp)
    os.replace(tmp, obj_path)


def to_tensor(x: np.ndarray, device) -> torch.Tensor:
    """uint8 NHWC -> normalised float NCHW."""
    t = torch.from_numpy(np.ascontiguousarray(x)).to(device).permute(0, 3, 1, 2).float()
    return (t / 255.0 - MEAN) / STD


def source_key(cfg: Config) -> dict:
    return {"dataset": cfg.dataset, "depth": cfg.depth, "width": cfg.width, "epochs": cfg.source_epochs,
            "lr": cfg.source_lr, "bs": cfg.source_batch_size, "n": cfg.n_source_train, "seed": cfg.train_seed,
            "imagenet_weights": cfg.imagenet_weights if cfg.dataset == "imagenet" else ""}


def source_dataset(cfg: Config) -> str:
    return {"cifar10sub": "cifar10sub", "fmnist": "fmnist", "cifar10": "cifar10", "cifar100": "cifar100"}[cfg.dataset]


def _subset(x, y, n, seed):
    if n and n < len(y):
        idx = np.sort(np.random.default_rng(seed).choice(len(y), n, replace=False))
        return x[idx], y[idx]
    return x, y


# ------------------------------------------------------------------ (1) source model

def train_source_model(cfg: Config, device) -> torch.nn.Module:
    """Standard supervised training on clean source images: SGD (momentum 0.9, nesterov, wd 5e-4),
    cosine learning rate, random crop (pad 4) + horizontal flip."""
    x, y = _subset(*D.load_clean(source_dataset(cfg), "train"), cfg.n_source_train, cfg.train_seed)
    g = torch.Generator().manual_seed(cfg.train_seed)
    torch.manual_seed(cfg.train_seed)
    model = ResNetCifar(cfg.depth, cfg.width, D.num_classes(cfg.dataset)).to(device)
    opt = torch.optim.SGD(model.parameters(), lr=cfg.source_lr, momentum=0.9, nesterov=True, weight_decay=5e-4)
    steps = cfg.source_epochs * int(np.ceil(len(y) / cfg.source_batch_size))
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, cfg.source_lr, total_steps=steps, pct_start=0.15)
    yt = torch.from_numpy(y)
    model.train()
    for ep in range(cfg.source_epochs):
        perm = torch.randperm(len(yt), generator=g)
        for i in range(0, len(yt), cfg.source_batch_size):
            idx = perm[i:i + cfg.source_batch_size]
            xb = to_tensor(x[idx.numpy()], "cpu")   # normalise per batch (low memory); same values
            # augmentation: random crop with 4-pixel zero padding (in normalised space: pad value -2) + flip
            xb = F.pad(xb, (4, 4, 4, 4), value=-MEAN / STD)
            dx, dy = torch.randint(0, 9, (2,), generator=g).tolist()
            xb = xb[:, :, dy:dy + 32, dx:dx + 32]
            flip = torch.rand(len(xb), generator=g) < 0.5
            xb = torch.where(flip[:, None, None, None], xb.flip(3), xb)
            loss = F.cross_entropy(model(xb.to(device)), yt[idx].to(device))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
        log.info("source epoch %d loss %.3f", ep, loss.item())
    return model.eval()


def get_source_model(cfg: Config, device) -> torch.nn.Module:
    if cfg.dataset == "imagenet":
        import torchvision
        net = torchvision.models.resnet50()
        if cfg.imagenet_weights:
            net.load_state_dict(torch.load(cfg.imagenet_weights, map_location="cpu", weights_only=True))
        else:
            net = torchvision.models.resnet50(weights="IMAGENET1K_V1")
        return TorchvisionFeatures(net).to(device).eval()
    key = source_key(cfg)
    folder = cache_dir("source", key)
    path = folder / "model.pt"
    model = ResNetCifar(cfg.depth, cfg.width, D.num_classes(cfg.dataset))
    if not (folder / "done").is_file():
        trained = train_source_model(cfg, device)
        _save_atomic(path, lambda p: torch.save(trained.state_dict(), p))
        (folder / "key.json").write_text(json.dumps(key, indent=1))
        (folder / "done").write_text("ok\n")
    model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    return model.to(device).eval()


# ------------------------------------------------------------------ (2) pre-computed source statistics

def get_source_statistics(cfg: Config, model, device) -> SourceStatistics:
    key = {**source_key(cfg), "n_groups": cfg.n_groups, "n_stats": cfg.n_stats}
    folder = cache_dir("stats", key)
    if not (folder / "done").is_file():
        if cfg.dataset == "imagenet":
            files, _, _ = D.list_image_folder(D.imagenet_train_folder())
            sel = np.random.default_rng(cfg.train_seed).permutation(len(files))[:cfg.n_stats or len(files)]
            batches = (imagenet_tensor(D.load_image_files([files[j] for j in sel[i:i + 256]]), device)
                       for i in range(0, len(sel), 256))
        else:
            x, _ = _subset(*D.load_clean(source_dataset(cfg), "train"), cfg.n_stats, cfg.train_seed + 1)
            batches = (to_tensor(x[i:i + 500], device) for i in range(0, len(x), 500))
        stats = compute_source_statistics(model, batches, cfg.n_groups, seed=cfg.train_seed)
        _save_atomic(folder / "stats.pt", lambda p: torch.save(stats.state(), p))
        (folder / "done").write_text("ok\n")
    return SourceStatistics.from_state(torch.load(folder / "stats.pt", weights_only=True)).to(device)


def imagenet_tensor(x: np.ndarray, device) -> torch.Tensor:
    t = torch.from_numpy(x).to(device).permute(0, 3, 1, 2).float() / 255.0
    m = torch.tensor([0.485, 0.456, 0.406], device=device)[:, None, None]
    s = torch.tensor([0.229, 0.224, 0.225], device=device)[:, None, None]
    return (t - m) / s


# ------------------------------------------------------------------ (3) corrupted test streams

def get_benchmark(cfg: Config) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """{corruption: (uint8 NHWC images, labels)} plus 'clean' (the same draw uncorrupted, quick only)."""
    key = {"dataset": cfg.dataset, "severity": cfg.severity, "n": cfg.n_per_corruption, "seed": cfg.train_seed}
    if cfg.dataset in ("cifar10", "cifar100"):
        out = {}
        for c in CORRUPTIONS:
            x, y = D.load_cifar_c(cfg.dataset, c, cfg.severity)
            out[c] = _subset(x, y, cfg.n_per_corruption, cfg.train_seed)
        return out
    if cfg.dataset == "imagenet":
        out = {}
        for c in CORRUPTIONS:
            files, y, _ = D.list_image_folder(D.imagenet_c_folder(c, cfg.severity))
            sel = np.sort(np.random.default_rng(cfg.train_seed).permutation(len(files))[:cfg.n_per_corruption])
            out[c] = ([files[i] for i in sel], y[sel])
        return out
    memo = ("bench", json.dumps(key, sort_keys=True))
    if memo in _MEMO:
        return _MEMO[memo]
    folder = cache_dir("bench", key)
    if not (folder / "done").is_file():
        x, y = D.load_clean(cfg.dataset, "test")
        bench = D.make_corrupted_benchmark(x, y, cfg.n_per_corruption, cfg.severity, cfg.train_seed)
        rng = np.random.default_rng(cfg.train_seed + 7)
        idx = np.sort(rng.choice(len(y), cfg.n_per_corruption, replace=False))
        arrays = {f"x_{c}": v[0] for c, v in bench.items()} | {f"y_{c}": v[1] for c, v in bench.items()}
        arrays |= {"x_clean": x[idx], "y_clean": y[idx]}
        _save_atomic(folder / "bench.npz", lambda p: np.savez(open(p, "wb"), **arrays))
        (folder / "done").write_text("ok\n")
    z = np.load(folder / "bench.npz", allow_pickle=False)
    out = {c: (z[f"x_{c}"], z[f"y_{c}"]) for c in CORRUPTIONS + ["clean"]}
    _MEMO[memo] = out
    return out


# ------------------------------------------------------------------ (4) adaptation

def make_adapter(cfg: Config, model, stats: SourceStatistics) -> TestTimeAdapter:
    """The method of the cell around a fresh copy of the source model."""
    m = copy.deepcopy(model)
    kw = dict(lr=cfg.lr, steps=cfg.steps, optimizer=cfg.optimizer)
    if cfg.method == "source":
        return TestTimeAdapter(m, None, adapt_bn_stats=False)
    if cfg.method == "bn":
        return TestTimeAdapter(m, None, adapt_bn_stats=True)
    if cfg.method == "tent":
        return TestTimeAdapter(m, B.tent_loss, **kw)
    if cfg.method == "pl":
        return TestTimeAdapter(m, B.pseudo_label_loss, **kw)
    if cfg.method == "shot_im":
        return TestTimeAdapter(m, B.shot_im_loss, **kw)
    if cfg.method == "tfa":
        return TestTimeAdapter(m, B.tfa_loss_fn(stats, cfg.align_weight), **kw)
    if cfg.method == "cafe":
        return TestTimeAdapter(m, B.cafe_loss_fn(stats, cfg.align_weight, cfg.cov_eps, cfg.divergence), **kw)
    if cfg.method == "cafe_nogroup":
        whole = SourceStatistics(stats.mean, stats.cov, [np.arange(len(stats.mean))])
        return TestTimeAdapter(m, B.cafe_loss_fn(whole, cfg.align_weight, cfg.cov_eps, cfg.divergence), **kw)
    raise ValueError(f"unknown method {cfg.method!r}")


def run_stream(adapter: TestTimeAdapter, x, y, order: np.ndarray, batch_size: int, device, loader) -> np.ndarray:
    """Feed the stream in ``order``; returns a per-sample correctness vector (in the original indexing)."""
    correct = np.zeros(len(y), dtype=bool)
    for i in range(0, len(order), batch_size):
        idx = order[i:i + batch_size]
        if len(idx) < 2:   # a single leftover image has no batch statistics: predict it with the last batch
            idx = order[max(0, i - 1):i + 1]
        logits = adapter.step(loader(x, idx, device))
        pred = logits.argmax(1).cpu().numpy()
        correct[idx] = pred == y[idx]
    return correct


def run(cfg: Config, workdir: Path | None = None) -> list[dict]:
    device = setup(cfg)
    model = get_source_model(cfg, device)
    stats = get_source_statistics(cfg, model, device)
    bench = get_benchmark(cfg)
    if cfg.dataset == "imagenet":
        def loader(x, idx, dev):
            return imagenet_tensor(D.load_image_files([x[j] for j in idx]), dev)
    else:
        def loader(x, idx, dev):
            return to_tensor(x[idx], dev)
    name = f"{cfg.dataset}_c_ours" if cfg.dataset in ("cifar10sub", "fmnist") else f"{cfg.dataset}_c"
    rng = np.random.default_rng(cfg.seed)
    rows = []
    if cfg.stream == "single":
        errs = []
        for c in CORRUPTIONS:
            x, y = bench[c]
            ok = run_stream(make_adapter(cfg, model, stats), x, y, rng.permutation(len(y)), cfg.batch_size, device, loader)
            errs.append(100 * (1 - ok.mean()))
            rows.append({"dataset": name, "setting": c, "metric": "error_pct", "value": errs[-1], "n": len(y)})
            log.info("%s %s error %.2f", cfg.method, c, errs[-1])
        rows.append({"dataset": name, "setting": "mean", "metric": "error_pct", "value": float(np.mean(errs)),
                     "n": len(CORRUPTIONS) * cfg.n_per_corruption})
        if "clean" in bench:
            x, y = bench["clean"]
            ok = run_stream(make_adapter(cfg, model, stats), x, y, rng.permutation(len(y)), cfg.batch_size, device, loader)
            rows.append({"dataset": name, "setting": "clean", "metric": "error_pct", "value": 100 * (1 - ok.mean()), "n": len(y)})
    else:
        if cfg.dataset == "imagenet":
            xs = [f for c in CORRUPTIONS for f in bench[c][0]]
        else:
            xs = np.concatenate([bench[c][0] for c in CORRUPTIONS])
        ys = np.concatenate([bench[c][1] for c in CORRUPTIONS])
        kind = np.repeat(np.arange(len(CORRUPTIONS)), [len(bench[c][1]) for c in CORRUPTIONS])
        ok = run_stream(make_adapter(cfg, model, stats), xs, ys, rng.permutation(len(ys)), cfg.batch_size, device, loader)
        rows.append({"dataset": name, "setting": "mixed", "metric": "error_pct", "value": 100 * (1 - ok.mean()), "n": len(ys)})
        for k, c in enumerate(CORRUPTIONS):
            rows.append({"dataset": name, "setting": f"mixed:{c}", "metric": "error_pct",
                         "value": 100 * (1 - ok[kind == k].mean()), "n": int((kind == k).sum())})
    return rows


def make_figures(results_dir: Path, profile: str) -> None:
    from .figures import make_all
    make_all(results_dir, profile)


if __name__ == "__main__":
    from common.cli import paper_main

    sys.exit(paper_main("cafe"))
