"""Training loops shared by the method and the baselines: the source models (classifier and
conditional generator, trained once per seed and cached), target networks, the supervised loop on
the labelled target data, and evaluation."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from common.cache import cache_entry
from common.config import ConfigError
from common.runtime import derive_seed, paper_logger
from papers.pp_pssl import method as M
from papers.pp_pssl.data import load_source
from papers.pp_pssl.models import CVAE, MLP, ResNetTarget, SmallCNN, load_classifier, load_generator

SLUG = "pp_pssl"
log = paper_logger(SLUG)


@dataclass
class Source:
    classifier: nn.Module
    generator: nn.Module
    input_shape: tuple[int, int, int]   # what the source classifier takes
    n_classes: int
    accuracy_pct: float = float("nan")  # source classifier on held-out source images (in-run sources)


def source_key(cfg) -> dict:
    return {"source": cfg.source, "seed": cfg.seed, "source_epochs": cfg.source_epochs, "gen_epochs": cfg.gen_epochs,
            "gen_z_dim": cfg.gen_z_dim, "gen_hidden": cfg.gen_hidden, "n_source_val": cfg.n_source_val,
            "n_source": cfg.n_source}


def _train_classifier(cfg, x, y, n_classes, device) -> nn.Module:
    torch.manual_seed(derive_seed(cfg.seed, "source_classifier_init"))
    model = SmallCNN(x.shape[1], x.shape[-1], n_classes).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    gen = torch.Generator().manual_seed(derive_seed(cfg.seed, "source_classifier_batches"))
    for _ in range(cfg.source_epochs):
        for idx in torch.randperm(len(x), generator=gen).split(128):
            loss = F.cross_entropy(model(x[idx].to(device)), y[idx].to(device))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    return model.eval()


def _train_cvae(cfg, x, y, n_classes, device) -> CVAE:
    torch.manual_seed(derive_seed(cfg.seed, "generator_init"))
    model = CVAE(tuple(x.shape[1:]), n_classes, cfg.gen_z_dim, cfg.gen_hidden).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    gen = torch.Generator().manual_seed(derive_seed(cfg.seed, "generator_batches"))
    for _ in range(cfg.gen_epochs):
        for idx in torch.randperm(len(x), generator=gen).split(128):
            xb, cb = x[idx].to(device), F.one_hot(y[idx], n_classes).float().to(device)
            loss = model.neg_elbo(xb, cb, torch.randn(len(idx), cfg.gen_z_dim, generator=gen).to(device))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    return model.eval()


@torch.no_grad()
def accuracy_pct(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch: int = 1000) -> float:
    model.eval()
    device = next(model.parameters()).device
    hits = sum(int((model(x[i:i + batch].to(device)).argmax(1) == y[i:i + batch].to(device)).sum())
               for i in range(0, len(x), batch))
    return 100.0 * hits / len(x)


def get_source(cfg, device) -> Source:
    """The source classifier and conditional generator: trained on Fashion-MNIST per seed and cached
    (``source=fashion_mnist``), or a user's pre-trained pair (``source=pretrained``, models.py)."""
    if cfg.source == "pretrained":
        if not (cfg.generator_factory and cfg.generator_weights and cfg.classifier_weights):
            raise ConfigError("source=pretrained needs generator_factory, generator_weights and classifier_weights "
                              "(the full profile: see papers/pp_pssl/README.md, 'Full profile')")
        gen = load_generator(cfg.generator_factory, cfg.generator_weights).to(device)
        clf = load_classifier(cfg.classifier_factory, cfg.classifier_weights).to(device)
        return Source(clf, gen, tuple(cfg.classifier_input_shape), gen.n_classes)
    entry = cache_entry(SLUG, "source", source_key(cfg))
    x, y, n_classes = load_source(cfg.source)
    perm = torch.randperm(len(x), generator=torch.Generator().manual_seed(derive_seed(cfg.seed, "source_val")))
    val, tr = perm[:cfg.n_source_val], perm[cfg.n_source_val:]
    if cfg.n_source:
        tr = tr[:cfg.n_source]

    def train_both():
        clf = _train_classifier(cfg, x[tr], y[tr], n_classes, device)
        acc = accuracy_pct(clf, x[val], y[val])
        g = _train_cvae(cfg, x[tr], y[tr], n_classes, device)
        log.info("source models trained: classifier %.2f%% on %d held-out source images", acc, len(val))
        return {"classifier": {k: v.cpu() for k, v in clf.state_dict().items()},
                "generator": {k: v.cpu() for k, v in g.state_dict().items()}, "val_acc_pct": torch.tensor(acc)}

    state = entry.load_or_compute("source.pt", train_both, fmt="torch")
    clf = SmallCNN(x.shape[1], x.shape[-1], n_classes)
    clf.load_state_dict(state["classifier"])
    g = CVAE(tuple(x.shape[1:]), n_classes, cfg.gen_z_dim, cfg.gen_hidden)
    g.load_state_dict(state["generator"])
    return Source(clf.to(device).eval(), g.to(device).eval(), tuple(x.shape[1:]), n_classes,
                  float(state["val_acc_pct"]))


def make_target_net(cfg, input_shape: tuple[int, int, int], n_classes: int, stream: str) -> nn.Module:
    """The target architecture, initialised from the seed stream ``stream``."""
    torch.manual_seed(derive_seed(cfg.seed, stream))
    c, h, w = input_shape
    if cfg.arch == "mlp":
        return MLP(c * h * w, tuple(cfg.mlp_hidden), n_classes)
    if cfg.arch == "cnn":
        return SmallCNN(c, h, n_classes)
    if cfg.arch == "resnet18":
        return ResNetTarget(n_classes)
    raise ValueError(f"unknown arch {cfg.arch!r}")


def pp_features(cfg, source: Source, input_shape, device) -> dict:
    """The target architecture's feature extractor after pseudo pre-training (cached: PP does not
    depend on the target labels, so every labelled-set size and PP method of a seed shares it)."""
    key = {**source_key(cfg), "arch": cfg.arch, "mlp_hidden": list(cfg.mlp_hidden), "pp_steps": cfg.pp_steps,
           "pp_batch": cfg.pp_batch, "lr": cfg.lr, "weight_decay": cfg.weight_decay, "input_shape": list(input_shape)}
    if cfg.source == "pretrained":
        key.update(generator=cfg.generator_weights, classifier=cfg.classifier_weights)

    def compute():
        net = make_target_net(cfg, input_shape, source.n_classes, "pp_init").to(device)
        gen = torch.Generator(device=device).manual_seed(derive_seed(cfg.seed, "pp_samples"))
        M.pseudo_pretrain(net.features, net.feat_dim, source.generator, cfg.pp_steps, cfg.pp_batch, cfg.lr,
                          cfg.weight_decay, gen, input_shape)
        return {k: v.cpu() for k, v in net.features.state_dict().items()}

    return cache_entry(SLUG, "pp", key).load_or_compute("features.pt", compute, fmt="torch")


def train_supervised(model: nn.Module, x: torch.Tensor, y: torch.Tensor, steps: int, batch: int, lr: float,
                     weight_decay: float, gen: torch.Generator) -> None:
    """Cross-entropy on weakly augmented labelled target batches (the supervised part of FixMatch)."""
    opt, sched = M.sgd_cosine(model.parameters(), lr, weight_decay, steps)
    model.train()
    for _ in range(steps):
        i = torch.randint(0, len(x), (min(batch, len(x)),), device=x.device, generator=gen)
        loss = F.cross_entropy(model(M.weak_augment(x[i], gen)), y[i])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
