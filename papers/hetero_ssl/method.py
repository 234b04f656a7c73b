"""Meta-learning of semi-supervised learning from tasks with heterogeneous attribute spaces (Iwata & Kumagai,
2023): variable-feature self-attention embeds the labelled and unlabelled instances of a task together; a
classifier / regressor adapted in the embedding space in closed form estimates the unlabelled labels; the
network is meta-trained on the loss of those estimates over many tasks.

Only the abstract and the introduction could be read; every architectural detail below is our
reconstruction (README, "Reconstructed choices"):

- A task is a grid of cells: instance n x column j, columns = the task's D attributes and its label columns
  (one per class for classification, one for regression). An attribute cell embeds its value; a label cell
  embeds the label value of a labelled instance, or a learned "missing" vector for an unlabelled one.
- A variable-feature self-attention layer (VFSA) runs multi-head attention across *examples* within each
  column, then across *columns* (attributes and labels) within each instance, each with a residual and a
  feed-forward block (pre-norm). No parameter depends on D or on the column order, so one network serves any
  attribute space and the output is permutation-equivariant over examples and attributes (tests).
- Attribute cells never attend to their own instance's label cells (that would hand a labelled instance's
  label to its own embedding, which the unlabelled ones lack); labels reach the attribute cells through one
  *summary token* per label column, the mean of that column's label cells over the labelled instances.
- In the attention across examples the keys and values of an example carry its embedded label (labelled) or
  a learned "missing" vector (unlabelled); an example never attends to itself (its key holds its own label;
  the residual keeps its value), so a labelled instance's label does not reach its own embedding directly.
- Embedding z_n = MLP(mean over attribute cells of instance n); the head sees [z_n, x_n, 1] (a skip
  connection of the raw attributes, ours: the per-task head can take any number of attributes).
- Adaptation (closed form, differentiable): ridge regression of the labels (one-hot for classification) on
  [z, 1] from the labelled instances; then ``head_steps`` semi-supervised steps that add the unlabelled
  instances with their current soft estimates (softmax of the scaled scores; regression: the current
  prediction) at a learned weight gamma and solve again (an EM-like self-training in closed form).
  The ridge penalty, gamma and the softmax scale are meta-learned.
- Ablation ``unlabelled=False``: unlabelled instances attend only to the labelled ones and themselves
  (never to each other) and the head uses only the labelled instances.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from common.meta.attention import VariableFeatureSelfAttention, example_mask
from common.meta.closed_form import weighted_ridge
from common.meta.encoders import mlp


class HeteroSSLNet(nn.Module):
    """Variable-feature self-attention embedding + closed-form semi-supervised head (the proposed method).

    ``forward(x, y_l)``: ``x`` (B, N, D) with the N_L labelled instances first, ``y_l``
    (B, N_L, L) their label values (one-hot or the target); returns the estimates for the N - N_L
    unlabelled instances: logits (B, N_U, L) or predictions (B, N_U, 1).
    """

    def __init__(self, problem: str, n_label_columns: int, dim: int = 64, heads: int = 4, layers: int = 3, embed: int = 32,
                 head_steps: int = 2, unlabelled: bool = True, raw_skip: bool = True) -> None:
        super().__init__()
        self.problem, self.head_steps, self.use_unlabelled, self.raw_skip = problem, head_steps, unlabelled, raw_skip
        self.label_ctx = nn.Linear(n_label_columns, dim)
        self.attr_in = mlp(1, dim, dim, 1)
        self.label_in = mlp(1, dim, dim, 1)
        self.type_attr = nn.Parameter(torch.randn(dim) * 0.1)
        self.type_label = nn.Parameter(torch.randn(dim) * 0.1)
        self.missing = nn.Parameter(torch.randn(dim) * 0.1)
        self.blocks = nn.ModuleList(VariableFeatureSelfAttention(dim, heads) for _ in range(layers))
        self.norm = nn.LayerNorm(dim)
        self.out = mlp(dim, dim, embed, 1)
        self.log_lam = nn.Parameter(torch.tensor(0.0))       # ridge penalty
        self.gamma_logit = nn.Parameter(torch.tensor(-2.0))   # weight of the unlabelled instances in the head
        self.log_scale = nn.Parameter(torch.tensor(math.log(3.0)))   # softmax scale of the ridge scores

    def embed(self, x: Tensor, y_l: Tensor) -> Tensor:
        """Instance embeddings z (B, N, embed) of a task's labelled (first N_L) and unlabelled instances."""
        b, n, d = x.shape
        n_l, n_lab_cols = y_l.shape[1], y_l.shape[2]
        labelled = torch.zeros(b, n, dtype=torch.bool, device=x.device)
        labelled[:, :n_l] = True
        attr = self.attr_in(x.unsqueeze(-1)) + self.type_attr
        lab_l = self.label_in(y_l.unsqueeze(-1)) + self.type_label
        lab_u = (self.missing + self.type_label).expand(b, n - n_l, n_lab_cols, -1)
        h = torch.cat([attr, torch.cat([lab_l, lab_u], 1)], 2)              # (B, N, D + L, dim)
        mask = example_mask(labelled, d + n_lab_cols, self.use_unlabelled)
        # per-example label context: a linear embedding of the label vector (one-hot / target) of a labelled
        # example, the "missing" vector for an unlabelled one
        ctx_l = self.label_ctx(y_l)
        ctx = torch.cat([ctx_l, self.missing.expand(b, n - n_l, -1)], 1)
        for block in self.blocks:
            h = block(h, d, labelled, mask, ctx)
        return self.out(self.norm(h[:, :, :d].mean(2)))

    def head(self, z: Tensor, y_l: Tensor, x: Tensor | None = None) -> Tensor:
        """Closed-form (semi-supervised) adaptation in the embedding space (with the raw attributes ``x`` appended
        when given: a skip connection, ours); estimates for the unlabelled."""
        n_l = y_l.shape[1]
        phi = torch.cat([z] + ([x] if x is not None else []) + [torch.ones_like(z[..., :1])], -1)
        phi_l, phi_u = phi[:, :n_l], phi[:, n_l:]
        lam = F.softplus(self.log_lam) + 1e-3
        scale = self.log_scale.exp()
        w = weighted_ridge(phi_l, y_l, torch.ones_like(phi_l[..., 0]), lam)
        steps = self.head_steps if self.use_unlabelled else 0
        for _ in range(steps):
            est = phi_u @ w
            soft = torch.softmax(scale * est, -1) if self.problem == "classification" else est
            weights = torch.cat([torch.ones_like(phi_l[..., 0]),
                                 torch.sigmoid(self.gamma_logit) * torch.ones_like(phi_u[..., 0])], 1)
            w = weighted_ridge(phi, torch.cat([y_l, soft], 1), weights, lam)
        est = phi_u @ w
        return scale * est if self.problem == "classification" else est

    def forward(self, x: Tensor, y_l: Tensor) -> Tensor:
        return self.head(self.embed(x, y_l), y_l, x if self.raw_skip else None)
