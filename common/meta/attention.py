"""Attention layers over sets of examples and sets of attributes (cells of a task grid).

A task with N instances and J columns (its attributes, then its label columns) is a grid of cells
``H`` (B, N, J, d). :class:`VariableFeatureSelfAttention` attends across *examples* within each column
and then across *columns* within each instance; no parameter depends on N, J or the column order, so
one network serves any attribute space and its output is permutation-equivariant over examples and
attributes (tests/test_common_meta.py). Built for hetero_ssl (Iwata & Kumagai, 2023; the layer is the
paper's "variable-feature self-attention", its exact form reconstructed, see that paper's README);
reusable by any paper whose tasks differ in their attribute spaces.

- :class:`MultiHeadAttention`: scaled dot-product attention with an optional boolean mask.
- :func:`column_mask`: attribute cells see attribute cells and one summary token per label column,
  never their own instance's label cells; label cells see their own instance's cells.
- :func:`example_mask`: every example attends to every other one (never itself, whose key carries its
  own label), or only to the labelled ones (the no-unlabelled-data ablation).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from common.meta.encoders import mlp


class MultiHeadAttention(nn.Module):
    """Multi-head scaled dot-product attention with an optional boolean mask (True = may attend)."""

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        if dim % heads:
            raise ValueError(f"dim={dim} is not divisible by heads={heads}")
        self.heads = heads
        self.q, self.kv, self.out = nn.Linear(dim, dim), nn.Linear(dim, 2 * dim), nn.Linear(dim, dim)

    def forward(self, query: Tensor, keys: Tensor, mask: Tensor | None = None) -> Tensor:
        b, lq, d = query.shape
        h = self.heads
        q = self.q(query).view(b, lq, h, d // h).transpose(1, 2)
        k, v = self.kv(keys).view(b, keys.shape[1], 2, h, d // h).permute(2, 0, 3, 1, 4)
        o = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        return self.out(o.transpose(1, 2).reshape(b, lq, d))


class VariableFeatureSelfAttention(nn.Module):
    """One layer on cells H (B, N, J, d) whose first ``n_attr`` columns are attributes and the rest label
    columns: attention across examples per column, then across columns (plus one summary token per label
    column: the mean of that column over the labelled instances) per example; pre-norm residual blocks.

    ``labelled`` (B, N) bool marks the labelled instances; ``example_mask`` is :func:`example_mask`'s;
    ``label_ctx`` (B, N, d) is each example's label context (its embedded label when labelled, a
    "missing" vector otherwise), added to its keys in the attention across examples.
    """

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.norm_e, self.norm_c = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.norm_f1, self.norm_f2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.att_examples, self.att_columns = MultiHeadAttention(dim, heads), MultiHeadAttention(dim, heads)
        self.ff1, self.ff2 = mlp(dim, 2 * dim, dim, 1), mlp(dim, 2 * dim, dim, 1)
        self.label_key = nn.Linear(dim, dim)

    def forward(self, h: Tensor, n_attr: int, labelled: Tensor, example_mask: Tensor, label_ctx: Tensor) -> Tensor:
        b, n, j, d = h.shape
        # across examples, within each column: (B*J, N, d); the keys/values carry each example's label
        he = h.permute(0, 2, 1, 3).reshape(b * j, n, d)
        e = self.norm_e(he)
        keys = e + self.label_key(label_ctx).repeat_interleave(j, 0)
        he = he + self.att_examples(e, keys, example_mask)
        he = he + self.ff1(self.norm_f1(he))
        h = he.view(b, j, n, d).permute(0, 2, 1, 3)
        # across columns, within each example: keys = own cells + one summary token per label column
        w = labelled.to(h.dtype) / labelled.to(h.dtype).sum(1, keepdim=True).clamp_min(1.0)    # (B, N)
        summary = (h[:, :, n_attr:] * w[:, :, None, None]).sum(1, keepdim=True).expand(b, n, j - n_attr, d)
        hc = h.reshape(b * n, j, d)
        c = self.norm_c(hc)
        keys = torch.cat([c, self.norm_c(summary.reshape(b * n, j - n_attr, d))], 1)
        hc = hc + self.att_columns(c, keys, column_mask(n_attr, j - n_attr, h.device))
        hc = hc + self.ff2(self.norm_f2(hc))
        return hc.view(b, n, j, d)


def column_mask(n_attr: int, n_label: int, device=None) -> Tensor:
    """(J, J + L) boolean: attribute cells see attribute cells and the summary tokens (never their own
    instance's labels); label cells see their instance's attribute and label cells."""
    j = n_attr + n_label
    m = torch.zeros(j, j + n_label, dtype=torch.bool, device=device)
    m[:n_attr, :n_attr] = True
    m[:n_attr, j:] = True
    m[n_attr:, :j] = True
    return m


def example_mask(labelled: Tensor, n_columns: int, use_unlabelled: bool) -> Tensor:
    """Mask of the attention across examples (True = may attend): every other example (never itself, whose
    key carries its own label; the residual keeps its own value) or, for the ablation, every other *labelled*
    example. Shape (1, 1, N, N) or (B*J, 1, N, N)."""
    b, n = labelled.shape
    others = ~torch.eye(n, dtype=torch.bool, device=labelled.device)
    if use_unlabelled:
        return others[None, None]
    m = labelled[:, None, :].expand(b, n, n) & others
    return m.repeat_interleave(n_columns, 0).unsqueeze(1)
