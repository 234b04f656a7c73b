"""One cell of a Meta-ticket table: meta-train one method on one setting, meta-test it, return rows.

    python -m papers.meta_ticket.run --profile smoke --method meta_ticket --width_factor 2
    python -m papers.meta_ticket.run --table t1_omniglot --profile quick

Rows: ``test_acc_pct`` (classification) or ``test_mse`` (sinusoid), mean over the evaluation
episodes, with ``test_ci95_*`` (normal 95% half-width over episodes); ``sparsity_pct``
(Meta-ticket: fraction of pruned weights); ``feature_cka_l<i>`` (linear CKA between each hidden
block's features before and after inner adaptation, averaged over episodes: lower = more
task-specific feature change); ``meta_train_time_s``.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from common.meta.episodes import mean_ci95
from common.runtime import setup
from papers.meta_ticket import data as D
from papers.meta_ticket.baselines import MAMLFamily
from papers.meta_ticket.config import Config
from papers.meta_ticket.method import MetaTicket, accuracy, adapt, cosine_lr_with_warmup, linear_cka, meta_loss
from papers.meta_ticket.models import WRN28, FewShotMLP, ResNet12, SinusoidMLP, mlp_sizes, prunable_weight_names

CKPT_EVERY = 1000


def build_learner(cfg: Config, model: nn.Module, generator: torch.Generator):
    if cfg.method in ("maml", "anil", "boil"):
        return MAMLFamily(model, cfg.method)
    if isinstance(model, SinusoidMLP):
        # official sinusoid_5shot_mlp_ticket: only hidden2 is masked; hidden1/hidden3/biases meta-learned (aux)
        sparse = ["hidden2.weight"]
        aux = [n for n, _ in model.named_parameters() if n not in sparse]
    else:
        # official ignore_params (MLP: classifier, normalize, .bias; ResNet-12: bn1-3, downsample.1, bias,
        # classifier; WRN-28: bn1, bn2, bias, classifier): every Linear/Conv2d weight outside the head is masked
        sparse = prunable_weight_names(model)
        aux = []
    rate = cfg.rerand_rate if cfg.method == "meta_ticket_iterand" else 0.0
    learner = MetaTicket(model, sparse, aux, cfg.init_sparsity, cfg.rerand_freq, rate, generator)
    if cfg.method == "meta_ticket_boil":   # official ticket+boil: no_update_keywords ['classifier']
        head = getattr(model, "head_prefix", "classifier.")
        learner.adapt_keys = [k for k in learner.adapt_keys if not k.startswith(head)]
    return learner


def build_model(cfg: Config, image_shape: tuple[int, ...]) -> nn.Module:
    """The paper's network for an image dataset: MLP, ResNet-12 or WRN-28-k."""
    if cfg.arch == "resnet12":
        return ResNet12(image_shape, cfg.n_way, cfg.width_factor)
    if cfg.arch == "wrn28":
        return WRN28(image_shape, cfg.n_way, cfg.wrn_widen)
    return FewShotMLP(int(np.prod(image_shape)), cfg.n_way, mlp_sizes(cfg.hidden_sizes, cfg.width_factor))


def build_optimisers(cfg: Config, learner) -> list[tuple[torch.optim.Optimizer, bool]]:
    """[(optimiser, uses_cosine_schedule)] following the official per-method optimisers."""
    out = []
    for name, params in learner.meta_param_groups():
        if name == "init":
            out.append((torch.optim.AdamW(params, lr=cfg.outer_lr or 1e-3, weight_decay=0.0), False))
        elif name == "score" and cfg.ticket_optimizer == "sgd":
            out.append((torch.optim.SGD(params, lr=cfg.outer_lr or 10.0, momentum=0.9, weight_decay=0.0), True))
        elif name == "score":
            out.append((torch.optim.AdamW(params, lr=cfg.outer_lr or 1e-3, weight_decay=0.0), False))
        else:  # aux
            out.append((torch.optim.AdamW(params, lr=cfg.aux_lr, weight_decay=0.0), False))
    return out


def _state(learner) -> dict:
    if isinstance(learner, MetaTicket):
        return {"weights": learner.weights, "scores": {k: v.detach() for k, v in learner.scores.items()},
                "aux": {k: v.detach() for k, v in learner.aux.items()}}
    return {"meta": {k: v.detach() for k, v in learner.meta.items()}}


def _load_state(learner, st: dict) -> None:
    with torch.no_grad():
        if isinstance(learner, MetaTicket):
            learner.weights = dict(st["weights"])
            for d, key in ((learner.scores, "scores"), (learner.aux, "aux")):
                for k in d:
                    d[k].copy_(st[key][k])
        else:
            for k in learner.meta:
                learner.meta[k].copy_(st["meta"][k])


def meta_train(cfg: Config, learner, sample_tasks, loss_fn, metric, workdir: Path | None, log) -> dict:
    opts = build_optimisers(cfg, learner)
    rng = np.random.default_rng(cfg.seed + 12345)
    start, ckpt = 0, (workdir / "checkpoint.pt" if workdir else None)
    if ckpt is not None and ckpt.exists():
        st = torch.load(ckpt, weights_only=True)
        _load_state(learner, st["learner"])
        for (o, _), osd in zip(opts, st["opts"]):
            o.load_state_dict(osd)
        rng.bit_generator.state = st["rng"]
        start = int(st["it"])
        log(f"resumed from iteration {start}")
    recent, t0 = [], time.time()
    for it in range(start, cfg.iterations):
        for o, cosine in opts:
            if cosine:
                for g in o.param_groups:
                    g["lr"] = cosine_lr_with_warmup(cfg.outer_lr or 10.0, it, cfg.iterations, cfg.warmup_iters)
        tasks = sample_tasks(rng, cfg.meta_batch)
        loss, score = meta_loss(learner, tasks, loss_fn, cfg.inner_lr, cfg.train_steps, cfg.first_order, metric)
        for o, _ in opts:
            o.zero_grad(set_to_none=True)
        loss.backward()
        for o, _ in opts:
            o.step()
        learner.after_step(it)
        recent.append(score)
        if (it + 1) % max(cfg.iterations // 10, 1) == 0:
            log(f"it {it + 1}/{cfg.iterations} meta-train query metric {np.mean(recent[-50:]):.4f} "
                f"loss {loss.item():.4f} ({time.time() - t0:.1f}s)")
        if ckpt is not None and (it + 1) % CKPT_EVERY == 0 and it + 1 < cfg.iterations:
            torch.save({"learner": _state(learner), "opts": [o.state_dict() for o, _ in opts],
                        "rng": rng.bit_generator.state, "it": it + 1}, ckpt)
    tail = recent[-max(len(recent) // 10, 1):] if recent else [float("nan")]
    return {"train_metric": float(np.mean(tail)), "time_s": time.time() - t0}


def meta_test(learner, tasks, loss_fn, metric, inner_lr: float, steps: int, n_feature: int):
    """Per-task metric after ``steps`` inner steps, and per-layer CKA (features before vs after)."""
    params0, forward = learner.initial()
    params0 = {k: v.detach() for k, v in params0.items()}
    scores, ckas = [], []
    for i, (xs, ys, xq, yq) in enumerate(tasks):
        adapted = adapt(forward, params0, learner.adapt_keys, xs, ys, loss_fn, inner_lr, steps, create_graph=False)
        with torch.no_grad():
            scores.append(float(metric(forward(adapted, xq), yq)))
            if i < n_feature:
                xa = torch.cat([xs, xq])
                _, f0 = forward(params0, xa, return_features=True)
                _, f1 = forward(adapted, xa, return_features=True)
                ckas.append([linear_cka(a, b) for a, b in zip(f0, f1)])
    return np.asarray(scores), (np.nanmean(np.asarray(ckas), axis=0) if ckas else None)


def run(cfg: Config, workdir: Path | None = None) -> list[dict]:
    cfg.validate()
    device = setup(cfg)
    def log(msg: str) -> None:  # opened lazily: a setting refused before training leaves nothing behind
        if workdir:
            with open(workdir / "train_log.txt", "a") as fh:
                fh.write(msg + "\n")

    gen = torch.Generator().manual_seed(cfg.seed)
    torch.manual_seed(cfg.seed)
    rows: list[dict] = []
    if cfg.dataset == "sinusoid":
        model = SinusoidMLP(int(cfg.sin_hidden * cfg.width_factor))
        learner = build_learner(cfg, model, gen).to(device)
        loss_fn = nn.MSELoss()
        metric = lambda out, y: float(nn.functional.mse_loss(out, y))  # noqa: E731
        sample = lambda rng, n: D.sinusoid_tasks(rng, n, cfg.k_shot, device=device)  # noqa: E731
        info = meta_train(cfg, learner, sample, loss_fn, metric, workdir, log)
        test_tasks = D.sinusoid_tasks(np.random.default_rng(10_000 + cfg.seed), cfg.eval_episodes, cfg.k_shot, device=device)
        vals, cka = meta_test(learner, test_tasks, loss_fn, metric, cfg.inner_lr, cfg.test_steps, cfg.feature_episodes)
        m, ci = mean_ci95(vals)
        rows += [{"metric": "test_mse", "value": m, "n": len(vals)}, {"metric": "test_ci95_mse", "value": ci, "n": len(vals)},
                 {"metric": "meta_train_query_mse", "value": info["train_metric"]}]
    else:
        train, test = D.load_image_meta(cfg.dataset, cfg.image_size or None, cfg.rotations)
        if cfg.eval_dataset:   # cross-domain: meta-train on `dataset`, meta-test on another dataset's test classes
            test = D.load_eval_split(cfg.eval_dataset, cfg.image_size or None, int(train.y.max()) + 1)
            if test.image_shape != train.image_shape:
                raise ValueError(f"eval_dataset {cfg.eval_dataset} has images {test.image_shape}, meta-train "
                                 f"{cfg.dataset} {train.image_shape}: set image_size so that they match")
        q = cfg.q_query or cfg.k_shot
        train_sampler = D.make_sampler(train, cfg.n_way, cfg.k_shot, q)
        test_sampler = D.make_sampler(test, cfg.n_way, cfg.k_shot, q)
        model = build_model(cfg, train.image_shape)
        learner = build_learner(cfg, model, gen).to(device)
        loss_fn = nn.CrossEntropyLoss()

        def sample(rng, n):
            return [D.episode_tensors(train, train_sampler.sample(rng), device) for _ in range(n)]

        info = meta_train(cfg, learner, sample, loss_fn, accuracy, workdir, log)
        episodes = test_sampler.fixed_episodes(cfg.eval_episodes, seed=10_000 + cfg.seed)
        tasks = [D.episode_tensors(test, e, device) for e in episodes]
        vals, cka = meta_test(learner, tasks, loss_fn, accuracy, cfg.inner_lr, cfg.test_steps, cfg.feature_episodes)
        m, ci = mean_ci95(100 * vals)
        rows += [{"metric": "test_acc_pct", "value": m, "n": len(vals)},
                 {"metric": "test_ci95_pct", "value": ci, "n": len(vals)},
                 {"metric": "meta_train_query_acc_pct", "value": 100 * info["train_metric"]}]
        rows.append({"metric": "n_params", "value": float(sum(p.numel() for p in model.parameters()))})
    if cka is not None:
        rows += [{"metric": f"feature_cka_l{i + 1}", "value": float(v), "n": min(cfg.feature_episodes, cfg.eval_episodes)}
                 for i, v in enumerate(cka)]
    if isinstance(learner, MetaTicket):
        rows.append({"metric": "sparsity_pct", "value": 100 * learner.overall_sparsity()})
    rows.append({"metric": "meta_train_time_s", "value": info["time_s"]})
    if cfg.eval_dataset:   # cross-domain cells are named source->target
        rows = [{**r, "dataset": f"{cfg.dataset}->{cfg.eval_dataset}"} for r in rows]
    if workdir and (workdir / "checkpoint.pt").exists():
        (workdir / "checkpoint.pt").unlink()
    return rows


if __name__ == "__main__":
    from common.cli import paper_main

    sys.exit(paper_main("meta_ticket"))


# --------------------------------------------------------------------------------------
# Figures and the accuracy table with 95% CIs pooled over evaluation episodes and seeds.

METHOD_ORDER = ["maml", "anil", "boil", "meta_ticket", "meta_ticket_iterand"]


def pooled_ci95(means, cis, ns) -> tuple[float, float, int]:
    """Mean and 95% half-width over all evaluation episodes of all seeds, from per-seed (mean, ci95, n).

    Per-seed sd = ci95 * sqrt(n) / 1.96; total variance = within-seed + between-seed parts.
    (Treats episodes of different seeds as one sample; ignores clustering by seed.)
    """
    means, cis, ns = (np.asarray(v, dtype=float) for v in (means, cis, ns))
    sds = np.nan_to_num(cis * np.sqrt(ns) / 1.96)
    total = ns.sum()
    grand = float((ns * means).sum() / total)
    var = (((ns - 1) * sds ** 2).sum() + (ns * (means - grand) ** 2).sum()) / max(total - 1, 1)
    return grand, float(1.96 * np.sqrt(var / total)), int(total)


def accuracy_ci_table(runs, metric: str, ci_metric: str):
    import pandas as pd

    m = runs[runs.metric == metric][["method", "setting", "seed", "value", "n"]]
    c = runs[runs.metric == ci_metric][["method", "setting", "seed", "value"]].rename(columns={"value": "ci"})
    df = m.merge(c, on=["method", "setting", "seed"])
    out = []
    for (method, setting), g in df.groupby(["method", "setting"]):
        mean, ci, n = pooled_ci95(g.value, g.ci, pd.to_numeric(g.n))
        out.append({"method": method, "setting": setting, "width_factor": float(setting.split("=")[1]),
                    "mean": mean, "ci95": ci, "n_episodes": n, "n_seeds": len(g)})
    return pd.DataFrame(out)


def make_figures(results_dir: Path, profile: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pandas as pd

    from common.plotting import STYLE, save

    results_dir = Path(results_dir)
    md = [f"# Meta-ticket reproduction, profile `{profile}`: mean ± 95% CI over evaluation episodes x seeds\n"]
    specs = [("t1_omniglot_1shot", "test_acc_pct", "test_ci95_pct", "5-way 1-shot acc (%)"),
             ("t2_omniglot_5shot", "test_acc_pct", "test_ci95_pct", "5-way 5-shot acc (%)"),
             ("t3_sinusoid", "test_mse", "test_ci95_mse", "sinusoid 5-shot MSE")]
    present = [(t, m, c, lab) for t, m, c, lab in specs if (results_dir / f"{t}_runs.csv").is_file()]
    tables = []
    for t, metric, ci_metric, label in present:
        runs = pd.read_csv(results_dir / f"{t}_runs.csv", keep_default_na=False)
        tab = accuracy_ci_table(runs, metric, ci_metric)
        tab.insert(0, "table", t)
        tables.append(tab)
        dataset = runs.dataset.iloc[0]
        md.append(f"\n## {t} ({label}; dataset `{dataset}`)\n")
        widths = sorted(tab.width_factor.unique())
        md.append("| method | " + " | ".join(f"width x{w:g}" for w in widths) + " |")
        md.append("|---|" + "---|" * len(widths))
        for method in [m for m in METHOD_ORDER if m in set(tab.method)]:
            cells = []
            for w in widths:
                r = tab[(tab.method == method) & (tab.width_factor == w)]
                cells.append(f"{r['mean'].iloc[0]:.2f} ± {r['ci95'].iloc[0]:.2f}" if len(r) else "")
            md.append(f"| {method} | " + " | ".join(cells) + " |")
        n = tab.n_episodes.iloc[0]
        md.append(f"\n({tab.n_seeds.iloc[0]} seeds, {n} evaluation episodes in all per cell.)")
    extra = ["t4_omniglot_20way", "t5_mlp_cifarfs_vggflower", "t6_miniimagenet_resnet12", "t7_miniimagenet_wrn28",
             "t8_cross_domain_cnn", "t9_cross_domain_mlp"]
    for t in [t for t in extra if (results_dir / f"{t}_runs.csv").is_file()]:
        runs = pd.read_csv(results_dir / f"{t}_runs.csv", keep_default_na=False)
        md.append(f"\n## {t} (quick stand-in; meta-test accuracy %, 95% CI pooled over episodes x seeds)\n")
        md.append("| dataset | setting | method | mean ± 95% CI | episodes | seeds |")
        md.append("|---|---|---|---|---|---|")
        m = runs[runs.metric == "test_acc_pct"][["dataset", "method", "setting", "seed", "value", "n"]]
        c = runs[runs.metric == "test_ci95_pct"][["dataset", "method", "setting", "seed", "value"]].rename(columns={"value": "ci"})
        df = m.merge(c, on=["dataset", "method", "setting", "seed"])
        order = {k: i for i, k in enumerate(METHOD_ORDER + ["meta_ticket_boil"])}
        for (dataset, setting, method), g in sorted(df.groupby(["dataset", "setting", "method"]),
                                                    key=lambda kv: (kv[0][0], kv[0][1], order.get(kv[0][2], 99))):
            mean, ci, n = pooled_ci95(g.value, g.ci, pd.to_numeric(g.n))
            md.append(f"| {dataset} | {setting} | {method} | {mean:.2f} ± {ci:.2f} | {n} | {len(g)} |")
    if tables:
        # .tsv, not .csv: every *.csv of a results folder is read as a cell table by common.report
        pd.concat(tables).to_csv(results_dir / "accuracy_ci95.tsv", index=False, sep="\t")
    (results_dir / "accuracy_ci95.md").write_text("\n".join(md) + "\n")

    fewshot = [(t, tab) for (t, *_), tab in zip(present, tables) if t.startswith("t1") or t.startswith("t2")]
    if fewshot:
        with plt.rc_context(STYLE):
            fig, axes = plt.subplots(1, len(fewshot), figsize=(4.3 * len(fewshot), 3.3), squeeze=False)
            for ax, (t, tab) in zip(axes[0], fewshot):
                for method in [m for m in METHOD_ORDER if m in set(tab.method)]:
                    g = tab[tab.method == method].sort_values("width_factor")
                    ax.errorbar(g.width_factor, g["mean"], yerr=g.ci95, marker="o", ms=3, capsize=3, label=method)
                ax.set_xscale("log", base=2)
                ax.set_xticks(sorted(tab.width_factor.unique()))
                ax.get_xaxis().set_major_formatter(matplotlib.ticker.ScalarFormatter())
                ax.set_xlabel("MLP width factor")
                ax.set_ylabel("meta-test accuracy (%)")
                ax.set_title(("1-shot" if "1shot" in t else "5-shot") + f" Omniglot 5-way [{profile}]")
            axes[0][0].legend(frameon=False)
            save(fig, results_dir / "fig_accuracy_vs_width.png")

    t1 = results_dir / "t1_omniglot_1shot.csv"
    if t1.is_file():
        cells = pd.read_csv(t1, keep_default_na=False)
        cka = cells[cells.metric.str.startswith("feature_cka_l")].copy()
        if len(cka):
            cka["layer"] = cka.metric.str.replace("feature_cka_l", "").astype(int)
            cka["width"] = cka.setting.str.split("=").str[1].astype(float)
            widths = sorted(cka.width.unique())
            with plt.rc_context(STYLE):
                fig, axes = plt.subplots(1, len(widths), figsize=(3.4 * len(widths), 3.0), squeeze=False, sharey=True)
                for ax, w in zip(axes[0], widths):
                    for method in [m for m in METHOD_ORDER if m in set(cka.method)]:
                        g = cka[(cka.method == method) & (cka.width == w)].sort_values("layer")
                        ax.errorbar(g.layer, pd.to_numeric(g["mean"]), yerr=pd.to_numeric(g["std"]), marker="o", ms=3,
                                    capsize=2, label=method)
                    ax.set_xlabel("hidden layer")
                    ax.set_title(f"width x{w:g}")
                    ax.set_xticks(sorted(cka.layer.unique()))
                axes[0][0].set_ylabel("CKA(features before, after inner loop)")
                axes[0][-1].legend(frameon=False, fontsize=7)
                fig.suptitle(f"Feature change during adaptation, Omniglot 1-shot meta-test [{profile}] (lower = more task-specific)",
                             fontsize=9)
                save(fig, results_dir / "fig_feature_cka.png")
