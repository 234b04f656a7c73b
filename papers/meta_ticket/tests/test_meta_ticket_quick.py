"""The quick profile of issue 30: task threads, learning curves, full-only tables, claims and a GPU run."""

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from common.claims import HELD, INCONCLUSIVE, NOT_HELD, NOT_MEASURED, Results, evaluate
from papers.meta_ticket.config import QUICK, SMOKE, Config
from papers.meta_ticket.run import run
from papers.meta_ticket.tests.test_meta_ticket_run import needs_omniglot

TABLES = Path(__file__).resolve().parents[1] / "tables"
SINUSOID = {**QUICK, **SMOKE, "dataset": "sinusoid", "k_shot": 5, "inner_lr": 0.01, "train_steps": 1, "test_steps": 1,
            "ticket_optimizer": "adamw", "outer_lr": 1e-3, "eval_episodes": 4, "iterations": 4, "curve_points": 2,
            "curve_episodes": 3}


def _values(rows):
    return {(r.get("method", ""), r["metric"]): r["value"] for r in rows if not r["metric"].endswith("time_s")}


@pytest.mark.parametrize("method", ["maml", "meta_ticket"])
def test_task_threads_give_bit_identical_rows_sinusoid(method):
    cfg = replace(Config(), **{**SINUSOID, "method": method})
    one, two = _values(run(replace(cfg, task_workers=1))), _values(run(replace(cfg, task_workers=2)))
    assert one == two


@pytest.mark.data
@needs_omniglot
@pytest.mark.parametrize("method", ["maml", "meta_ticket"])
def test_task_threads_give_bit_identical_rows_omniglot(method):
    cfg = replace(Config(), **{**QUICK, **SMOKE, "method": method, "iterations": 3, "eval_episodes": 5})
    one, two = _values(run(replace(cfg, task_workers=1))), _values(run(replace(cfg, task_workers=3)))
    assert one == two


def _reference_task_loss(learner, task, lr=0.4, steps=2):
    """Query loss of one task after an inner loop written with torch.func.grad (the earlier implementation)."""
    from torch.func import functional_call, grad

    from papers.meta_ticket.baselines import MAMLFamily
    from papers.meta_ticket.method import binary_mask

    ce, model = nn.CrossEntropyLoss(), learner.model
    xs, ys, xq, yq = task
    if isinstance(learner, MAMLFamily):
        p, masks = dict(learner.meta), {}
    else:
        p = dict(learner.weights)
        masks = {n: binary_mask(learner.scores[n], learner.thresholds[n]) for n in learner.sparse_names}

    def fwd(q, x):
        return functional_call(model, {n: masks[n] * v if n in masks else v for n, v in q.items()}, (x,))

    for _ in range(steps):
        step = grad(lambda q: ce(fwd(q, xs), ys))(p)  # noqa: B023 (called in this iteration)
        p = {k: p[k] - lr * step[k] for k in p}
    return ce(fwd(p, xq), yq)


def test_meta_gradient_is_the_sum_of_per_task_gradients_of_the_reference_inner_loop():
    """One backward pass over the meta-batch (shared masks and masked start weights) = the mean of
    per-task gradients, each through an inner loop written with torch.func.grad (second order)."""
    from papers.meta_ticket.baselines import build_learner
    from papers.meta_ticket.models import FewShotMLP
    from papers.meta_ticket.train import meta_gradient

    torch.manual_seed(0)
    g = torch.Generator().manual_seed(1)
    tasks = [(torch.randn(6, 12, generator=g), torch.arange(6) % 3, torch.randn(6, 12, generator=g), torch.arange(6) % 3)
             for _ in range(3)]
    ce = nn.CrossEntropyLoss()
    for method in ("maml", "meta_ticket"):
        model = FewShotMLP(12, 3, [8, 8])
        learner = build_learner(Config(method=method), model, torch.Generator().manual_seed(0))
        params = [p for _, grp in learner.meta_param_groups() for p in grp]

        per_task = [torch.autograd.grad(_reference_task_loss(learner, t), params) for t in tasks]
        ref = [sum(gs) / len(tasks) for gs in zip(*per_task)]
        mean_loss, _ = meta_gradient(learner, tasks, ce, 0.4, 2, False, None)
        assert mean_loss == pytest.approx(float(sum(_reference_task_loss(learner, t) for t in tasks)) / 3, rel=1e-6)
        for p, r in zip(params, ref):
            assert torch.allclose(p.grad, r, atol=1e-6, rtol=1e-5), method
        assert any(float(p.grad.abs().max()) > 1e-4 for p in params), method


def test_learning_curve_rows_at_evenly_spaced_iterations():
    from papers.meta_ticket.train import curve_iterations

    assert curve_iterations(1000, 5) == [200, 400, 600, 800, 1000]
    assert curve_iterations(3, 5) == [1, 2, 3] and curve_iterations(10, 0) == []
    vals = _values(run(replace(Config(), **{**SINUSOID, "method": "maml"})))
    curve = sorted(k[1] for k in vals if k[1].startswith("curve_mse_it"))
    assert curve == ["curve_mse_it00002", "curve_mse_it00004"]
    assert all(0 < vals[("", c)] < 50 for c in curve)
    assert ("", "curve_train_mse_it00004") in vals


def test_quick_profile_spends_its_budget_on_t1_t2():
    """Issue 30 bars: t1/t2 quick = MAML and Meta-ticket at widths 1 and 4, >= 1,000 meta-iterations, >= 600 fixed
    test episodes, 3 seeds; the other image tables are full-only in quick and keep a smoke cell."""
    from common.registry import load_paper
    from common.sweep import expand_table

    paper = load_paper("meta_ticket")
    for t in ("t1_omniglot_1shot", "t2_omniglot_5shot"):
        cells = expand_table(paper, t, "quick")
        assert {c.config.method for c in cells} >= {"maml", "meta_ticket"}
        assert {c.config.width_factor for c in cells} >= {1.0, 4.0}
        assert {c.values["seed"] for c in cells} == {0, 1, 2}
        assert all(c.config.iterations >= 1000 and c.config.eval_episodes >= 600 for c in cells)
        full = expand_table(paper, t, "full")
        assert all(c.config.iterations == 30000 and c.config.dataset == "omniglot" and c.config.meta_batch == 4
                   for c in full)
    from common.sweep import skip_reason

    for path in TABLES.glob("x_*.yaml"):
        assert expand_table(paper, path.stem, "quick") == [] and skip_reason(paper, path.stem, "quick"), path.stem
        assert expand_table(paper, path.stem, "smoke") and expand_table(paper, path.stem, "full"), path.stem


def _write_results(folder: Path, gap_w1: float, gap_w4: float, maml_base: float = 70.0, noise=(0.0, 0.3, -0.3)):
    """Aggregated CSVs of t1/t2 with MAML and Meta-ticket at widths 1 and 4 (3 seeds), and the random-mask control."""
    from common.results import CELL_COLUMNS, RUN_COLUMNS

    runs = []
    for t, off in (("t1_omniglot_1shot", 0.0), ("t2_omniglot_5shot", 15.0)):
        for w, gap in ((1.0, gap_w1), (4.0, gap_w4)):
            for seed, e in enumerate(noise):
                base = maml_base + off + w + e
                vals = {"maml": base, "meta_ticket": base + gap, "meta_ticket_random_mask": base - 20.0}
                for method, v in vals.items():
                    runs.append({"table": t, "method": method, "metric": "test_acc_pct", "value": v, "seed": seed,
                                 "setting": f"width_factor={w}"})
                    if method != "maml":
                        runs.append({"table": t, "method": method, "metric": "sparsity_pct", "value": 30.0,
                                     "seed": seed, "setting": f"width_factor={w}"})
                    if t.startswith("t1") and method != "meta_ticket_random_mask":
                        runs.append({"table": t, "method": method, "metric": "feature_cka_l4", "seed": seed,
                                     "value": 0.9 - (0.1 if method == "meta_ticket" else 0.0) + e / 100,
                                     "setting": f"width_factor={w}"})
    df = pd.DataFrame(runs).assign(paper="meta_ticket", profile="quick", dataset="omniglot_small", n=1)
    for t, g in df.groupby("table"):
        g.reindex(columns=RUN_COLUMNS).to_csv(folder / f"{t}_runs.csv", index=False)
        cells = g.groupby(["paper", "table", "profile", "dataset", "method", "setting", "metric"], as_index=False)[
            "value"].agg(mean="mean", std="std", n_seeds="count")
        cells.reindex(columns=CELL_COLUMNS).to_csv(folder / f"{t}.csv", index=False)


def _verdicts(folder):
    from papers.meta_ticket.claims import CLAIMS

    return {v["id"]: v["status"] for v in evaluate(CLAIMS, Results(folder))}


def test_claims_follow_the_intervals(tmp_path):
    _write_results(tmp_path, gap_w1=2.0, gap_w4=8.0)
    v = _verdicts(tmp_path)
    assert v["C1"] == HELD and v["C2"] == HELD and v["C3"] == HELD and v["C4"] == HELD
    assert v["S2"] == HELD and v["S3"] == HELD and v["C5"] == NOT_MEASURED
    other = tmp_path / "other"
    other.mkdir()
    _write_results(other, gap_w1=-3.0, gap_w4=-3.0, noise=(0.0, 0.2, -0.2))
    v = _verdicts(other)
    assert v["C1"] == NOT_HELD and v["C2"] in (INCONCLUSIVE, NOT_HELD)


def test_claims_need_both_methods_above_the_bars(tmp_path):
    _write_results(tmp_path, gap_w1=2.0, gap_w4=8.0, maml_base=30.0)     # 1-shot MAML at ~31 %: below the 40 % bar
    v = _verdicts(tmp_path)
    assert v["C1"] == NOT_MEASURED and v["C2"] == NOT_MEASURED and v["C4"] == NOT_MEASURED
    assert v["S3"] == NOT_HELD


@pytest.mark.gpu
def test_fifty_meta_iterations_on_cuda():
    """The full profile's code path on a GPU: 50 second-order outer iterations of Meta-ticket and MAML on the
    official Omniglot MLP (width 4, synthetic 28x28 5-way 1-shot tasks) and a sinusoid cell through run()."""
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    from papers.meta_ticket.baselines import build_learner
    from papers.meta_ticket.method import MetaTicket, accuracy
    from papers.meta_ticket.models import FewShotMLP
    from papers.meta_ticket.train import meta_train

    dev = torch.device("cuda")
    g = torch.Generator().manual_seed(0)
    protos = torch.rand(20, 784, generator=g)

    def sample(rng, n):
        out = []
        for _ in range(n):
            c = torch.from_numpy(rng.choice(20, 5, replace=False))
            x = protos[c].repeat(2, 1) + 0.1 * torch.randn(10, 784, generator=g)
            y = torch.arange(5).repeat(2)
            out.append((x[:5].to(dev), y[:5].to(dev), x[5:].to(dev), y[5:].to(dev)))
        return out

    cfg = Config(iterations=50, warmup_iters=2, width_factor=4.0, device="cuda")
    for method in ("meta_ticket", "maml"):
        learner = build_learner(replace(cfg, method=method), FewShotMLP(784, 5, [1024, 512, 256, 256]),
                                torch.Generator().manual_seed(0)).to(dev)
        info = meta_train(replace(cfg, method=method), learner, sample, nn.CrossEntropyLoss(), accuracy,
                          np.random.default_rng(0))
        assert np.isfinite(info["train_metric"]) and info["train_metric"] > 0.2      # above 5-way chance
        params = [p for _, grp in learner.meta_param_groups() for p in grp]
        assert all(p.device.type == "cuda" for p in params)
        if isinstance(learner, MetaTicket):
            assert 0 < learner.overall_sparsity() < 1
    rows = run(replace(Config(), **{**SINUSOID, "method": "meta_ticket", "iterations": 50, "eval_episodes": 20,
                                    "device": "cuda", "deterministic": False, "task_workers": 1}))
    assert np.isfinite(_values(rows)[("", "test_mse")])
