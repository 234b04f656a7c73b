"""lmc_wm: one cell = one analysis of one pair (or group) of independently trained models.

A pool of ``n_models`` models is trained once per training setting and cached in
``runs/lmc_wm/_cache/<hash of the training fields>/model_<i>.pt``; permutations found by a
search are cached beside them (``perm_<method>_<hash>_<a>_<b>.pt``), so the tables reuse them.

Cell seed s uses the pair (s mod n, s+1 mod n) (analyses barrier, distance, singular) or the
group (s, ..., s+n_merge-1 mod n) with reference model s (merge). Curves (loss/accuracy along
the path, singular-vector alignment per rank) are written to the cell folder as curves.json
and turned into CSVs and figures by :func:`make_figures`.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn

from common.results import runs_root
from common.runtime import setup
from papers.lmc_wm import baselines as B
from papers.lmc_wm import method as M
from papers.lmc_wm.config import Config
from papers.lmc_wm.data import load_tensors
from papers.lmc_wm.models import build_model

SLUG = "lmc_wm"
TRAIN_FIELDS = ("dataset", "arch", "width", "n_hidden", "width_mult", "epochs", "batch_size", "optimizer", "lr",
                "weight_decay", "augment")


def _hash(obj) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()[:12]


def cache_dir(cfg: Config) -> Path:
    key = {f: getattr(cfg, f) for f in TRAIN_FIELDS}
    d = runs_root() / SLUG / "_cache" / _hash(key)
    d.mkdir(parents=True, exist_ok=True)
    (d / "train_config.json").write_text(json.dumps(key, indent=1))
    return d


def _save_atomic(obj, path: Path) -> None:
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def _augment(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Random crop with 4-pixel zero padding and horizontal flip (per image)."""
    n, _, h, w = x.shape
    padded = nn.functional.pad(x, (4, 4, 4, 4))
    dx = torch.randint(0, 9, (n,), generator=gen)
    dy = torch.randint(0, 9, (n,), generator=gen)
    rows = (dy[:, None] + torch.arange(h)[None]).to(x.device)
    cols = (dx[:, None] + torch.arange(w)[None]).to(x.device)
    out = padded[torch.arange(n, device=x.device)[:, None, None, None], torch.arange(x.shape[1], device=x.device)[None, :, None, None],
                 rows[:, None, :, None], cols[:, None, None, :]]
    flip = (torch.rand(n, generator=gen) < 0.5).to(x.device)
    out[flip] = out[flip].flip(-1)
    return out


def train_model(cfg: Config, index: int, x: torch.Tensor, y: torch.Tensor, device) -> dict[str, torch.Tensor]:
    """Train model ``index`` of the pool from its own seed (independent of the cell seed)."""
    torch.manual_seed(10_000 + index)
    gen = torch.Generator().manual_seed(20_000 + index)
    model = build_model(cfg.arch, cfg.width, cfg.width_mult, cfg.n_hidden, tuple(x.shape[1:])).to(device)
    steps_per_epoch = math.ceil(len(x) / cfg.batch_size)
    total = cfg.epochs * steps_per_epoch
    if cfg.optimizer == "adam":
        opt = (torch.optim.AdamW(model.parameters(), cfg.lr, weight_decay=cfg.weight_decay) if cfg.weight_decay
               else torch.optim.Adam(model.parameters(), cfg.lr))
        sched = None
    else:
        opt = torch.optim.SGD(model.parameters(), cfg.lr, momentum=0.9, weight_decay=cfg.weight_decay)
        warm = steps_per_epoch
        sched = torch.optim.lr_scheduler.LambdaLR(
            opt, lambda t: (t + 1) / warm if t < warm else 0.5 * (1 + math.cos(math.pi * (t - warm) / max(1, total - warm))))
    model.train()
    for _ in range(cfg.epochs):
        order = torch.randperm(len(x), generator=gen).to(device)
        for i in range(0, len(x), cfg.batch_size):
            idx = order[i:i + cfg.batch_size]
            xb = _augment(x[idx], gen) if cfg.augment else x[idx]
            loss = nn.functional.cross_entropy(model(xb), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            if sched is not None:
                sched.step()
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


class Pool:
    """Trained models and found permutations, cached on disk and reused by every cell."""

    def __init__(self, cfg: Config, device):
        self.cfg, self.device = cfg, device
        self.xtr, self.ytr, self.dataset_name = load_tensors(cfg.dataset, "train")
        self.xte, self.yte, _ = load_tensors(cfg.dataset, "test")
        self.xtr, self.ytr = self.xtr.to(device), self.ytr.to(device)
        self.xte, self.yte = self.xte.to(device), self.yte.to(device)
        self.dir = cache_dir(cfg)
        self.model = build_model(cfg.arch, cfg.width, cfg.width_mult, cfg.n_hidden, tuple(self.xtr.shape[1:])).to(device)
        self.spec = M.spec_for(self.model)
        sub = torch.Generator().manual_seed(12345)
        n_eval = cfg.eval_train_n or len(self.xtr)
        keep = torch.randperm(len(self.xtr), generator=sub)[:n_eval].to(device)
        self.xtr_eval, self.ytr_eval = self.xtr[keep], self.ytr[keep]
        n_am = cfg.am_n or len(self.xtr)
        self.x_am = self.xtr[torch.randperm(len(self.xtr), generator=sub)[:n_am].to(device)]

    def params(self, index: int) -> dict[str, torch.Tensor]:
        path = self.dir / f"model_{index}.pt"
        if not path.is_file():
            t0 = time.time()
            state = train_model(self.cfg, index, self.xtr, self.ytr, self.device)
            _save_atomic({k: v.cpu() for k, v in state.items()}, path)
            print(f"[lmc_wm] trained model {index} in {time.time() - t0:.1f}s -> {path}", flush=True)
        state = torch.load(path, map_location=self.device, weights_only=True)
        return {k: v for k, v in state.items()}

    def module(self, params) -> nn.Module:
        m = build_model(self.cfg.arch, self.cfg.width, self.cfg.width_mult, self.cfg.n_hidden,
                        tuple(self.xtr.shape[1:])).to(self.device)
        m.load_state_dict(params)
        return m.eval()

    def perm(self, method: str, a: int, b: int) -> M.Perm:
        """Permutation of model b that aligns it to model a by ``method`` (cached)."""
        pa = self.params(a)
        if method == "naive":
            return B.naive_perm(self.spec, pa)
        cfg = self.cfg
        knobs = {"wm": {"max_iter": cfg.wm_max_iter},
                 "am": {"am_n": cfg.am_n},
                 "ste": {"steps": cfg.ste_steps, "batch": cfg.ste_batch, "lr": cfg.ste_lr, "max_iter": cfg.wm_max_iter}}[method]
        path = self.dir / f"perm_{method}_{_hash(knobs)}_{a}_{b}.pt"
        if path.is_file():
            return torch.load(path, weights_only=True)
        pb = self.params(b)
        t0 = time.time()
        if method == "wm":
            perm = M.weight_matching(self.spec, pa, pb, max_iter=cfg.wm_max_iter, seed=a * 1000 + b)
        elif method == "am":
            perm = B.activation_matching(self.module(pa), self.module(pb), self.x_am)
        else:
            perm, _ = B.ste_matching(self.model, self.spec, pa, pb, self.xtr, self.ytr, steps=cfg.ste_steps,
                                     batch_size=cfg.ste_batch, lr=cfg.ste_lr, wm_max_iter=cfg.wm_max_iter,
                                     seed=a * 1000 + b)
        _save_atomic({p: ix.cpu() for p, ix in perm.items()}, path)
        print(f"[lmc_wm] {method} {a}<-{b} in {time.time() - t0:.1f}s", flush=True)
        return perm

    def aligned(self, method: str, a: int, b: int) -> dict[str, torch.Tensor]:
        return M.apply_permutation(self.spec, self.perm(method, a, b), self.params(b))


def run(cfg: Config, workdir: Path | None = None) -> list[dict]:
    device = setup(cfg)
    pool = Pool(cfg, device)
    n, s = cfg.n_models, cfg.seed
    a, b = s % n, (s + 1) % n
    ds = pool.dataset_name
    rows: list[dict] = []
    curves: dict = {}

    def row(metric, value, count=None, **kw):
        rows.append({"dataset": ds, "metric": metric, "value": float(value), **({"n": count} if count else {}), **kw})

    if cfg.analysis == "barrier":
        pa, pb = pool.params(a), pool.aligned(cfg.method, a, b)
        lams = np.linspace(0, 1, cfg.n_lambdas)
        for split, (x, y) in {"test": (pool.xte, pool.yte), "train": (pool.xtr_eval, pool.ytr_eval)}.items():
            curve = M.interpolation_curve(pool.model, pa, pb, x, y, lams)
            curves[split] = curve
            loss_b, acc_b = M.barrier(curve)
            row(f"barrier_loss_{split}", loss_b, len(y))
            row(f"barrier_acc_pct_{split}", acc_b, len(y))
            mid = int(np.argmin(np.abs(lams - 0.5)))
            row(f"mid_acc_pct_{split}", curve["acc_pct"][mid], len(y))
            row(f"endpoint_acc_pct_{split}", 0.5 * (curve["acc_pct"][0] + curve["acc_pct"][-1]), len(y))
    elif cfg.analysis == "distance":
        pa, pb_raw = pool.params(a), pool.params(b)
        pb = pool.aligned(cfg.method, a, b)
        before, after = M.l2_distance(pa, pb_raw), M.l2_distance(pa, pb)
        norm = math.sqrt(float(M.flat(pa).square().sum() + M.flat(pb_raw).square().sum()))
        row("l2_dist_before", before)
        row("l2_dist_after", after)
        row("dist_ratio", after / before)          # ||theta_a - pi(theta_b)|| / ||theta_a - theta_b||
        row("dist_norm_after", after / norm)       # distance relative to sqrt(||a||^2 + ||b||^2)
    elif cfg.analysis == "singular":
        pa, pb_raw = pool.params(a), pool.params(b)
        pb = pool.aligned(cfg.method, a, b)
        row("sv_rel_change_max", M.singular_value_change(pb_raw, pb))
        align = M.singular_vector_alignment(pa, pb)
        top, bottom = M.alignment_summary(align, cfg.top_frac)
        row("align_top", top)
        row("align_bottom_half", bottom)
        # alignment weighted by the singular values of model a: large-sigma directions count more
        weighted = [float((r["s_a"] * r["align"]).sum() / r["s_a"].sum()) for r in align.values()]
        row("align_sigma_weighted", float(np.mean(weighted)))
        curves["align"] = {k: {"align": r["align"].tolist(), "s_a": r["s_a"].tolist(), "s_b": r["s_b"].tolist()}
                           for k, r in align.items()}
    elif cfg.analysis == "merge":
        group = [(s + k) % n for k in range(cfg.n_merge)]
        ref = group[0]
        members = [pool.params(ref)] + [pool.aligned(cfg.method, ref, o) for o in group[1:]]
        merged = M.merge(members)
        loss, acc = M.evaluate(pool.model, merged, pool.xte, pool.yte)
        ends = [M.evaluate(pool.model, p, pool.xte, pool.yte) for p in members]
        end_acc = float(np.mean([e[1] for e in ends]))
        end_loss = float(np.mean([e[0] for e in ends]))
        row("merged_acc_pct_test", acc, len(pool.yte))
        row("merged_loss_test", loss, len(pool.yte))
        row("acc_drop_pct_test", end_acc - acc, len(pool.yte))
        row("loss_gap_test", loss - end_loss, len(pool.yte))
        # pairwise midpoint barrier between two non-reference members after alignment to the reference
        if len(members) >= 3:
            mid_loss, mid_acc = M.evaluate(pool.model, M.lerp(0.5, members[1], members[2]), pool.xte, pool.yte)
            row("others_mid_acc_drop_pct_test", 0.5 * (ends[1][1] + ends[2][1]) - mid_acc, len(pool.yte))
    if workdir is not None and curves:
        (Path(workdir) / "curves.json").write_text(json.dumps({"pair": [a, b], "method": cfg.method, **curves}))
    return rows


# --------------------------------------------------------------------------------------
# Figures.

COLORS = {"naive": "tab:gray", "wm": "tab:blue", "am": "tab:green", "ste": "tab:red"}


def _run_folders(results_dir: Path, table: str) -> list[tuple[dict, Path]]:
    runs_csv = results_dir / f"{table}_runs.csv"
    if not runs_csv.is_file():
        return []
    df = pd.read_csv(runs_csv, keep_default_na=False, dtype=str)
    out = []
    for run_id, grp in df.groupby("run_id"):
        folder = runs_root() / SLUG / table / run_id
        if (folder / "curves.json").is_file():
            out.append((grp.iloc[0].to_dict(), folder))
    return out


def make_figures(results_dir: Path, profile: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    results_dir = Path(results_dir)
    curve_dir = results_dir / "curves"
    curve_dir.mkdir(parents=True, exist_ok=True)

    # Barrier curves (paper Fig. 1-style, naive vs WM vs AM vs STE).
    recs = []
    for meta, folder in _run_folders(results_dir, "fig_barrier"):
        c = json.loads((folder / "curves.json").read_text())
        for split in ("test", "train"):
            for lam, loss, acc in zip(c[split]["lam"], c[split]["loss"], c[split]["acc_pct"]):
                recs.append({"method": meta["method"], "seed": meta["seed"], "split": split, "lam": lam,
                             "loss": loss, "acc_pct": acc, "dataset": meta["dataset"]})
    if recs:
        df = pd.DataFrame(recs)
        df.to_csv(curve_dir / "fig_barrier_curves.csv", index=False)
        fig, axes = plt.subplots(1, 2, figsize=(9, 3.4))
        for ax, metric, label in ((axes[0], "loss", "test loss"), (axes[1], "acc_pct", "test accuracy (%)")):
            for meth in ["naive", "wm", "am", "ste"]:
                g = df[(df.method == meth) & (df.split == "test")]
                if g.empty:
                    continue
                st = g.groupby("lam")[metric].agg(["mean", "std"]).sort_index()
                ax.plot(st.index, st["mean"], marker="o", ms=3, color=COLORS[meth], label=meth.upper() if meth != "naive" else "naive")
                ax.fill_between(st.index, st["mean"] - st["std"].fillna(0), st["mean"] + st["std"].fillna(0),
                                color=COLORS[meth], alpha=0.2)
            ax.set_xlabel(r"$\lambda$ (model A $\to$ permuted model B)")
            ax.set_ylabel(label)
        axes[0].legend(frameon=False)
        fig.suptitle(f"Linear interpolation, {df.dataset.iloc[0]} MLP ({profile}; mean ± std over pairs)")
        fig.tight_layout()
        fig.savefig(results_dir / "fig_barrier.png", dpi=120)
        plt.close(fig)

    # Distance ratio (paper Fig. 2).
    dist_csv = results_dir / "fig_distance.csv"
    if dist_csv.is_file():
        df = pd.read_csv(dist_csv)
        df = df[df.metric == "dist_ratio"].set_index("method").reindex(["naive", "wm", "am", "ste"]).dropna(subset=["mean"])
        fig, ax = plt.subplots(figsize=(4.5, 3.2))
        ax.bar(df.index.str.upper(), df["mean"], yerr=df["std"], color=[COLORS[m] for m in df.index], capsize=3)
        ax.axhline(1.0, color="k", lw=0.8, ls="--")
        ax.set_ylabel(r"$\|\theta_a-\pi(\theta_b)\| / \|\theta_a-\theta_b\|$")
        ax.set_ylim(0, 1.1)
        ax.set_title(f"L2 distance ratio after permutation ({profile})")
        fig.tight_layout()
        fig.savefig(results_dir / "fig_distance.png", dpi=120)
        plt.close(fig)

    # Singular-vector alignment vs rank (paper Sec. 4-6 figures).
    recs = []
    for meta, folder in _run_folders(results_dir, "fig_singular"):
        c = json.loads((folder / "curves.json").read_text())
        for layer, r in c["align"].items():
            k = len(r["align"])
            for i, (al, sa) in enumerate(zip(r["align"], r["s_a"])):
                recs.append({"method": meta["method"], "seed": meta["seed"], "layer": layer, "rank": i + 1,
                             "rank_frac": (i + 0.5) / k, "align": al, "s_a": sa})
    if recs:
        df = pd.DataFrame(recs)
        df.to_csv(curve_dir / "fig_singular_curves.csv", index=False)
        layers = list(dict.fromkeys(df.layer))
        fig, axes = plt.subplots(1, len(layers), figsize=(3.2 * len(layers), 3.2), squeeze=False)
        for ax, layer in zip(axes[0], layers):
            g0 = df[df.layer == layer]
            k = int(g0["rank"].max())
            edges = np.unique(np.round(np.geomspace(1, k + 1, 14)).astype(int))  # log-spaced rank bins
            for meth in ["naive", "wm", "am", "ste"]:
                g = g0[g0.method == meth].copy()
                if g.empty:
                    continue
                g["bin"] = np.searchsorted(edges, g["rank"].to_numpy(), side="right")
                st = g.groupby("bin").agg(rank=("rank", "mean"), align=("align", "mean")).sort_index()
                ax.plot(st["rank"], st["align"], marker="o", ms=3, color=COLORS[meth],
                        ls="--" if meth == "ste" else "-", label=meth.upper() if meth != "naive" else "naive")
            ax.set_xscale("log")
            ax.set_xlabel("singular value rank (1 = largest)")
            ax.set_title(layer, fontsize=9)
            ax.set_ylim(0, 1)
            ax.grid(alpha=0.3)
        axes[0][0].set_ylabel(r"$|u_i^a\cdot u_i^b|\,|v_i^a\cdot v_i^b|$")
        axes[0][0].legend(frameon=False)
        fig.suptitle(f"Alignment of the i-th singular vectors of model A and permuted model B ({profile})")
        fig.tight_layout()
        fig.savefig(results_dir / "fig_singular.png", dpi=120)
        plt.close(fig)

    # Merging n models: WM vs STE.
    merge_csv = results_dir / "tab_merge.csv"
    if merge_csv.is_file():
        df = pd.read_csv(merge_csv, keep_default_na=False, dtype={"setting": str})
        df = df[df.metric == "merged_acc_pct_test"]
        if not df.empty:
            fig, ax = plt.subplots(figsize=(5.2, 3.8))
            methods = [m for m in ["naive", "wm", "am", "ste"] if m in set(df.method)]
            settings = sorted(set(df.setting))
            w = 0.8 / len(methods)
            for i, meth in enumerate(methods):
                g = df[df.method == meth].set_index("setting").reindex(settings)
                xs = np.arange(len(settings)) + (i - (len(methods) - 1) / 2) * w
                ax.bar(xs, g["mean"].astype(float), w, yerr=g["std"].astype(float), color=COLORS[meth], capsize=2,
                       label=meth.upper() if meth != "naive" else "naive")
            ax.set_xticks(np.arange(len(settings)))
            ax.set_xticklabels(settings)
            ax.set_ylabel("merged model test accuracy (%)")
            ax.set_title(f"Merging models aligned to a reference ({profile})")
            ax.legend(frameon=False, fontsize=8, ncol=len(methods), loc="upper center", bbox_to_anchor=(0.5, -0.15))
            fig.tight_layout()
            fig.savefig(results_dir / "tab_merge.png", dpi=120)
            plt.close(fig)


if __name__ == "__main__":
    from common.cli import paper_main

    sys.exit(paper_main(SLUG))
