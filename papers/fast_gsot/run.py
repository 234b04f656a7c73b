"""One cell = one domain-adaptation instance (dataset, sizes, classes, gamma, rho, seed) on which
the original method, the fast method and the peers run side by side; every ratio (speedup,
objective difference) is measured within the run.

Timing: each solver is timed by the CPU time of the calling thread (``time.thread_time``) with
BLAS limited to one thread (threadpoolctl), so the comparison is single-threaded and robust to
other processes sharing the machine; wall time is reported too (``time_s``).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from common.results import runs_root
from common.runtime import setup
from papers.fast_gsot import baselines as B
from papers.fast_gsot import data as D
from papers.fast_gsot import method as F
from papers.fast_gsot.config import Config

CACHE_VERSION = "v1"
ZERO_REL = 1e-12  # a plan entry counts as zero when <= ZERO_REL * max entry (all methods alike)


def load_pair_cached(name: str) -> D.DomainPair:
    """Features are deterministic; the 8x8 conversion of MNIST is cached in runs/_cache."""
    if name not in D.QUICK_DATASETS:
        return D.load_pair(name)
    cache = runs_root() / "fast_gsot" / "_cache" / f"{name}_{CACHE_VERSION}.npz"
    if cache.is_file():
        z = np.load(cache, allow_pickle=False)
        return D.DomainPair(str(z["name"]), z["xs"], z["ys"], z["xt"], z["yt"])
    pair = D.load_pair(name)
    cache.parent.mkdir(parents=True, exist_ok=True)
    tmp = cache.with_name(cache.name + ".part.npz")
    np.savez(tmp, name=pair.name, xs=pair.xs, ys=pair.ys, xt=pair.xt, yt=pair.yt)
    tmp.replace(cache)
    return pair


def make_instance(cfg: Config):
    pair = load_pair_cached(cfg.dataset)
    rng = np.random.default_rng(cfg.seed)
    all_classes = np.unique(pair.ys)
    classes = all_classes if cfg.n_classes == len(all_classes) else \
        np.sort(rng.choice(all_classes, cfg.n_classes, replace=False))
    i = D.stratified_subset(pair.ys, cfg.n_source, classes, rng)
    j = D.stratified_subset(pair.yt, cfg.n_target, classes, rng)
    xs, ys, xt, yt = pair.xs[i], pair.ys[i], pair.xt[j], pair.yt[j]
    return pair.name, xs, ys, xt, yt, D.sq_euclidean_cost(xs, xt)


def plan_metrics(T: np.ndarray, ys: np.ndarray, xt: np.ndarray, yt: np.ndarray, a, b) -> dict:
    """Plan sparsity, marginal error and DA accuracy (transported source labels)."""
    classes = np.unique(ys)
    zero = T <= ZERO_REL * max(T.max(), 0.0)
    mass = np.stack([T[ys == c].sum(axis=0) for c in classes])              # (L, n)
    zero_blocks = np.stack([zero[ys == c].all(axis=0) for c in classes])
    pred = classes[np.argmax(mass, axis=0)]                                  # label propagation
    rows = T.sum(axis=1, keepdims=True)
    xs_mapped = np.divide(T, rows, out=np.zeros_like(T), where=rows > 0) @ xt   # barycentric map
    pred_1nn = B.no_adaptation_1nn(xs_mapped, ys, xt)
    return {"plan_zero_entry_pct": 100.0 * zero.mean(), "plan_zero_block_pct": 100.0 * zero_blocks.mean(),
            "marginal_l1_err": float(np.abs(T.sum(1) - a).sum() + np.abs(T.sum(0) - b).sum()),
            "da_acc_pct": 100.0 * np.mean(pred == yt), "da_1nn_acc_pct": 100.0 * np.mean(pred_1nn == yt)}


def run(cfg: Config, workdir: Path | None = None) -> list[dict]:
    setup(cfg)
    name, xs, ys, xt, yt, C = make_instance(cfg)
    methods = cfg.method_list
    m, n = C.shape
    a, b = np.full(m, 1.0 / m), np.full(n, 1.0 / n)
    rows: list[dict] = []

    def add(method, metrics):
        rows.extend({"dataset": name, "method": method, "metric": k, "value": float(v), "n": n}
                    for k, v in metrics.items())

    prob = F.make_problem(C, ys, a, b, cfg.gamma, cfg.rho)
    sols = {}
    with threadpool_limits(limits=1):
        for meth in ("original", "fast"):
            if meth not in methods:
                continue
            oracle = F.OriginalGroupSparseDual(prob) if meth == "original" else \
                F.FastGroupSparseDual(prob, cfg.refresh_waste)
            sol = F.solve_dual_lbfgs(prob, oracle, cfg.tol, cfg.max_iter)
            sols[meth] = sol
            T = F.plan_from_dual(prob, sol.alpha, sol.beta)
            _, ga, gb = F.OriginalGroupSparseDual(prob).value_grad(sol.alpha, sol.beta)
            gap = -(np.dot(sol.alpha, ga) + np.dot(sol.beta, gb))          # P(T) - D, exact identity
            met = {"objective": sol.objective, "iterations": sol.n_iter, "evaluations": sol.n_evals,
                   "blocks_computed_pct": 100.0 * sol.blocks_computed / sol.blocks_total,
                   "cpu_time_s": sol.cpu_time_s, "time_s": sol.time_s,
                   "primal_dual_gap_rel": abs(gap) / abs(sol.objective),
                   **plan_metrics(T, ys, xt, yt, a, b)}
            if meth == "fast":
                o = sols["original"]
                k = min(len(o.objective_trace), len(sol.objective_trace))
                tr_o, tr_f = np.array(o.objective_trace[:k]), np.array(sol.objective_trace[:k])
                met.update({
                    "speedup_x": o.cpu_time_s / sol.cpu_time_s,
                    "wall_speedup_x": o.time_s / sol.time_s,
                    "obj_rel_diff": abs(sol.objective - o.objective) / abs(o.objective),
                    "iter_obj_max_rel_diff": float(np.max(np.abs(tr_f - tr_o) / np.abs(tr_o))) if k else 0.0,
                    "same_iterations": float(o.n_iter == sol.n_iter),
                    "snapshots": sol.n_snapshots,
                })
            add(meth, met)

        if "pot_dual" in methods:
            order = prob.order
            starts = np.r_[0, np.cumsum(prob.sizes)[:-1]]
            Ts, info = B.pot_solve_dual(np.ascontiguousarray(C[order]), a[order], b, starts, cfg.gamma, cfg.rho,
                                        cfg.tol, cfg.max_iter)
            T = np.empty_like(Ts)
            T[order] = Ts
            met = {"objective": F.dual_objective(prob, info["alpha"], info["beta"]), "iterations": info["n_iter"],
                   "evaluations": info["n_evals"], "blocks_computed_pct": 100.0,
                   "cpu_time_s": info["cpu_time_s"], "time_s": info["time_s"], **plan_metrics(T, ys, xt, yt, a, b)}
            if "original" in sols:
                met["obj_rel_diff"] = abs(met["objective"] - sols["original"].objective) / abs(sols["original"].objective)
            add("pot_dual", met)
            if "fast" in sols:
                rows.append({"dataset": name, "method": "fast", "metric": "speedup_vs_pot_x",
                             "value": info["cpu_time_s"] / sols["fast"].cpu_time_s, "n": n})

        if "sinkhorn_l1l2_gl" in methods:
            T, info = B.sinkhorn_group_lasso(a, ys, b, C, cfg.sinkhorn_reg, cfg.sinkhorn_eta,
                                             cfg.sinkhorn_outer, cfg.sinkhorn_inner)
            add("sinkhorn_l1l2_gl", {"cpu_time_s": info["cpu_time_s"], "time_s": info["time_s"],
                                     **plan_metrics(T, ys, xt, yt, a, b)})

    if "no_adapt" in methods:
        add("no_adapt", {"da_acc_pct": 100.0 * np.mean(B.no_adaptation_1nn(xs, ys, xt) == yt)})
    return rows


def make_figures(results_dir: Path, profile: str) -> None:
    from papers.fast_gsot.figures import make_all

    make_all(results_dir, profile)


if __name__ == "__main__":
    from common.cli import paper_main

    sys.exit(paper_main("fast_gsot"))
