"""Networks of graph_ssad: the GCN of the proposed method, the MLP of the non-graph baselines and
DOMINANT's graph autoencoder, with the sparse products they run on.

* GCN (Kipf & Welling 2017): ``H^{l+1} = act(Â H^l W^l)``, ``Â = D̃^{-1/2} (A + I) D̃^{-1/2}``
  (their Eq. 2); 3 layers, 32 hidden units, ReLU, linear 32-d output (the paper's sizes).
* MLP: the same network with ``Â = I``.
* DOMINANT (Ding et al. SDM 2019): GCN encoder, GCN attribute decoder, inner-product structure
  decoder.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import torch
import torch.nn.functional as F
from torch import nn

SPARSE_BELOW = 0.2
"""Attributes with fewer non-zero entries than this fraction are held sparse (bag-of-words: ~1 %)."""


class SparseMatrix:
    """A fixed sparse matrix (Â or the bag-of-words attributes) held as scipy CSR with its
    transpose, multiplied through :class:`_SparseMatMul`. On CPU this is several times faster
    than ``torch.sparse.mm`` for these shapes (measured: 0.9 ms vs 6.6 ms per forward+backward of
    X W on Cora); on CUDA :meth:`to` returns a torch sparse tensor instead."""

    def __init__(self, m: sp.spmatrix) -> None:
        self.csr = sp.csr_matrix(m, dtype=np.float32)
        self.csr_t = self.csr.T.tocsr()
        self.shape = self.csr.shape

    def to(self, device) -> "SparseMatrix | torch.Tensor":
        if torch.device(device).type == "cpu":
            return self
        coo = self.csr.tocoo()
        idx = torch.as_tensor(np.vstack([coo.row, coo.col]), dtype=torch.long)
        return torch.sparse_coo_tensor(idx, torch.as_tensor(coo.data), coo.shape,
                                       check_invariants=False).coalesce().to(device)

    def dense(self) -> torch.Tensor:
        return torch.as_tensor(self.csr.toarray())


class _SparseMatMul(torch.autograd.Function):
    """``M @ D`` for a constant scipy matrix M; gradient ``M^T @ grad`` for D."""

    @staticmethod
    def forward(ctx, dense: torch.Tensor, mat: SparseMatrix) -> torch.Tensor:  # type: ignore[override]
        ctx.mat = mat
        d = dense.detach().numpy()
        return torch.from_numpy(np.asarray(mat.csr @ d, dtype=d.dtype))

    @staticmethod
    def backward(ctx, grad: torch.Tensor):  # type: ignore[override]
        g = grad.contiguous().numpy()
        return torch.from_numpy(np.asarray(ctx.mat.csr_t @ g, dtype=g.dtype)), None


def spmm(mat: "SparseMatrix | torch.Tensor", dense: torch.Tensor) -> torch.Tensor:
    """Sparse (constant) times dense, differentiable in the dense factor."""
    if isinstance(mat, SparseMatrix):
        return _SparseMatMul.apply(dense.contiguous(), mat)
    return torch.sparse.mm(mat, dense)


def normalized_adjacency(adj: sp.spmatrix) -> SparseMatrix:
    """``Â = D̃^{-1/2} (A + I) D̃^{-1/2}`` (Kipf & Welling 2017, Eq. 2), ``D̃`` the degrees of ``A + I``."""
    a = sp.csr_matrix(adj, dtype=np.float64) + sp.eye(adj.shape[0], dtype=np.float64)
    deg = np.asarray(a.sum(1)).ravel()
    d = sp.diags(1.0 / np.sqrt(deg))
    return SparseMatrix(d @ a @ d)


def device_of(x) -> torch.device:
    """Device of the node attributes (a :class:`SparseMatrix` lives on the CPU)."""
    return torch.device("cpu") if isinstance(x, SparseMatrix) else x.device


def is_sparse(h) -> bool:
    return isinstance(h, SparseMatrix) or (isinstance(h, torch.Tensor) and h.is_sparse)


def linear(h: "torch.Tensor | SparseMatrix", weight: torch.Tensor) -> torch.Tensor:
    """``h W^T`` for dense or sparse ``h`` (bag-of-words attributes are about 1 % non-zero)."""
    return spmm(h, weight.t()) if is_sparse(h) else h @ weight.t()


def to_torch_attributes(x: np.ndarray, device="cpu") -> "torch.Tensor | SparseMatrix":
    """Node attributes for the networks: sparse when fewer than ``SPARSE_BELOW`` are non-zero, else dense."""
    x = np.asarray(x, dtype=np.float32)
    if np.count_nonzero(x) < SPARSE_BELOW * x.size:
        return SparseMatrix(sp.csr_matrix(x)).to(device)
    return torch.as_tensor(x).to(device)


class GCNLayer(nn.Module):
    """One graph convolution ``Â H W (+ b)``."""

    def __init__(self, d_in: int, d_out: int, bias: bool = False) -> None:
        super().__init__()
        self.lin = nn.Linear(d_in, d_out, bias=False)
        nn.init.xavier_uniform_(self.lin.weight)
        self.bias = nn.Parameter(torch.zeros(d_out)) if bias else None

    def forward(self, h, a_hat) -> torch.Tensor:
        out = spmm(a_hat, linear(h, self.lin.weight))
        return out + self.bias if self.bias is not None else out


class GCN(nn.Module):
    """``layers`` graph convolutions, ReLU between them, linear output (the paper: 3 / 32 / 32)."""

    def __init__(self, d_in: int, hidden: int = 32, d_out: int = 32, layers: int = 3, bias: bool = False) -> None:
        super().__init__()
        dims = [d_in] + [hidden] * (layers - 1) + [d_out]
        self.layers = nn.ModuleList(GCNLayer(a, b, bias) for a, b in zip(dims[:-1], dims[1:]))

    def forward(self, x: torch.Tensor, a_hat: torch.Tensor) -> torch.Tensor:
        h = x
        for i, layer in enumerate(self.layers):
            h = layer(h, a_hat)
            if i < len(self.layers) - 1:
                h = torch.relu(h)
        return h


class MLP(nn.Module):
    """The same network without the graph (``Â = I``): the non-graph baselines' encoder."""

    def __init__(self, d_in: int, hidden: int = 32, d_out: int = 32, layers: int = 3, bias: bool = False) -> None:
        super().__init__()
        dims = [d_in] + [hidden] * (layers - 1) + [d_out]
        self.layers = nn.ModuleList(nn.Linear(a, b, bias=bias) for a, b in zip(dims[:-1], dims[1:]))
        for lin in self.layers:
            nn.init.xavier_uniform_(lin.weight)

    def forward(self, x: torch.Tensor, a_hat: torch.Tensor | None = None) -> torch.Tensor:
        h = x
        for i, lin in enumerate(self.layers):
            h = linear(h, lin.weight)
            if lin.bias is not None:
                h = h + lin.bias
            if i < len(self.layers) - 1:
                h = torch.relu(h)
        return h


def encoder(kind: str, d_in: int, hidden: int, d_out: int, layers: int, bias: bool) -> nn.Module:
    """``kind='gcn'`` (graph convolutions) or ``'mlp'`` (no graph), same sizes."""
    if kind not in ("gcn", "mlp"):
        raise ValueError(f"encoder must be 'gcn' or 'mlp'; got {kind!r}")
    return (GCN if kind == "gcn" else MLP)(d_in, hidden, d_out, layers, bias=bias)


class Dominant(nn.Module):
    """Ding et al. (SDM 2019), Sec. 3: a GCN encoder (2 layers), a GCN attribute decoder
    (2 layers) and a structure decoder ``sigmoid(Z Z^T)`` on one more GCN layer (the layer
    sizes of the authors' PyTorch code; the sigmoid of the paper's Eq. 7)."""

    def __init__(self, d_in: int, hidden: int = 64, dropout: float = 0.3) -> None:
        super().__init__()
        self.enc1, self.enc2 = GCNLayer(d_in, hidden, True), GCNLayer(hidden, hidden, True)
        self.att1, self.att2 = GCNLayer(hidden, hidden, True), GCNLayer(hidden, d_in, True)
        self.str1 = GCNLayer(hidden, hidden, True)
        self.dropout = dropout

    def forward(self, x, a_hat):
        h = F.relu(self.enc1(x, a_hat))
        h = F.dropout(h, self.dropout, self.training)
        z = F.relu(self.enc2(h, a_hat))
        xa = F.dropout(F.relu(self.att1(z, a_hat)), self.dropout, self.training)
        x_hat = F.relu(self.att2(xa, a_hat))
        zs = F.dropout(F.relu(self.str1(z, a_hat)), self.dropout, self.training)
        a_rec = torch.sigmoid(zs @ zs.t())
        return a_rec, x_hat
