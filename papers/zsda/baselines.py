"""The competitors under the same protocol as the method, and the registry ``METHODS``.

Every entry is ``fit_predict(sources, targets, oracle, task, n_out, cfg, gen) -> (preds, extras)``:
``sources`` = list of labelled (x, y) source domains, ``targets`` = list of the unseen domains'
unlabelled evaluation features, ``oracle`` = the unseen domains' other, labelled halves (read by the
oracle only). ``preds[k]`` are class probabilities (classification) or predicted targets (regression)
for ``targets[k]``. No method but the oracle sees a target label; no method sees the domain variable.

- pooled: one network (h + linear head) on all source instances pooled.
- pooled_norm: the same after standardising each domain's features by that domain's own mean and
  standard deviation (a target's statistics come from its unlabelled features), a simple form of
  domain-wise normalisation.
- dann: domain-adversarial training (Ganin et al. 2016, gradient reversal) with the source domains as
  the discriminator's classes: domain-invariant features learned from the source domains only, the
  multi-source domain-generalisation use of DANN.
- moe: one expert per source domain; a target's prediction averages the experts with weights
  softmax(-MMD^2(target, source) / tau), MMD with a Gaussian kernel (median-heuristic bandwidth),
  tau = the median MMD^2 (ours: the weighting temperature of the paper's baseline is unread).
- oracle: one network per target trained on the target's labelled oracle half (a reference).
- proposed / proposed_det: ``method.py`` with a stochastic or deterministic domain vector.
"""

from __future__ import annotations

import math
from typing import Callable, Sequence

import torch
from torch.nn import functional as F

from papers.zsda import method as M
from papers.zsda.models import PlainPredictor, domain_discriminator, grad_reverse

Domain = tuple[torch.Tensor, torch.Tensor]


def task_loss(out: torch.Tensor, y: torch.Tensor, task: str, log_noise: torch.Tensor) -> torch.Tensor:
    """Cross-entropy, or the Gaussian negative log-likelihood with a learned noise scale (as Eq. 2')."""
    if task == "classification":
        return F.cross_entropy(out, y)
    return -M.log_likelihood(out.unsqueeze(0), log_noise.reshape(1), y.unsqueeze(0), task).mean()


def _new_model(d_in: int, n_out: int, cfg) -> PlainPredictor:
    return PlainPredictor(d_in, cfg.hidden, cfg.feat_dim, n_out)


def _batch(domains: Sequence[Domain], per_domain: int, gen: torch.Generator):
    xs, ys, ds = [], [], []
    for k, (x, y) in enumerate(domains):
        i = torch.randint(len(y), (per_domain,), generator=gen)
        xs.append(x[i])
        ys.append(y[i])
        ds.append(torch.full((per_domain,), k))
    return torch.cat(xs), torch.cat(ys), torch.cat(ds)


def train_plain(domains: Sequence[Domain], task: str, n_out: int, cfg, gen: torch.Generator, steps: int,
                adversarial: bool = False) -> PlainPredictor:
    """Adam on the pooled domains with a domain-balanced minibatch (``batch_per_domain`` from each);
    ``adversarial`` adds DANN's reversed domain-classification loss with Ganin et al.'s schedule."""
    model = _new_model(domains[0][0].shape[1], n_out, cfg)
    params = list(model.parameters())
    if adversarial:
        disc = domain_discriminator(cfg.feat_dim, cfg.hidden, len(domains))
        params += list(disc.parameters())
    opt = torch.optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    for step in range(steps):
        x, y, d = _batch(domains, cfg.batch_per_domain, gen)
        h = model.extractor(x)
        loss = task_loss(model.head(h), y, task, model.log_noise)
        if adversarial:
            weight = cfg.dann_weight * (2.0 / (1.0 + math.exp(-10.0 * step / max(steps - 1, 1))) - 1.0)
            loss = loss + F.cross_entropy(disc(grad_reverse(h, weight)), d)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model


@torch.no_grad()
def _predict_plain(model: PlainPredictor, x: torch.Tensor, task: str) -> torch.Tensor:
    out = model(x)
    return F.softmax(out, -1) if task == "classification" else out[:, 0]


def pooled(sources, targets, oracle, task, n_out, cfg, gen):
    model = train_plain(sources, task, n_out, cfg, gen, cfg.steps)
    return [_predict_plain(model, x, task) for x in targets], {}


def standardise_domain(x: torch.Tensor, floor: float = 1e-2) -> torch.Tensor:
    """Each feature of one domain to zero mean and unit standard deviation (std floored at ``floor``)."""
    return (x - x.mean(0)) / x.std(0).clamp_min(floor)


def pooled_norm(sources, targets, oracle, task, n_out, cfg, gen):
    model = train_plain([(standardise_domain(x), y) for x, y in sources], task, n_out, cfg, gen, cfg.steps)
    return [_predict_plain(model, standardise_domain(x), task) for x in targets], {}


def dann(sources, targets, oracle, task, n_out, cfg, gen):
    model = train_plain(sources, task, n_out, cfg, gen, cfg.steps, adversarial=True)
    return [_predict_plain(model, x, task) for x in targets], {}


def mmd2(a: torch.Tensor, b: torch.Tensor, bandwidth: float) -> float:
    """Biased (V-statistic) squared MMD with the Gaussian kernel exp(-|u - v|^2 / (2 bandwidth^2))."""
    def k(u, v):
        return torch.exp(-torch.cdist(u, v).pow(2) / (2 * bandwidth ** 2))
    return float(k(a, a).mean() + k(b, b).mean() - 2 * k(a, b).mean())


def similarity_weights(target: torch.Tensor, sources: Sequence[torch.Tensor], gen: torch.Generator,
                       max_points: int = 300) -> torch.Tensor:
    """softmax(-MMD^2(target, source_s) / tau) over sources; tau = the median of the MMD^2 values."""
    def sub(x):
        return x[torch.randperm(len(x), generator=gen)[:max_points]]
    t, ss = sub(target), [sub(s) for s in sources]
    pool = torch.cat([t, *ss])
    bw = float(torch.cdist(pool, pool).median().clamp_min(1e-6))
    d = torch.tensor([mmd2(t, s, bw) for s in ss])
    tau = float(d.median().clamp_min(1e-12))
    return torch.softmax(-d / tau, 0)


def moe(sources, targets, oracle, task, n_out, cfg, gen):
    experts = [train_plain([src], task, n_out, cfg, gen, cfg.expert_steps) for src in sources]
    preds, weights = [], []
    for x in targets:
        w = similarity_weights(x, [s[0] for s in sources], gen)
        weights.append(w)
        preds.append(sum(wk * _predict_plain(e, x, task) for wk, e in zip(w, experts)))
    return preds, {"weights": weights}


def oracle_fit(sources, targets, oracle, task, n_out, cfg, gen):
    preds = []
    for x, dom in zip(targets, oracle):
        preds.append(_predict_plain(train_plain([dom], task, n_out, cfg, gen, cfg.expert_steps), x, task))
    return preds, {}


def _latent(stochastic: bool):
    def fit_predict(sources, targets, oracle, task, n_out, cfg, gen):
        model = M.LatentDomainModel(sources[0][0].shape[1], n_out, task, cfg.hidden, cfg.feat_dim, cfg.z_dim,
                                    stochastic=stochastic)
        curve = M.fit(model, sources, cfg.steps, cfg.batch_per_domain, cfg.set_size, cfg.lr,
                      cfg.n_samples if stochastic else 1, gen, cfg.weight_decay)
        out = [M.predict(model, x, cfg.n_pred_samples if stochastic else 1, gen) for x in targets]
        return [p for p, _ in out], {"model": model, "curve": curve, "z_targets": torch.stack([z for _, z in out])}
    return fit_predict


METHODS: dict[str, Callable] = {
    "proposed": _latent(True),
    "proposed_det": _latent(False),
    "pooled": pooled,
    "pooled_norm": pooled_norm,
    "dann": dann,
    "moe": moe,
    "oracle": oracle_fit,
}
