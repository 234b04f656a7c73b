"""The paper's comparison methods, under the same splits and the same test AUC.

Every semi-supervised baseline sees the labelled nodes for training and the validation nodes for
model selection (hyperparameters, early stopping), exactly like the proposed method.

* ``ocsvm`` — one-class SVM (Schölkopf et al. 2001), scikit-learn, RBF kernel, trained on the
  attributes of the labelled normal nodes; ``nu`` chosen by validation AUC.
* ``deep_svdd`` — Deep SVDD (Ruff et al. 2018), one-class objective on the labelled normal
  nodes, bias-free MLP with the proposed method's sizes (3 layers, 32 units); = proposed loss
  with lambda = 0 and no graph (:func:`method.proposed`, ``encoder='mlp'``).
* ``deep_svdd_auc`` — Deep SVDD plus the paper's AUC term (the proposed loss on an MLP; the
  paper's "Deep SVDD + AUC" ablation without the graph), lambda chosen as for the proposed method.
* ``deep_sad`` — Deep SAD (Ruff et al. 2020), Eq. (4) of that paper: unlabelled nodes pulled to
  ``c``, labelled normals pulled to ``c``, labelled anomalies pushed away through the inverse
  distance, ``eta = 1``; unlabelled = every node outside the labelled set (attributes only).
* ``nn`` — plain neural-network classifier (MLP, 3 layers, 32 units) with cross-entropy on the
  labelled nodes; score = predicted anomaly probability.
* ``gcn`` — GCN classifier (Kipf & Welling 2017), same GCN sizes, cross-entropy.
* ``deepwalk_lr`` — DeepWalk (Perozzi et al. 2014: truncated uniform random walks + skip-gram
  with hierarchical softmax, gensim) node embeddings, then logistic regression (scikit-learn)
  on the labelled nodes; ``C`` chosen by validation AUC.
* ``dominant`` — DOMINANT (Ding et al. SDM 2019): GCN encoder, GCN attribute decoder, inner
  product structure decoder; unsupervised; score = alpha * attribute error + (1 - alpha) *
  structure error (sizes and optimiser of the authors' PyTorch code: hidden 64, dropout 0.3,
  lr 5e-3, 100 epochs, alpha 0.8). PyGOD's DOMINANT needs pyg-lib/torch-sparse samplers that
  are not installable here, so it is written out (network: ``models.Dominant``).
* ImVerde (Wu et al. 2018) is not built: see the README.

``METHODS`` (bottom) maps every method name of the tables, the paper's own included, to a builder
``build(task, cfg, cache) -> (fit, extra_rows)``: ``task`` is one split of one graph
(:class:`Task`), ``cache(kind, key, compute)`` returns a per-graph array shared by the cells of
every labelled fraction (DeepWalk embeddings, DOMINANT scores). ``run.py`` looks methods up here.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Callable, Sequence

import numpy as np
import scipy.sparse as sp
import torch
import torch.nn.functional as F
from sklearn.linear_model import LogisticRegression
from sklearn.svm import OneClassSVM

from common.runtime import derive_seed
from papers.graph_ssad import method as M
from papers.graph_ssad import models

# --------------------------------------------------------------------------------------
# Classical and classifier baselines.


def ocsvm(x: np.ndarray, y: np.ndarray, labelled: np.ndarray, val: np.ndarray,
          nus: Sequence[float]) -> tuple[float, M.Fit]:
    """One-class SVM on the labelled normal nodes; ``nu`` by validation AUC."""
    normal = labelled[y[labelled] == 0]
    x = sp.csr_matrix(x) if np.count_nonzero(x) < models.SPARSE_BELOW * x.size else x  # same kernel, faster
    fits = []
    for nu in nus:
        svm = OneClassSVM(kernel="rbf", gamma="scale", nu=float(nu)).fit(x[normal])
        s = -svm.decision_function(x)  # larger = more anomalous
        fits.append((float(nu), M.Fit(M.auc(y[val], s[val]), s, 0, 0)))
    return M.select_by_validation(fits)


def classifier(x, a_hat, y: np.ndarray, labelled: np.ndarray, val: np.ndarray, seed: int, encoder: str,
               hidden: int = 32, layers: int = 3, epochs: int = 500, patience: int = 50,
               lr: float = 1e-3) -> M.Fit:
    """Two-class network (GCN or MLP) trained with cross-entropy on the labelled nodes;
    score = softmax probability of the anomalous class; early stopping on validation AUC."""
    torch.manual_seed(seed)
    dev = models.device_of(x)
    model = models.encoder(encoder, x.shape[1], hidden, 2, layers, bias=True).to(dev)
    idx = torch.as_tensor(labelled, device=dev)
    target = torch.as_tensor(y[labelled], device=dev)
    adj = a_hat if encoder == "gcn" else None

    def loss_fn(m):
        logits = m(x, adj)
        return F.cross_entropy(logits[idx], target), torch.softmax(logits, 1)[:, 1]

    return M.train_with_early_stopping(model, loss_fn, y[val], val, epochs, patience, lr)


def deep_sad(x, y: np.ndarray, labelled: np.ndarray, val: np.ndarray, seed: int, eta: float = 1.0,
             hidden: int = 32, d_out: int = 32, layers: int = 3, epochs: int = 500, patience: int = 50,
             lr: float = 1e-3, eps: float = 1e-6, bias: bool = False, use_unlabelled: bool = True,
             center_eps: float = 0.1) -> M.Fit:
    """Deep SAD, Ruff et al. (ICLR 2020) Eq. (4), full batch:
    ``1/(n+m) sum_unlab ||phi - c||^2 + eta/(n+m) sum_lab (||phi - c||^2 + eps)^{y~}``,
    ``y~ = +1`` for labelled normals, ``-1`` for labelled anomalies. ``c`` = mean initial
    embedding of all training nodes with Deep SAD's code's guard (|c_j| < center_eps -> +-center_eps,
    0.1 in Ruff et al.'s code).

    ``use_unlabelled=False`` (method ``deep_sad_labelled``, our variant, not from either paper):
    the same loss on the labelled nodes only (training nodes = labelled nodes)."""
    torch.manual_seed(seed)
    dev = models.device_of(x)
    model = models.MLP(x.shape[1], hidden, d_out, layers, bias=bias).to(dev)
    n = x.shape[0]
    is_lab = np.zeros(n, dtype=bool)
    is_lab[labelled] = True
    unlab = torch.as_tensor(np.flatnonzero(~is_lab) if use_unlabelled else np.zeros(0, np.int64), device=dev)
    lab_normal = torch.as_tensor(labelled[y[labelled] == 0], device=dev)
    lab_anom = torch.as_tensor(labelled[y[labelled] == 1], device=dev)
    with torch.no_grad():
        h0 = model(x)
        if use_unlabelled:  # training nodes = every node
            c, total = M.hypersphere_center(h0, center_eps=center_eps), float(n)
        else:
            c = M.hypersphere_center(h0[torch.as_tensor(labelled, device=dev)], center_eps=center_eps)
            total = float(len(labelled))

    def loss_fn(m):
        d = M.anomaly_score(m(x), c)
        loss = (d[unlab].sum() + eta * d[lab_normal].sum() + eta * (1.0 / (d[lab_anom] + eps)).sum()) / total
        return loss, d

    return M.train_with_early_stopping(model, loss_fn, y[val], val, epochs, patience, lr)


# --------------------------------------------------------------------------------------
# DeepWalk + logistic regression.


def random_walks(adj: sp.csr_matrix, walks_per_node: int, walk_length: int, seed: int) -> list[list[str]]:
    """Truncated uniform random walks started ``walks_per_node`` times from every node
    (DeepWalk, Perozzi et al. 2014, Alg. 1); isolated nodes give walks of length 1."""
    rng = np.random.default_rng(seed)
    adj = sp.csr_matrix(adj)
    indptr, indices = adj.indptr, adj.indices
    deg = np.diff(indptr)
    n = adj.shape[0]
    walks = np.empty((walks_per_node * n, walk_length), dtype=np.int64)
    for r in range(walks_per_node):
        cur = rng.permutation(n)
        block = walks[r * n:(r + 1) * n]
        block[:, 0] = cur
        for t in range(1, walk_length):
            d = deg[cur]
            step = (rng.random(n) * np.maximum(d, 1)).astype(np.int64)
            nxt = indices[np.minimum(indptr[cur] + step, len(indices) - 1)] if len(indices) else cur
            cur = np.where(d > 0, nxt, cur)
            block[:, t] = cur
    out = []
    for row in walks:
        if deg[row[0]] == 0:
            out.append([str(row[0])])
        else:
            out.append([str(v) for v in row])
    return out


def _stable_hash(text: str) -> int:
    """gensim seeds each word vector with ``hashfxn(word + str(seed))``; Python's ``hash`` of a str
    changes from process to process (PYTHONHASHSEED), so a fixed hash makes DeepWalk repeatable."""
    return int(hashlib.sha256(text.encode()).hexdigest()[:8], 16)


def deepwalk_embeddings(adj: sp.csr_matrix, dim: int = 128, walks_per_node: int = 80, walk_length: int = 40,
                        window: int = 10, seed: int = 0, epochs: int = 1) -> np.ndarray:
    """DeepWalk: skip-gram with hierarchical softmax (gensim Word2Vec, ``sg=1, hs=1``) on the walks.
    One worker thread and a fixed string hash so the embedding is a function of the seed."""
    from gensim.models import Word2Vec

    walks = random_walks(adj, walks_per_node, walk_length, seed)
    model = Word2Vec(walks, vector_size=dim, window=window, min_count=0, sg=1, hs=1, negative=0,
                     workers=1, seed=seed, epochs=epochs, hashfxn=_stable_hash)
    return np.stack([model.wv[str(i)] for i in range(adj.shape[0])]).astype(np.float32)


def logistic_regression(z: np.ndarray, y: np.ndarray, labelled: np.ndarray, val: np.ndarray,
                        cs: Sequence[float], seed: int, max_iter: int = 2000) -> tuple[float, M.Fit]:
    """L2 logistic regression on node embeddings; ``C`` by validation AUC."""
    fits = []
    for c in cs:
        lr = LogisticRegression(C=float(c), max_iter=max_iter, random_state=seed).fit(z[labelled], y[labelled])
        s = lr.decision_function(z)
        fits.append((float(c), M.Fit(M.auc(y[val], s[val]), s, 0, 0)))
    return M.select_by_validation(fits)


# --------------------------------------------------------------------------------------
# DOMINANT.


def dominant_errors(a_label: torch.Tensor, a_rec: torch.Tensor, x: torch.Tensor, x_hat: torch.Tensor,
                    alpha: float) -> torch.Tensor:
    """Per-node score (Eq. 9): ``alpha ||x_i - x^_i||_2 + (1 - alpha) ||a_i - a^_i||_2``."""
    attr = torch.sqrt(((x_hat - x) ** 2).sum(1))
    struct = torch.sqrt(((a_rec - a_label) ** 2).sum(1))
    return alpha * attr + (1 - alpha) * struct


def keep_freed_memory() -> None:
    """CPU speed only, results unchanged: DOMINANT allocates and frees several N x N tensors per
    epoch (44 MB each on Citeseer); glibc returns each to the OS and faults it back in page by page
    (2 million page faults per 10 epochs, half the CPU time in the kernel). Raising glibc's mmap and
    trim thresholds keeps freed blocks for reuse. No-op where glibc is absent."""
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
        if libc is not None and hasattr(libc, "mallopt"):
            libc.mallopt(-3, 1 << 30)  # M_MMAP_THRESHOLD
            libc.mallopt(-1, 1 << 30)  # M_TRIM_THRESHOLD
    except OSError:
        pass


def dominant_scores(x_dense: np.ndarray, adj: sp.csr_matrix, seed: int, hidden: int = 64, epochs: int = 100,
                    lr: float = 5e-3, dropout: float = 0.3, alpha: float = 0.8, device="cpu") -> np.ndarray:
    """Train DOMINANT on the whole graph without labels; return every node's anomaly score.
    The structure target is ``A + I`` (authors' code)."""
    if str(device) == "cpu":
        keep_freed_memory()
    torch.manual_seed(seed)
    x = torch.as_tensor(np.asarray(x_dense, dtype=np.float32)).to(device)
    a_hat = models.normalized_adjacency(adj).to(device)
    a_label = torch.as_tensor((sp.csr_matrix(adj) + sp.eye(adj.shape[0])).toarray().astype(np.float32)).to(device)
    x_in = models.to_torch_attributes(x_dense, device)
    model = models.Dominant(x.shape[1], hidden, dropout).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    for _ in range(epochs):
        model.train()
        opt.zero_grad()
        a_rec, x_hat = model(x_in, a_hat)
        dominant_errors(a_label, a_rec, x, x_hat, alpha).mean().backward()
        opt.step()
    model.eval()
    with torch.no_grad():
        a_rec, x_hat = model(x_in, a_hat)
        return dominant_errors(a_label, a_rec, x, x_hat, alpha).cpu().numpy().astype(np.float64)


# --------------------------------------------------------------------------------------
# The protocol every method runs under, and the registry.

Cache = Callable[[str, dict, Callable[[], np.ndarray]], np.ndarray]
Outcome = tuple[M.Fit, list[dict]]


def no_cache(kind: str, key: dict, compute: Callable[[], np.ndarray]) -> np.ndarray:
    """The cache of a single call (tests): computes every time."""
    return compute()


@dataclass
class Task:
    """One split of one attributed graph: attributes in [0, 1] (``x01``), adjacency, anomaly
    labels ``y`` and the labelled / validation / test node indices. The torch forms of the
    attributes and of ``Â`` are built on first use, on ``device``."""

    x01: np.ndarray
    adj: sp.csr_matrix
    y: np.ndarray
    labelled: np.ndarray
    val: np.ndarray
    test: np.ndarray
    device: Any = field(default_factory=lambda: torch.device("cpu"))

    @property
    def num_nodes(self) -> int:
        return int(self.adj.shape[0])

    @cached_property
    def x(self):
        return models.to_torch_attributes(self.x01, self.device)

    @cached_property
    def a_hat(self):
        return models.normalized_adjacency(self.adj).to(self.device)


def _seed(cfg, stream: str) -> int:
    """The seed of one random choice of a run: a named stream of the run's seed (``init``: network
    weights and the logistic regression; ``deepwalk``: the walks and the skip-gram)."""
    return derive_seed(cfg.seed, stream)


def _net(cfg) -> dict:
    return dict(hidden=cfg.hidden, layers=cfg.layers, epochs=cfg.epochs, patience=cfg.patience, lr=cfg.lr)


def _hypersphere(encoder: str, auc_term: bool, center_eps_field: str | None = None):
    """The paper's objective on a GCN or an MLP, with the AUC term (lambda by validation) or
    without it (lambda = 0): proposed, normal_only, deep_svdd_auc, deep_svdd."""

    def build(task: Task, cfg, cache: Cache = no_cache) -> Outcome:
        lambdas = tuple(cfg.lambdas) if auc_term else (0.0,)
        center_eps = getattr(cfg, center_eps_field) if center_eps_field else 0.0
        lam, fit = M.proposed(task.x, task.a_hat if encoder == "gcn" else None, task.y, task.labelled, task.val,
                              lambdas, _seed(cfg, "init"), d_out=cfg.out_dim, encoder=encoder,
                              center_eps=center_eps, bias=cfg.hypersphere_bias, **_net(cfg))
        return fit, ([{"metric": "selected_lambda", "value": lam}] if len(lambdas) > 1 else [])

    return build


def _deep_sad(use_unlabelled: bool):
    def build(task: Task, cfg, cache: Cache = no_cache) -> Outcome:
        fit = deep_sad(task.x, task.y, task.labelled, task.val, _seed(cfg, "init"), eta=cfg.deep_sad_eta,
                       d_out=cfg.out_dim, bias=cfg.hypersphere_bias, use_unlabelled=use_unlabelled,
                       eps=cfg.deep_sad_eps, center_eps=cfg.svdd_center_eps, **_net(cfg))
        return fit, []

    return build


def _classifier(encoder: str):
    def build(task: Task, cfg, cache: Cache = no_cache) -> Outcome:
        a_hat = task.a_hat if encoder == "gcn" else None
        return classifier(task.x, a_hat, task.y, task.labelled, task.val, _seed(cfg, "init"), encoder=encoder,
                          **_net(cfg)), []

    return build


def _ocsvm(task: Task, cfg, cache: Cache = no_cache) -> Outcome:
    nu, fit = ocsvm(task.x01, task.y, task.labelled, task.val, cfg.ocsvm_nus)
    return fit, [{"metric": "selected_nu", "value": nu}]


def _deepwalk_lr(task: Task, cfg, cache: Cache = no_cache) -> Outcome:
    seed = _seed(cfg, "deepwalk")
    key = {"dataset": cfg.dataset, "seed": seed, "dim": cfg.deepwalk_dim, "walks": cfg.deepwalk_walks,
           "length": cfg.deepwalk_length, "window": cfg.deepwalk_window, "epochs": cfg.deepwalk_epochs,
           "nodes": task.num_nodes}
    z = cache("deepwalk", key, lambda: deepwalk_embeddings(task.adj, cfg.deepwalk_dim, cfg.deepwalk_walks,
                                                           cfg.deepwalk_length, cfg.deepwalk_window, seed,
                                                           cfg.deepwalk_epochs))
    c, fit = logistic_regression(z, task.y, task.labelled, task.val, cfg.lr_cs, _seed(cfg, "init"), cfg.lr_max_iter)
    return fit, [{"metric": "selected_C", "value": c}]


def _dominant(task: Task, cfg, cache: Cache = no_cache) -> Outcome:
    seed = _seed(cfg, "init") if cfg.dominant_init_seed < 0 else cfg.dominant_init_seed
    key = {"dataset": cfg.dataset, "seed": seed, "hidden": cfg.dominant_hidden, "epochs": cfg.dominant_epochs,
           "lr": cfg.dominant_lr, "dropout": cfg.dominant_dropout, "alpha": cfg.dominant_alpha,
           "nodes": task.num_nodes, "device": str(task.device)}
    s = cache("dominant", key, lambda: dominant_scores(task.x01, task.adj, seed, cfg.dominant_hidden,
                                                       cfg.dominant_epochs, cfg.dominant_lr, cfg.dominant_dropout,
                                                       cfg.dominant_alpha, task.device))
    return M.Fit(M.auc(task.y[task.val], s[task.val]), s, 0, 0), []


METHODS: dict[str, Callable[..., Outcome]] = {
    "proposed": _hypersphere("gcn", auc_term=True),
    "normal_only": _hypersphere("gcn", auc_term=False),
    "ocsvm": _ocsvm,
    "deep_svdd": _hypersphere("mlp", auc_term=False, center_eps_field="svdd_center_eps"),
    "deep_svdd_auc": _hypersphere("mlp", auc_term=True),
    "deep_sad": _deep_sad(use_unlabelled=True),
    "nn": _classifier("mlp"),
    "gcn": _classifier("gcn"),
    "deepwalk_lr": _deepwalk_lr,
    "dominant": _dominant,
    "deep_sad_labelled": _deep_sad(use_unlabelled=False),
}
