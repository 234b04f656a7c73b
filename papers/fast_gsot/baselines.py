"""Peers run side by side with the paper's methods, through POT (Python Optimal Transport).

* ``pot_solve_dual``: the *same* objective (Eq. D of method.py) solved inside POT: a
  ``GroupSparseL2`` regulariser object supplies ``delta_Omega`` (value and gradient of
  delta for every column) and ``ot.smooth.solve_dual`` runs scipy's L-BFGS-B on it, the way POT
  runs its own squared-L2 and entropic smooth duals (Blondel, Seguy & Rolet, AISTATS 2018).
* ``sinkhorn_group_lasso``: ``ot.da.sinkhorn_l1l2_gl``, entropic OT with the (unsquared)
  group-lasso term of Courty et al. (TPAMI 2017), solved by generalised conditional gradient.
  A different objective: only its time, plan sparsity and DA accuracy are compared.
* ``no_adaptation_1nn``: 1-nearest-neighbour from the labelled source straight to the target.
"""

from __future__ import annotations

import time

import numpy as np
import ot
from sklearn.neighbors import KNeighborsClassifier


class GroupSparseL2(ot.smooth.Regularization):
    """Omega(t) = gamma sum_g [(1-rho)/2 ||t_g||^2 + rho ||t_g||] for POT's smooth-OT solvers.

    Rows of X must be sorted by group (``starts`` = first row of each group), which is how the
    problem is handed to POT here; delta_Omega is the conjugate over t >= 0 (Eq. D, G)."""

    def __init__(self, starts: np.ndarray, gamma: float = 1.0, rho: float = 0.5):
        super().__init__(gamma)
        self.starts = np.asarray(starts)
        self.rho = float(rho)

    def delta_Omega(self, X):
        gp, thr = self.gamma * (1.0 - self.rho), self.gamma * self.rho
        Xp = np.maximum(X, 0.0)
        norms = np.sqrt(np.add.reduceat(Xp * Xp, self.starts, axis=0))       # (L, n)
        excess = np.maximum(norms - thr, 0.0)
        val = np.sum(excess * excess, axis=0) / (2.0 * gp)
        scale = np.divide(excess, gp * norms, out=np.zeros_like(norms), where=norms > 0)
        sizes = np.diff(np.r_[self.starts, X.shape[0]])
        G = Xp * np.repeat(scale, sizes, axis=0)
        return val, G

    def max_Omega(self, X, b):  # pragma: no cover - only the dual is used
        raise NotImplementedError("the semi-dual of the group-sparse regulariser is not used here")

    def Omega(self, T):
        norms = np.sqrt(np.add.reduceat(T * T, self.starts, axis=0))
        return self.gamma * np.sum(0.5 * (1.0 - self.rho) * norms ** 2 + self.rho * norms)


def pot_solve_dual(C_sorted, a_sorted, b, starts, gamma, rho, tol, max_iter):
    """Same objective in POT. Returns (plan in sorted row order, info dict)."""
    regul = GroupSparseL2(starts, gamma, rho)
    t0, c0 = time.perf_counter(), time.thread_time()
    alpha, beta, res = ot.smooth.solve_dual(a_sorted, b, C_sorted, regul, tol=tol, max_iter=max_iter)
    wall, cpu = time.perf_counter() - t0, time.thread_time() - c0
    T = ot.smooth.get_plan_from_dual(alpha, beta, C_sorted, regul)
    return T, {"objective": -float(res.fun), "n_iter": int(res.nit), "n_evals": int(res.nfev),
               "time_s": wall, "cpu_time_s": cpu, "alpha": alpha, "beta": beta}


def sinkhorn_group_lasso(a, ys, b, C, reg, eta, outer, inner):
    """POT's entropic group-lasso OT (Courty et al. 2017). Returns (plan, info)."""
    t0, c0 = time.perf_counter(), time.thread_time()
    T = ot.da.sinkhorn_l1l2_gl(a, ys, b, C, reg, eta, numItermax=outer, numInnerItermax=inner)
    wall, cpu = time.perf_counter() - t0, time.thread_time() - c0
    return T, {"time_s": wall, "cpu_time_s": cpu}


def no_adaptation_1nn(xs, ys, xt):
    return KNeighborsClassifier(n_neighbors=1).fit(xs, ys).predict(xt)
