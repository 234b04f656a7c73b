"""Few-shot unsupervised feature selection (Kumagai, Iwata & Fujiwara 2021): the proposed method.

Implemented from the abstract and introduction (the method section could not be read; every choice
below marked *ours* is a reconstruction, README "Reconstructed choices"):

- Concrete selector (Maddison et al. 2017; Abid et al. 2019). K Concrete variables over the D
  features; variable k draws  m_k = softmax((a_k + g_k) / T),  g_k ~ Gumbel(0, 1)^D     (Eq. 1)
  and the k-th selected value of an instance x is  u_k = m_k . x.  As T -> 0, m_k -> one-hot at
  argmax_d (a_kd + g_kd) (tested). T is annealed exponentially from ``temp_start`` to ``temp_end``
  over training (Abid et al.'s schedule; *ours* for the values).
- Task adaptation without training: the logits a = h(z) and the decoder x_hat = f([u, z]) both
  depend on z = rho(mean_n phi(x_n)), a permutation-invariant (Deep Sets) encoding of the N
  unlabelled target instances (so the selection is invariant to their order: tested).
- Meta-training (Eq. 2): minimise over source tasks t the expected test reconstruction error
  E_t E_{S, Q ~ t} (1/|Q| D) sum_{x in Q} || f([u(x; a(S)), z(S)], z(S)) - x ||^2, with support S
  and query Q disjoint draws from the same task; N is drawn uniformly in
  [train_support_min, train_support_max] each step so one model serves every target size (*ours*).
- Test time: the K features are read off the logits of the target support, a(S), with no per-task
  training; K distinct features are taken greedily (variable with the largest logit first, each
  picking its best unused feature; *ours*: Abid et al. take argmax per variable and may repeat).

Equation numbers are ours (the paper's could not be read). Pure functions of tensors; no file I/O.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from papers.fewshot_fs.models import FewShotSelector


def concrete_sample(logits: Tensor, temp: float, generator: torch.Generator | None = None) -> Tensor:
    """Eq. 1: a relaxed one-hot sample over the last axis of ``logits`` at temperature ``temp``."""
    u = torch.rand(logits.shape, generator=generator, dtype=logits.dtype).clamp_(1e-10, 1.0 - 1e-7)
    g = -torch.log(-torch.log(u))
    return torch.softmax((logits + g) / temp, dim=-1)


def temperature(step: int, n_steps: int, temp_start: float, temp_end: float) -> float:
    """Exponential annealing T_s = T_0 (T_end / T_0)^(s / (S - 1))."""
    if n_steps <= 1:
        return temp_end
    return temp_start * (temp_end / temp_start) ** (step / (n_steps - 1))


def distinct_top(logits: Tensor) -> np.ndarray:
    """K distinct feature indices from logits (K, D), one per Concrete variable and in the variables' order
    (the decoder's input order): variables in order of their largest logit, each taking its best feature
    not taken yet."""
    a = logits.detach().cpu().numpy().astype(np.float64)
    k, d = a.shape
    if k > d:
        raise ValueError(f"cannot select {k} distinct features out of {d}")
    out = np.full(k, -1)
    for j in np.argsort(-a.max(1), kind="stable"):
        row = a[j].copy()
        row[out[out >= 0]] = -np.inf
        out[j] = int(np.argmax(row))
    return out                                            # out[j] = the feature of variable j (decoder order)


def one_hot_selection(idx: np.ndarray, dim: int, dtype=torch.float32) -> Tensor:
    m = torch.zeros(len(idx), dim, dtype=dtype)
    m[torch.arange(len(idx)), torch.as_tensor(idx)] = 1.0
    return m


def reconstruction_loss(model: FewShotSelector, support: Tensor, query: Tensor, temp: float,
                        generator: torch.Generator | None = None) -> Tensor:
    """Eq. 2 for a batch of tasks: support (T, N, D), query (T, Q, D); Concrete-relaxed selection."""
    z = model.encode(support)
    m = concrete_sample(model.logits(support, z), temp, generator)        # (T, K, D)
    u = torch.einsum("tqd,tkd->tqk", query, m)
    return ((model.decode(u, z) - query) ** 2).mean()


def meta_train(model: FewShotSelector, draw_batch, n_steps: int, lr: float, temp_start: float, temp_end: float,
               generator: torch.Generator, support_range: tuple[int, int], rng: np.random.Generator,
               log_every: int = 0, log=None) -> list[float]:
    """Minimise Eq. 2 with Adam. ``draw_batch(rng, n_support)`` returns (support, query) arrays of a batch of
    source tasks. Returns the loss per step."""
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    losses = []
    for step in range(n_steps):
        n = int(rng.integers(support_range[0], support_range[1] + 1))
        s, q = draw_batch(rng, n)
        loss = reconstruction_loss(model, torch.as_tensor(s), torch.as_tensor(q),
                                   temperature(step, n_steps, temp_start, temp_end), generator)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
        if log is not None and log_every and (step + 1) % log_every == 0:
            log.info("step %d/%d loss %.5f T %.3g", step + 1, n_steps, np.mean(losses[-log_every:]),
                     temperature(step, n_steps, temp_start, temp_end))
    return losses


@torch.no_grad()
def select(model: FewShotSelector, support: np.ndarray) -> np.ndarray:
    """Test time: K distinct features from the logits of one target support set (N, D); no training."""
    model.eval()
    return distinct_top(model.logits(torch.as_tensor(support)[None])[0])


@torch.no_grad()
def decoder_reconstruction(model: FewShotSelector, support: np.ndarray, idx: np.ndarray,
                           query: np.ndarray) -> np.ndarray:
    """The model's own reconstruction of ``query`` (Q, D) from its selected features ``idx``."""
    model.eval()
    s = torch.as_tensor(support)[None]
    z = model.encode(s)
    u = torch.as_tensor(query)[None][..., torch.as_tensor(idx)]
    return model.decode(u, z)[0].numpy()


def fit_concrete_autoencoder(x: np.ndarray, n_selected: int, hidden: int, n_steps: int, lr: float,
                             temp_start: float, temp_end: float, generator: torch.Generator) -> FewShotSelector:
    """The per-task concrete autoencoder (Abid et al. 2019) trained on the task's N instances only
    (full batch, reconstructing the instances themselves)."""
    model = FewShotSelector(x.shape[1], n_selected, hidden, 1, free_logits=True)
    with torch.no_grad():
        model.logit_param.copy_(1e-2 * torch.randn(model.logit_param.shape, generator=generator))
    xt = torch.as_tensor(x)[None]
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    for step in range(n_steps):
        loss = reconstruction_loss(model, xt, xt, temperature(step, n_steps, temp_start, temp_end), generator)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model

