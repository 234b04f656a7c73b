"""The methods run side by side on one instance, and the registry ``METHODS`` that ``run.py`` uses.

``METHODS[name](instance, cfg, done) -> {method: {metric: value}}``: each entry solves the instance
and returns its metrics; ``done`` holds the solutions of the
methods that already ran. Run in the order of ``METHODS``: original, fast, pot_dual,
sinkhorn_l1l2_gl, emd, no_adapt; then :func:`exact_speedups` gives the fast method's speedups over
``original``, over ``pot_dual`` and over the faster of the two in the same cell. Solvers are timed by the CPU time of the calling thread with BLAS
limited to one thread (threadpoolctl), so the comparison is single-threaded.

* ``original`` and ``fast``: the paper's two dual solvers (:mod:`papers.fast_gsot.method`).

Peers, through POT (Python Optimal Transport):

* ``pot_solve_dual``: the *same* objective (Eq. D of method.py) solved inside POT: a
  ``GroupSparseL2`` regulariser object supplies ``delta_Omega`` (value and gradient of
  delta for every column) and ``ot.smooth.solve_dual`` runs scipy's L-BFGS-B on it, the way POT
  runs its own squared-L2 and entropic smooth duals (Blondel, Seguy & Rolet, AISTATS 2018).
* ``sinkhorn_group_lasso``: ``ot.da.sinkhorn_l1l2_gl``, entropic OT with the (unsquared)
  group-lasso term of Courty et al. (TPAMI 2017), solved by generalised conditional gradient.
  A different objective: only its time, plan sparsity and DA accuracy are compared.
* ``emd``: unregularised exact OT (``ot.emd``), same cost and label rule (a DA diagnostic).
* ``no_adaptation_1nn``: 1-nearest-neighbour from the labelled source straight to the target.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

import numpy as np
import ot
from sklearn.neighbors import KNeighborsClassifier
from threadpoolctl import threadpool_limits

from papers.fast_gsot import method as F

ZERO_REL = 1e-12  # a plan entry counts as zero when <= ZERO_REL * max entry (all methods alike)


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


# --------------------------------------------------------------------------------------
# One instance, the metrics of a plan, and the registry.


@dataclass(frozen=True)
class Instance:
    """One domain-adaptation instance: labelled source, unlabelled target, cost, uniform marginals."""

    name: str
    xs: np.ndarray
    ys: np.ndarray
    xt: np.ndarray
    yt: np.ndarray
    C: np.ndarray
    prob: F.GroupSparseOTProblem

    @property
    def a(self) -> np.ndarray:
        return np.full(self.C.shape[0], 1.0 / self.C.shape[0])

    @property
    def b(self) -> np.ndarray:
        return np.full(self.C.shape[1], 1.0 / self.C.shape[1])


def plan_metrics(T: np.ndarray, inst: Instance) -> dict:
    """Plan sparsity, marginal error and DA accuracy (transported source labels)."""
    ys, xt, yt, a, b = inst.ys, inst.xt, inst.yt, inst.a, inst.b
    classes = np.unique(ys)
    zero = T <= ZERO_REL * max(T.max(), 0.0)
    mass = np.stack([T[ys == c].sum(axis=0) for c in classes])              # (L, n)
    zero_blocks = np.stack([zero[ys == c].all(axis=0) for c in classes])
    pred = classes[np.argmax(mass, axis=0)]                                  # label propagation
    rows = T.sum(axis=1, keepdims=True)
    xs_mapped = np.divide(T, rows, out=np.zeros_like(T), where=rows > 0) @ xt   # barycentric map
    pred_1nn = no_adaptation_1nn(xs_mapped, ys, xt)
    return {"plan_zero_entry_pct": 100.0 * zero.mean(), "plan_zero_block_pct": 100.0 * zero_blocks.mean(),
            "marginal_l1_err": float(np.abs(T.sum(1) - a).sum() + np.abs(T.sum(0) - b).sum()),
            "da_acc_pct": 100.0 * np.mean(pred == yt), "da_1nn_acc_pct": 100.0 * np.mean(pred_1nn == yt)}


def _dual_solver(fast: bool):
    def solve(inst: Instance, cfg, done: dict) -> dict[str, dict]:
        prob = inst.prob
        with threadpool_limits(limits=1):
            oracle = F.FastGroupSparseDual(prob, cfg.refresh_waste) if fast else F.OriginalGroupSparseDual(prob)
            sol = F.solve_dual_lbfgs(prob, oracle, cfg.tol, cfg.max_iter)
            T = F.plan_from_dual(prob, sol.alpha, sol.beta)
            _, ga, gb = F.OriginalGroupSparseDual(prob).value_grad(sol.alpha, sol.beta)
            gap = -(np.dot(sol.alpha, ga) + np.dot(sol.beta, gb))          # P(T) - D, exact identity
            met = {"objective": sol.objective, "iterations": sol.n_iter, "evaluations": sol.n_evals,
                   "blocks_computed_pct": 100.0 * sol.blocks_computed / sol.blocks_total,
                   "cpu_time_s": sol.cpu_time_s, "time_s": sol.time_s,
                   "primal_dual_gap_rel": abs(gap) / abs(sol.objective), **plan_metrics(T, inst)}
        if fast:
            o = done["original"]
            k = min(len(o.objective_trace), len(sol.objective_trace))
            tr_o, tr_f = np.array(o.objective_trace[:k]), np.array(sol.objective_trace[:k])
            met.update({"obj_rel_diff": abs(sol.objective - o.objective) / abs(o.objective),
                        "iter_obj_max_rel_diff": float(np.max(np.abs(tr_f - tr_o) / np.abs(tr_o))) if k else 0.0,
                        "same_iterations": float(o.n_iter == sol.n_iter), "snapshots": sol.n_snapshots})
        done["fast" if fast else "original"] = sol
        return {"fast" if fast else "original": met}
    return solve


def solve_pot_dual(inst: Instance, cfg, done: dict) -> dict[str, dict]:
    prob, C, a, b = inst.prob, inst.C, inst.a, inst.b
    with threadpool_limits(limits=1):
        order = prob.order
        starts = np.r_[0, np.cumsum(prob.sizes)[:-1]]
        Ts, info = pot_solve_dual(np.ascontiguousarray(C[order]), a[order], b, starts, cfg.gamma, cfg.rho,
                                  cfg.tol, cfg.max_iter)
        T = np.empty_like(Ts)
        T[order] = Ts
        met = {"objective": F.dual_objective(prob, info["alpha"], info["beta"]), "iterations": info["n_iter"],
               "evaluations": info["n_evals"], "blocks_computed_pct": 100.0,
               "cpu_time_s": info["cpu_time_s"], "time_s": info["time_s"], **plan_metrics(T, inst)}
    if "original" in done:
        met["obj_rel_diff"] = abs(met["objective"] - done["original"].objective) / abs(done["original"].objective)
    done["pot_dual"] = F.DualSolution(info["alpha"], info["beta"], met["objective"], info["n_iter"], info["n_evals"],
                                      0, 0, info["time_s"], info["cpu_time_s"], [])
    return {"pot_dual": met}


EXACT = ("original", "pot_dual")
"""The exact baselines: they solve the same objective (Eq. D) to the same tolerance as ``fast``."""


def exact_speedups(done: dict) -> dict[str, dict]:
    """The fast method's speedups over each exact baseline that ran in this cell, and over the
    fastest of them (``speedup_vs_best_exact_x``; which one it was shows in the other two ratios).
    CPU time of the solver's thread, as every solver is timed."""
    if "fast" not in done:
        return {}
    f = done["fast"]
    met = {}
    if "original" in done:
        met["speedup_x"] = done["original"].cpu_time_s / f.cpu_time_s
        met["wall_speedup_x"] = done["original"].time_s / f.time_s
    if "pot_dual" in done:
        met["speedup_vs_pot_x"] = done["pot_dual"].cpu_time_s / f.cpu_time_s
    best = min(done[m].cpu_time_s for m in EXACT if m in done)
    met["speedup_vs_best_exact_x"] = best / f.cpu_time_s
    return {"fast": met}


def solve_sinkhorn(inst: Instance, cfg, done: dict) -> dict[str, dict]:
    with threadpool_limits(limits=1):
        T, info = sinkhorn_group_lasso(inst.a, inst.ys, inst.b, inst.C, cfg.sinkhorn_reg, cfg.sinkhorn_eta,
                                       cfg.sinkhorn_outer, cfg.sinkhorn_inner)
        return {"sinkhorn_l1l2_gl": {"cpu_time_s": info["cpu_time_s"], "time_s": info["time_s"],
                                     **plan_metrics(T, inst)}}


def solve_emd(inst: Instance, cfg, done: dict) -> dict[str, dict]:
    """Unregularised exact OT (``ot.emd``, network simplex) with the same cost and label rule: a
    diagnostic of whether the DA accuracy of the transported labels comes from the regulariser or
    from optimal transport itself."""
    with threadpool_limits(limits=1):
        t0, c0 = time.perf_counter(), time.thread_time()
        T = ot.emd(inst.a, inst.b, inst.C, numItermax=cfg.emd_max_iter)
        wall, cpu = time.perf_counter() - t0, time.thread_time() - c0
        return {"emd": {"cpu_time_s": cpu, "time_s": wall, **plan_metrics(T, inst)}}


def solve_no_adapt(inst: Instance, cfg, done: dict) -> dict[str, dict]:
    return {"no_adapt": {"da_acc_pct": 100.0 * np.mean(no_adaptation_1nn(inst.xs, inst.ys, inst.xt) == inst.yt)}}


METHODS: dict[str, Callable[[Instance, object, dict], dict[str, dict]]] = {
    "original": _dual_solver(fast=False),
    "fast": _dual_solver(fast=True),
    "pot_dual": solve_pot_dual,
    "sinkhorn_l1l2_gl": solve_sinkhorn,
    "emd": solve_emd,
    "no_adapt": solve_no_adapt,
}
