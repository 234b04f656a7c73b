"""Networks of fewshot_fs: the set-conditioned Concrete selector + decoder, and its encoder-free ablation.

``FewShotSelector`` (the proposed model): a permutation-invariant set encoder (Deep Sets,
``common.meta.encoders.DeepSetEncoder``) maps the N unlabelled target instances to z; a head maps z to
the K x D logits of K Concrete selection variables (with ``feature_hidden`` > 0 plus a per-feature term,
ours: a Deep Sets network over the N values of each feature, given z, adds that feature's K logits, so
the selection can respond to how each feature behaves in the target instances); the decoder maps the K selected values of an
instance together with z back to all D features. With ``use_set_encoding=False`` (the ablation) z is a
learned vector shared by every task, so the selection and the decoder no longer depend on the target
instances and every other part is unchanged. With ``free_logits=True`` the logits are free parameters
and the decoder sees only the selected values: the concrete autoencoder of Abid et al. (2019), the
per-task baseline.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from common.meta.encoders import DeepSetEncoder, mlp


class FewShotSelector(nn.Module):
    def __init__(self, dim: int, n_selected: int, hidden: int, embed: int, use_set_encoding: bool = True,
                 free_logits: bool = False, feature_hidden: int = 0) -> None:
        super().__init__()
        self.dim, self.k = dim, n_selected
        self.feature_hidden = feature_hidden if (use_set_encoding and not free_logits) else 0
        self.use_set_encoding = use_set_encoding and not free_logits
        self.free_logits = free_logits
        if free_logits:
            self.logit_param = nn.Parameter(1e-2 * torch.randn(n_selected, dim))
            self.decoder = mlp(n_selected, hidden, dim, n_hidden=2)
            return
        if use_set_encoding:
            self.encoder = DeepSetEncoder(dim, hidden, embed, n_hidden=2, pool="mean")
            if self.feature_hidden:   # per-feature Deep Sets over the N values of each feature (ours)
                self.feature_encoder = DeepSetEncoder(1 + embed, self.feature_hidden, n_selected, n_hidden=1)
        else:
            self.task_vector = nn.Parameter(torch.zeros(embed))
        self.head = mlp(embed, hidden, n_selected * dim, n_hidden=1)
        self.decoder = mlp(n_selected + embed, hidden, dim, n_hidden=2)

    def encode(self, support: Tensor) -> Tensor | None:
        """z (T, E) of the support sets (T, N, D): the set encoding, or the shared learned vector (ablation);
        None for the free-logit concrete autoencoder."""
        if self.free_logits:
            return None
        if self.use_set_encoding:
            return self.encoder(support)
        return self.task_vector.expand(support.shape[0], -1)

    def logits(self, support: Tensor, z: Tensor | None = None) -> Tensor:
        """Selection logits (T, K, D) of the K Concrete variables, a function of the support set only."""
        if self.free_logits:
            return self.logit_param.expand(support.shape[0], -1, -1)
        z = self.encode(support) if z is None else z
        out = self.head(z).view(-1, self.k, self.dim)
        if self.feature_hidden:
            t, n, d = support.shape
            cols = support.transpose(1, 2).unsqueeze(-1)                           # (T, D, N, 1)
            ctx = z[:, None, None, :].expand(t, d, n, z.shape[-1])
            out = out + self.feature_encoder(torch.cat([cols, ctx], -1)).transpose(1, 2)   # (T, K, D)
        return out

    def decode(self, selected: Tensor, z: Tensor | None) -> Tensor:
        """Reconstruction (T, Q, D) of all features from the selected values (T, Q, K) and z."""
        if z is not None:
            selected = torch.cat([selected, z.unsqueeze(1).expand(-1, selected.shape[1], -1)], -1)
        return self.decoder(selected)
