"""The pool of independently trained models and the permutations found between them, cached.

Each cell seed has its own pool of ``n_models`` independently trained models (initialisation and
batch order from the named seed streams ``model_init/<i>`` and ``batch_order/<i>``), so seeds
are independent replicates. Models are trained once per training setting (the fields in
``TRAIN_FIELDS``, the seed and the model's index) and cached with :mod:`common.cache` in ``runs/lmc_wm/_cache/model-<hash>/``; a permutation
found by a search is cached under ``perm-<hash>/`` keyed by the models, the search and the config
fields it depends on (``baselines.KNOBS``), so the four tables share them.
"""

from __future__ import annotations

import math
import time

import torch
from torch import nn
from torchvision.transforms import v2

from common.cache import cache_entry
from common.lmc.batchnorm import build_model_norm, full_spec, has_bn, matching_spec, reset_bn_stats
from common.lmc.interpolation import evaluate, lerp
from common.lmc.permutation import Params, Perm, apply_permutation
from common.runtime import derive_seed, paper_logger
from papers.lmc_wm import baselines as B
from papers.lmc_wm.config import Config
from papers.lmc_wm.data import load_tensors

SLUG = "lmc_wm"
log = paper_logger(SLUG)
TRAIN_FIELDS = ("dataset", "arch", "width", "n_hidden", "width_mult", "epochs", "batch_size", "optimizer", "lr",
                "weight_decay", "augment", "momentum", "warmup_epochs", "lr_decay", "norm")


def augment_batch(x: torch.Tensor) -> torch.Tensor:
    """Random crop with 4-pixel zero padding and horizontal flip, drawn per image (torchvision v2)."""
    aug = v2.Compose([v2.RandomCrop(x.shape[-2:], padding=4), v2.RandomHorizontalFlip()])
    return torch.stack([aug(img) for img in x.cpu()]).to(x.device)


def lr_factor(step: int, total: int, warmup: int) -> float:
    """Learning-rate factor of step ``step`` (0-based) of ``total``: linear from 0 to 1 over ``warmup``
    steps, then linear to 0 at the end (the sibling code's ``linear_up_down``, per step here)."""
    t = step + 1
    if t <= warmup:
        return t / warmup
    return max(0.0, (total - t + 1) / max(1, total - warmup))


def make_optimizer(cfg: Config, model: nn.Module, steps_per_epoch: int):
    """Adam (AdamW with weight decay) at a constant rate, or SGD with momentum, ``warmup_epochs`` of
    linear warm-up from 0 and then ``lr_decay``: linear to 0 (sibling code) or cosine (per step)."""
    if cfg.optimizer == "adam":
        opt = (torch.optim.AdamW(model.parameters(), cfg.lr, weight_decay=cfg.weight_decay) if cfg.weight_decay
               else torch.optim.Adam(model.parameters(), cfg.lr))
        return opt, None
    opt = torch.optim.SGD(model.parameters(), cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    total, warm = cfg.epochs * steps_per_epoch, min(cfg.warmup_epochs * steps_per_epoch, cfg.epochs * steps_per_epoch)
    if cfg.lr_decay == "linear":
        return opt, torch.optim.lr_scheduler.LambdaLR(opt, lambda step: lr_factor(step, total, warm))
    cosine = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(1, total - warm))
    if warm < 2:
        return opt, cosine
    linear = torch.optim.lr_scheduler.LinearLR(opt, start_factor=1 / warm, end_factor=1.0, total_iters=warm - 1)
    return opt, torch.optim.lr_scheduler.SequentialLR(opt, [linear, cosine], milestones=[warm])


def train_model(cfg: Config, index: int, x: torch.Tensor, y: torch.Tensor, device) -> Params:
    """Train model ``index`` of the pool of seed ``cfg.seed``."""
    torch.manual_seed(derive_seed(cfg.seed, f"model_init/{index}"))
    gen = torch.Generator().manual_seed(derive_seed(cfg.seed, f"batch_order/{index}"))
    model = build_model_norm(cfg.arch, cfg.width, cfg.width_mult, cfg.n_hidden, tuple(x.shape[1:]), cfg.norm).to(device)
    opt, sched = make_optimizer(cfg, model, math.ceil(len(x) / cfg.batch_size))
    model.train()
    for _ in range(cfg.epochs):
        order = torch.randperm(len(x), generator=gen).to(device)
        for i in range(0, len(x), cfg.batch_size):
            idx = order[i:i + cfg.batch_size]
            xb = augment_batch(x[idx]) if cfg.augment else x[idx]
            loss = nn.functional.cross_entropy(model(xb), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            if sched is not None:
                sched.step()
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def _subset(n: int, size: int, seed: int) -> torch.Tensor:
    """Indices of a random subset of ``size`` of ``range(n)`` (0 = all, in a random order)."""
    return torch.randperm(n, generator=torch.Generator().manual_seed(seed))[:size or n]


class ModelPool:
    """Data, trained models and found permutations of one training setting and seed, shared by the
    cells of that seed. The train-loss and activation-matching subsets are drawn per seed too."""

    def __init__(self, cfg: Config, device):
        self.cfg, self.device = cfg, device
        xtr, ytr, self.dataset_name = load_tensors(cfg.dataset, "train")
        xte, yte, _ = load_tensors(cfg.dataset, "test")
        self.xtr, self.ytr, self.xte, self.yte = xtr.to(device), ytr.to(device), xte.to(device), yte.to(device)
        self.model = build_model_norm(cfg.arch, cfg.width, cfg.width_mult, cfg.n_hidden, tuple(xtr.shape[1:]), cfg.norm).to(device)
        self.spec = full_spec(self.model)
        self.match_spec = matching_spec(self.model, self.spec)
        self.train_key = {**{f: getattr(cfg, f) for f in TRAIN_FIELDS}, "seed": cfg.seed}
        keep = _subset(len(xtr), cfg.eval_train_n, derive_seed(cfg.seed, "eval_train_subset")).to(device)
        self.xtr_eval, self.ytr_eval = self.xtr[keep], self.ytr[keep]
        self.x_am = self.xtr[_subset(len(xtr), cfg.am_n, derive_seed(cfg.seed, "am_subset")).to(device)]

    def params(self, index: int) -> Params:
        def train():
            t0 = time.time()
            state = train_model(self.cfg, index, self.xtr, self.ytr, self.device)
            log.info("trained model %d in %.1fs", index, time.time() - t0)
            return {k: v.cpu() for k, v in state.items()}

        state = cache_entry(SLUG, "model", {**self.train_key, "index": index}).load_or_compute("model.pt", train,
                                                                                             fmt="torch")
        return {k: v.to(self.device) for k, v in state.items()}

    def perm(self, method: str, a: int, b: int) -> Perm:
        """Permutation of model b that aligns it to model a by ``method`` (cached)."""
        if not B.KNOBS[method]:
            return B.METHODS[method](self._inputs(a, b, params=False), self.cfg)

        def search():
            t0 = time.time()
            perm = B.METHODS[method](self._inputs(a, b), self.cfg)
            log.info("%s %d<-%d in %.1fs", method, a, b, time.time() - t0)
            return {p: ix.cpu() for p, ix in perm.items()}

        key = {"train": self.train_key, "method": method, "a": a, "b": b,
               **{k: getattr(self.cfg, k) for k in B.KNOBS[method]}}
        return cache_entry(SLUG, "perm", key).load_or_compute("perm.pt", search, fmt="torch")

    def _inputs(self, a: int, b: int, params: bool = True) -> B.SearchInputs:
        pa = self.params(a)
        pb = self.params(b) if params else pa
        seed = derive_seed(self.cfg.seed, f"search/{a}-{b}")
        return B.SearchInputs(self.spec, self.model, pa, pb, self.xtr, self.ytr, self.x_am, seed=seed,
                              match_spec=self.match_spec)

    def aligned(self, method: str, a: int, b: int) -> Params:
        return apply_permutation(self.spec, self.perm(method, a, b), self.params(b))

    def merged(self, params: Params) -> Params:
        """A model made by interpolating or averaging: BN statistics reset on the training subset
        (``eval_train_n`` images) for BN models; unchanged otherwise."""
        if not has_bn(self.model):
            return params
        return reset_bn_stats(self.model, params, self.xtr_eval, self.cfg.eval_batch)

    def evaluate(self, params: Params, x: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
        return evaluate(self.model, params, x, y, self.cfg.eval_batch)

    def curve(self, pa: Params, pb: Params, lams, splits: dict) -> dict[str, dict[str, list[float]]]:
        """Loss and accuracy (%) of ``merged(lerp(lam, pa, pb))`` at every ``lam`` on each split
        ``{name: (x, y)}``: ``{name: {"lam", "loss", "acc_pct"}}`` (one BN reset per point)."""
        out = {name: {"lam": [], "loss": [], "acc_pct": []} for name in splits}
        for lam in lams:
            p = self.merged(lerp(float(lam), pa, pb))
            for name, (x, y) in splits.items():
                loss, acc = self.evaluate(p, x, y)
                out[name]["lam"].append(float(lam))
                out[name]["loss"].append(loss)
                out[name]["acc_pct"].append(acc)
        return out
