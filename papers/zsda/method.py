"""Zero-shot domain adaptation with latent domain vectors (Kumagai & Iwata 2018), as reconstructed.

Generative model of domain d with instances (x_dn, y_dn), n = 1..N_d (ours: equation numbers are
not the paper's, whose method section could not be read)::

    z_d ~ p(z) = N(0, I)                                                         (Eq. 1)
    y_dn | x_dn, z_d ~ p(y | x, z_d) = Cat(softmax(W(z_d)^T h(x_dn) + b(z_d)))   (Eq. 2, classification)
                                     = N(W(z_d)^T h(x_dn) + b(z_d), s(z_d)^2)    (Eq. 2', regression)

h is the feature extractor of the instance; (W, b, log s) = g(z) is the network that maps the latent
domain vector to the parameters of the domain-specific model. The variational posterior of z_d is
inferred from the domain's *unlabelled* feature vectors X_d by a permutation-invariant network
(Deep Sets, ``common.meta.encoders``)::

    q(z_d | X_d) = N(mu(X_d), diag exp(logvar(X_d))),  (mu, logvar) = rho(mean_n phi(x_dn))   (Eq. 3)

and every network is trained by maximising the evidence lower bound with SGD (Adam)::

    L = sum_d { E_q(z_d|X_d)[ sum_n log p(y_dn | x_dn, z_d) ] - KL(q(z_d|X_d) || p(z_d)) }    (Eq. 4)

estimated with minibatches of domains and of instances (likelihood scaled by N_d / B) and the
reparameterisation z = mu + exp(logvar / 2) * eps. At test time an unseen domain's q(z | X) is
computed from its feature vectors alone and the predictive distribution is averaged over samples
of z (Eq. 5). The deterministic ablation uses z_d = mu(X_d) and drops the KL term.

Deviation (reconstructed): the model parameters are a deterministic function of z (their
uncertainty comes from z only); the abstract says posteriors of the domain-specific models are
parametrised by networks, which this satisfies through q(z) but without a separate weight posterior.
"""

from __future__ import annotations

import math
from typing import Sequence

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from common.meta.encoders import DeepSetEncoder, mlp
from papers.zsda.models import feature_extractor


class LatentDomainModel(nn.Module):
    def __init__(self, d_in: int, n_out: int, task: str, hidden: int, feat_dim: int, z_dim: int,
                 stochastic: bool = True) -> None:
        super().__init__()
        if task not in ("classification", "regression"):
            raise ValueError(f"task must be classification or regression, got {task!r}")
        self.task, self.n_out, self.feat_dim, self.z_dim, self.stochastic = task, n_out, feat_dim, z_dim, stochastic
        self.inference = DeepSetEncoder(d_in, hidden, 2 * z_dim, n_hidden=1)            # Eq. 3
        self.extractor = feature_extractor(d_in, hidden, feat_dim)                      # h(x)
        n_par = (feat_dim + 1) * n_out + (1 if task == "regression" else 0)
        self.param_net = mlp(z_dim, hidden, n_par, n_hidden=1)                          # g(z)

    def posterior(self, sets: Tensor, mask: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """(D, M, d_in) unlabelled sets -> mean and log-variance of q(z | X), each (D, z_dim)."""
        out = self.inference(sets, mask)
        mu, logvar = out[..., : self.z_dim], out[..., self.z_dim:]
        return mu, logvar.clamp(-10.0, 5.0)

    def outputs(self, x: Tensor, z: Tensor) -> tuple[Tensor, Tensor | None]:
        """x (D, B, d_in), z (..., D, z_dim) -> logits or means (..., D, B, n_out), log noise (..., D)."""
        par = self.param_net(z)
        k = self.feat_dim * self.n_out
        w = par[..., :k].reshape(*par.shape[:-1], self.feat_dim, self.n_out)
        b = par[..., k: k + self.n_out]
        h = self.extractor(x)                                                           # (D, B, feat)
        out = torch.einsum("dbf,...dfo->...dbo", h, w) + b.unsqueeze(-2)
        log_noise = par[..., -1] if self.task == "regression" else None
        return out, log_noise

    def sample_z(self, mu: Tensor, logvar: Tensor, n_samples: int, generator: torch.Generator | None = None) -> Tensor:
        """(n_samples, D, z_dim) by reparameterisation; the posterior mean repeated when deterministic."""
        if not self.stochastic:
            return mu.unsqueeze(0).expand(n_samples, *mu.shape)
        eps = torch.randn((n_samples, *mu.shape), generator=generator, dtype=mu.dtype, device=mu.device)
        return mu + torch.exp(0.5 * logvar) * eps


def kl_to_standard_normal(mu: Tensor, logvar: Tensor) -> Tensor:
    """KL(N(mu, diag e^logvar) || N(0, I)) per domain, summed over dimensions (closed form)."""
    return 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar).sum(-1)


def log_likelihood(out: Tensor, log_noise: Tensor | None, y: Tensor, task: str) -> Tensor:
    """log p(y | x, z) per instance: out (..., D, B, n_out), y (D, B) -> (..., D, B) (Eq. 2 / 2')."""
    if task == "classification":
        return torch.gather(F.log_softmax(out, -1), -1, y.expand(*out.shape[:-1]).unsqueeze(-1)).squeeze(-1)
    s = log_noise.unsqueeze(-1)
    return -0.5 * math.log(2 * math.pi) - s - 0.5 * ((y - out[..., 0]) * torch.exp(-s)).pow(2)


def elbo_terms(model: LatentDomainModel, sets: Tensor, x: Tensor, y: Tensor, n_per_domain: Tensor,
               n_samples: int = 1, generator: torch.Generator | None = None) -> dict[str, Tensor]:
    """Minibatch estimate of Eq. 4 for D domains: ``sets`` (D, M, d) unlabelled, (x, y) (D, B) labelled,
    ``n_per_domain`` (D,) the domains' labelled sizes N_d. Returns per-domain ``loglik`` (the expected
    log-likelihood scaled to N_d), ``kl`` and ``elbo`` = loglik - kl."""
    mu, logvar = model.posterior(sets)
    z = model.sample_z(mu, logvar, n_samples, generator)
    out, log_noise = model.outputs(x, z)
    ll = log_likelihood(out, log_noise, y, model.task).mean(0)                    # MC average over z
    loglik = ll.mean(-1) * n_per_domain.to(ll.dtype)                                # N_d / B * sum_b
    kl = kl_to_standard_normal(mu, logvar) if model.stochastic else torch.zeros_like(loglik)
    return {"loglik": loglik, "kl": kl, "elbo": loglik - kl, "mu": mu, "logvar": logvar}


def _draw(n: int, k: int, gen: torch.Generator) -> Tensor:
    return torch.randint(n, (k,), generator=gen)


def fit(model: LatentDomainModel, domains: Sequence[tuple[Tensor, Tensor]], steps: int, batch: int, set_size: int,
        lr: float, n_samples: int, generator: torch.Generator, weight_decay: float = 0.0) -> list[float]:
    """Maximise Eq. 4 with Adam over all source domains; each step uses every source domain, ``batch``
    labelled instances and an unlabelled set of ``set_size`` instances of each. Returns the loss curve
    (negative ELBO per labelled instance)."""
    opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    sizes = torch.tensor([len(y) for _, y in domains])
    total = float(sizes.sum())
    curve = []
    for _ in range(steps):
        xb, yb, sb = [], [], []
        for xd, yd in domains:
            i = _draw(len(yd), batch, generator)
            xb.append(xd[i])
            yb.append(yd[i])
            sb.append(xd[_draw(len(yd), set_size, generator)])
        terms = elbo_terms(model, torch.stack(sb), torch.stack(xb), torch.stack(yb), sizes, n_samples, generator)
        loss = -terms["elbo"].sum() / total
        opt.zero_grad()
        loss.backward()
        opt.step()
        curve.append(loss.item())
    return curve


@torch.no_grad()
def predict(model: LatentDomainModel, x_target: Tensor, n_samples: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
    """Eq. 5 for one unseen domain from its features alone: class probabilities (or the predictive mean)
    averaged over samples of q(z | X_target); also returns the posterior mean of z."""
    mu, logvar = model.posterior(x_target.unsqueeze(0))
    z = model.sample_z(mu, logvar, n_samples, generator)
    out, _ = model.outputs(x_target.unsqueeze(0), z)
    pred = F.softmax(out, -1).mean(0)[0] if model.task == "classification" else out.mean(0)[0, :, 0]
    return pred, mu[0]


def domain_vectors(model: LatentDomainModel, sets: Sequence[Tensor]) -> Tensor:
    """Posterior means of z for a list of unlabelled sets, (len(sets), z_dim)."""
    with torch.no_grad():
        return torch.stack([model.posterior(s.unsqueeze(0))[0][0] for s in sets])
