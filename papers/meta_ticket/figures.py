"""Figures of the Meta-ticket reproduction, drawn from the committed result CSVs only (``results/``).

* ``fig_accuracy_vs_width.png``: meta-test accuracy against the MLP width factor for each method,
  Omniglot 5-way 1-shot and 5-shot (t1, t2); mean over seeds with the 95% t interval over seeds.
* ``fig_learning_curves.png``: accuracy on the fixed curve episodes (meta-test classes) against the
  outer iteration, per method and width, 1-shot and 5-shot; mean over seeds with the 95% t interval.
* ``fig_feature_cka.png``: linear CKA between each hidden layer's features before and after the inner
  loop, per width and method (t1); mean ± std over seeds. Lower = features change more per task.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from common.claims import t_interval

METHOD_ORDER = ["maml", "anil", "boil", "meta_ticket", "meta_ticket_iterand", "meta_ticket_boil"]
FEWSHOT = [("t1_omniglot_1shot", "1-shot"), ("t2_omniglot_5shot", "5-shot")]


def _width(setting: str) -> float:
    return float(dict(p.split("=", 1) for p in str(setting).split(";"))["width_factor"])


def accuracy_by_width(runs: pd.DataFrame, metric: str = "test_acc_pct") -> pd.DataFrame:
    """Per (method, width): mean over seeds and the 95% t interval over seeds."""
    df = runs[runs.metric == metric].assign(value=lambda d: pd.to_numeric(d.value),
                                            width=lambda d: d.setting.map(_width))
    out = []
    for (method, width), g in df.groupby(["method", "width"]):
        m, lo, hi = t_interval(g.value.to_numpy(float))
        out.append({"method": method, "width": width, "mean": m, "low": lo, "high": hi, "n_seeds": len(g)})
    return pd.DataFrame(out)


def learning_curves(runs: pd.DataFrame, prefix: str = "curve_acc_pct_it") -> pd.DataFrame:
    """Per (method, width, iteration): mean over seeds and the 95% t interval over seeds."""
    df = runs[runs.metric.str.startswith(prefix)]
    df = df.assign(value=pd.to_numeric(df.value), width=df.setting.map(_width),
                   iteration=df.metric.str[len(prefix):].astype(int))
    out = []
    for (method, width, it), g in df.groupby(["method", "width", "iteration"]):
        m, lo, hi = t_interval(g.value.to_numpy(float))
        out.append({"method": method, "width": width, "iteration": it, "mean": m, "low": lo, "high": hi})
    return pd.DataFrame(out, columns=["method", "width", "iteration", "mean", "low", "high"])


def _methods(df: pd.DataFrame) -> list[str]:
    return [m for m in METHOD_ORDER if m in set(df.method)]


def make_figures(results_dir: Path, profile: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from common.plotting import STYLE, save

    results_dir = Path(results_dir)
    present = [(t, lab) for t, lab in FEWSHOT if (results_dir / f"{t}_runs.csv").is_file()]
    if present:
        with plt.rc_context(STYLE):
            fig, axes = plt.subplots(1, len(present), figsize=(4.3 * len(present), 3.3), squeeze=False)
            for ax, (t, label) in zip(axes[0], present):
                tab = accuracy_by_width(pd.read_csv(results_dir / f"{t}_runs.csv", keep_default_na=False,
                                                    dtype={"setting": str}))
                for method in _methods(tab):
                    g = tab[tab.method == method].sort_values("width")
                    err = [g["mean"] - g["low"], g["high"] - g["mean"]]
                    ax.errorbar(g.width, g["mean"], yerr=err, marker="o", ms=3, capsize=3, label=method)
                ax.set_xscale("log", base=2)
                ax.set_xticks(sorted(tab.width.unique()))
                ax.get_xaxis().set_major_formatter(matplotlib.ticker.ScalarFormatter())
                ax.set_xlabel("MLP width factor")
                ax.set_ylabel("meta-test accuracy (%), 95% CI over seeds")
                ax.set_title(f"{label} Omniglot 5-way [{profile}]")
            axes[0][0].legend(frameon=False)
            save(fig, results_dir / "fig_accuracy_vs_width.png")

    curves = [(t, lab, learning_curves(pd.read_csv(results_dir / f"{t}_runs.csv", keep_default_na=False,
                                                   dtype={"setting": str}))) for t, lab in present]
    curves = [c for c in curves if not c[2].empty]
    if curves:
        with plt.rc_context(STYLE):
            fig, axes = plt.subplots(1, len(curves), figsize=(4.3 * len(curves), 3.3), squeeze=False)
            for ax, (_t, label, cur) in zip(axes[0], curves):
                for method in _methods(cur):
                    for width in sorted(cur.width.unique()):
                        g = cur[(cur.method == method) & (cur.width == width)].sort_values("iteration")
                        line, = ax.plot(g.iteration, g["mean"], marker="o", ms=3, label=f"{method} x{width:g}",
                                        ls="-" if method == "meta_ticket" else "--")
                        ax.fill_between(g.iteration, g["low"], g["high"], alpha=0.15, color=line.get_color())
                ax.set_xlabel("outer iteration")
                ax.set_ylabel("curve-episode accuracy (%), 95% CI over seeds")
                ax.set_title(f"{label} Omniglot 5-way [{profile}]")
            axes[0][0].legend(frameon=False, fontsize=7)
            save(fig, results_dir / "fig_learning_curves.png")

    t1 = results_dir / "t1_omniglot_1shot.csv"
    if not t1.is_file():
        return
    cells = pd.read_csv(t1, keep_default_na=False, dtype={"setting": str})
    cka = cells[cells.metric.str.startswith("feature_cka_l")].copy()
    if cka.empty:
        return
    cka["layer"] = cka.metric.str.replace("feature_cka_l", "").astype(int)
    cka["width"] = cka.setting.map(_width)
    widths = sorted(cka.width.unique())
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(1, len(widths), figsize=(3.4 * len(widths), 3.0), squeeze=False, sharey=True)
        for ax, w in zip(axes[0], widths):
            for method in _methods(cka):
                g = cka[(cka.method == method) & (cka.width == w)].sort_values("layer")
                ax.errorbar(g.layer, pd.to_numeric(g["mean"], errors="coerce"), yerr=pd.to_numeric(g["std"], errors="coerce"), marker="o", ms=3,
                            capsize=2, label=method)
            ax.set_xlabel("hidden layer")
            ax.set_title(f"width x{w:g}")
            ax.set_xticks(sorted(cka.layer.unique()))
        axes[0][0].set_ylabel("CKA(features before, after inner loop)")
        axes[0][-1].legend(frameon=False, fontsize=7)
        fig.suptitle(f"Feature change during adaptation, Omniglot 1-shot meta-test [{profile}] "
                     "(lower = more task-specific)", fontsize=9)
        save(fig, results_dir / "fig_feature_cka.png")
