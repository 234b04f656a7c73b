"""The competitors: per-task unsupervised feature selectors fitted on the N target instances only.

- Laplacian score (He, Cai & Niyogi 2005): L_r = f~' L f~ / f~' D f~ on a kNN heat-kernel graph,
  f~ = f - (f' D 1 / 1' D 1) 1; smaller is better.
- SPEC (Zhao & Liu 2007), ranking function phi_2: f^ = D^1/2 f / ||D^1/2 f||,
  phi_2 = f^' L^ f^ / (1 - (f^' xi_1)^2) with the normalised Laplacian L^ of an RBF graph and its
  trivial eigenvector xi_1; smaller is better.
- MCFS (Cai, Zhang & He 2010): spectral embedding Y (the ``n_ways`` leading non-trivial eigenvectors
  of the normalised affinity), one LARS regression per column with at most K non-zero coefficients,
  score max_c |a_jc|; larger is better.
- NDFS (Li et al. 2012): min Tr(F' L F) + alpha (||XW - F||^2 + beta ||W||_21) + gamma/4 ||F'F - I||^2,
  F >= 0, by the multiplicative updates of the paper; score ||w_j||_2; larger is better.
- variance (largest variance on the N instances) and random selection.

The graph is scikit-feature's ``construct_W`` (kNN heat kernel, k = ``graph_k`` capped at N - 1).
Laplacian score, MCFS and NDFS are written here and checked against scikit-feature (pinned
``skfeature-chappers``) on small tables in the tests; SPEC is checked against its definition, because
the library's SPEC fails on numpy >= 2 (README). Ours, vectorised: NDFS solves its D x D inverse
through the push-through identity on an N x N system (identical iterates, N << D here); MCFS scores
with |a_jc| as its paper says (the library takes the signed maximum).

``METHODS`` maps every method name (the paper's own included) to the kind of selector ``run.py``
builds: ``filter`` (a function here), ``meta`` (a meta-trained model) or ``per_task`` (the concrete
autoencoder trained on the N instances).
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy.linalg import eigh
from skfeature.utility.construct_W import construct_W
from sklearn.cluster import KMeans
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import Lars
from sklearn.metrics.pairwise import euclidean_distances


def knn_heat_graph(x: np.ndarray, k: int) -> np.ndarray:
    """Symmetric kNN heat-kernel affinity (dense), scikit-feature's construction; t^2 = the mean squared
    distance to the k nearest neighbours (ours: the library's t = 1 underflows on pixel data)."""
    x = np.asarray(x, dtype=np.float64)
    k = max(1, min(k, len(x) - 1))
    d2 = np.sort(euclidean_distances(x, squared=True), axis=1)[:, 1:k + 1]
    t = np.sqrt(max(d2.mean(), 1e-12) / 2.0)           # exp(-d^2 / (2 t^2)) = exp(-d^2 / mean d^2)
    w = construct_W(x.copy(), metric="euclidean", neighbor_mode="knn", weight_mode="heat_kernel", k=k, t=t)
    return np.asarray(w.toarray(), dtype=np.float64)


def laplacian_score(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Laplacian score of every feature (smaller = better); constant features score +inf."""
    x = np.asarray(x, dtype=np.float64)
    deg = w.sum(1)
    f = x - (deg @ x) / deg.sum()
    den = np.einsum("nd,n,nd->d", f, deg, f)
    num = den - np.einsum("nd,nm,md->d", f, w, f)
    return np.where(den > 1e-12, num / np.maximum(den, 1e-300), np.inf)


def rbf_graph(x: np.ndarray) -> np.ndarray:
    """Full RBF affinity exp(-||x_i - x_j||^2 / mean squared distance) (SPEC's graph; bandwidth ours)."""
    d2 = euclidean_distances(np.asarray(x, dtype=np.float64), squared=True)
    n = len(x)
    scale = d2.sum() / max(n * (n - 1), 1)
    return np.exp(-d2 / max(scale, 1e-12))


def spec_score(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """SPEC phi_2 of every feature (smaller = better); features with D^1/2 f parallel to xi_1 score +inf."""
    x = np.asarray(x, dtype=np.float64)
    deg = w.sum(1)
    s = 1.0 / np.sqrt(deg)
    lap_n = np.eye(len(w)) - s[:, None] * w * s[None, :]
    fh = np.sqrt(deg)[:, None] * x
    norm = np.linalg.norm(fh, axis=0)
    fh = fh / np.maximum(norm, 1e-300)
    xi1 = np.sqrt(deg) / np.linalg.norm(np.sqrt(deg))
    num = np.einsum("nd,nm,md->d", fh, lap_n, fh)
    den = 1.0 - (xi1 @ fh) ** 2
    return np.where((norm > 1e-12) & (den > 1e-10), num / np.maximum(den, 1e-300), np.inf)


def mcfs_coefficients(x: np.ndarray, w: np.ndarray, n_selected: int, n_clusters: int) -> np.ndarray:
    """MCFS: the (D, n_clusters) LARS coefficients (the paper's spectral regression)."""
    w = (w + w.T) / 2
    dn = np.diag(np.sqrt(1.0 / w.sum(1)))
    wn = dn @ w @ dn
    _, vec = eigh(wn)
    y = dn @ vec[:, -n_clusters - 1:-1]
    coef = np.zeros((x.shape[1], n_clusters))
    with warnings.catch_warnings():   # LARS drops degenerate regressors when N < K (few instances)
        warnings.simplefilter("ignore", ConvergenceWarning)
        for c in range(n_clusters):
            coef[:, c] = Lars(n_nonzero_coefs=n_selected).fit(x, y[:, c]).coef_
    return coef


def mcfs_score(x, w, n_selected, n_clusters):
    return np.abs(mcfs_coefficients(np.asarray(x, np.float64), w, n_selected, n_clusters)).max(1)


def ndfs_initial_labels(x: np.ndarray, n_clusters: int, seed: int) -> np.ndarray:
    """NDFS's initialisation (as scikit-feature): k-means indicator Y, F = Y (Y'Y)^-1/2 + 0.02."""
    lab = KMeans(n_clusters, n_init=10, random_state=seed).fit(x).labels_
    y = np.eye(n_clusters)[lab]
    return y @ np.diag(1.0 / np.sqrt(np.maximum(y.sum(0), 1.0))) + 0.02


def ndfs_weights(x: np.ndarray, w: np.ndarray, f0: np.ndarray, alpha: float = 1.0, beta: float = 1.0,
                 gamma: float = 1e8, max_iter: int = 1000, tol: float = 1e-3,
                 laplacian: np.ndarray | None = None) -> np.ndarray:
    """NDFS multiplicative updates (scikit-feature's loop and stopping rule), W as (D, c). ``laplacian``
    overrides L = diag(W 1) - W (the tests pass the library's own construction to compare iterates)."""
    x = np.asarray(x, dtype=np.float64)
    n, d = x.shape
    c = f0.shape[1]
    lap = np.diag(w.sum(1)) - w if laplacian is None else laplacian
    a = np.ones(d) * beta + 1e-6                         # diag(beta D + 1e-6 I), D = I at the start
    f = f0.astype(np.float64).copy()
    prev = None
    wmat = np.zeros((d, c))
    for _ in range(max_iter):
        xa = x / a                                       # X A^-1
        p_inv = np.linalg.inv(xa @ x.T + np.eye(n))      # (I + X A^-1 X')^-1
        wmat = xa.T @ (p_inv @ f)                        # (X'X + A)^-1 X' F  (push-through)
        r = np.sqrt((wmat * wmat).sum(1))
        a = beta * 0.5 / np.maximum(r, 1e-16) + 1e-6
        xa = x / a
        pm = xa @ x.T
        m = lap + alpha * (np.eye(n) - pm @ np.linalg.inv(pm + np.eye(n)))
        m = (m + m.T) / 2
        f = f * (gamma * f) / (m @ f + gamma * f @ (f.T @ f))
        f = f @ np.diag(np.sqrt(1.0 / (np.diag(f.T @ f) + 1e-16)))
        obj = np.trace(f.T @ m @ f) + gamma / 4 * np.linalg.norm(f.T @ f - np.eye(c), "fro")
        if prev is not None and abs(obj - prev) < tol:
            break
        prev = obj
    return wmat


def top_k(score: np.ndarray, k: int, larger_is_better: bool) -> np.ndarray:
    order = np.argsort(-score if larger_is_better else score, kind="stable")
    return order[:k]


def select_filter(name: str, x: np.ndarray, k: int, cfg, rng: np.random.Generator) -> np.ndarray:
    """K feature indices of a per-task filter baseline from the N instances ``x`` (N, D)."""
    x = np.asarray(x, dtype=np.float64)
    if name == "random":
        return rng.choice(x.shape[1], k, replace=False)
    if name == "variance":
        return top_k(x.var(0), k, True)
    if name == "spec":
        return top_k(spec_score(x, rbf_graph(x)), k, False)
    w = knn_heat_graph(x, cfg.graph_k)
    if name == "laplacian":
        return top_k(laplacian_score(x, w), k, False)
    nc = min(cfg.n_ways, len(x) - 2)
    if name == "mcfs":
        return top_k(mcfs_score(x, w, k, nc), k, True)
    if name == "ndfs":
        f0 = ndfs_initial_labels(x, nc, int(rng.integers(2**31)))
        wm = ndfs_weights(x, w, f0, gamma=cfg.ndfs_gamma)
        return top_k((wm * wm).sum(1), k, True)
    raise KeyError(name)


METHODS = {"proposed": "meta", "proposed_noenc": "meta", "cae": "per_task",
           **{n: "filter" for n in ("laplacian", "spec", "mcfs", "ndfs", "variance", "random")}}
