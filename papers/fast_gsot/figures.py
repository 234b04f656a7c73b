"""Figures, drawn from the result CSVs only (``results/``, never ``runs/``): CPU time of each solver
and the speedups of the fast method (over the original, over POT and over the faster of the two in
each run) against the number of samples (``x_size.png``), of classes
(``x_classes.png``), and gamma / rho (``x_gamma_rho_gamma.png``, ``x_gamma_rho_rho.png``)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from common.plotting import STYLE, line_with_bands, save  # noqa: E402

LABELS = {"original": "original (full gradient)", "fast": "fast (paper)", "pot_dual": "POT solve_dual",
          "sinkhorn_l1l2_gl": "POT sinkhorn_l1l2_gl"}
COLORS = {"original (full gradient)": "tab:orange", "fast (paper)": "tab:blue", "POT solve_dual": "tab:green",
          "POT sinkhorn_l1l2_gl": "tab:red", "fast vs original": "tab:blue", "fast vs POT solve_dual": "tab:green",
          "fast vs fastest exact": "black"}


def _recolor(ax) -> None:
    """Same colour for a method in every figure (line_with_bands draws a line then its band)."""
    for line, band in zip(ax.get_lines(), ax.collections):
        color = COLORS.get(line.get_label())
        if color:
            line.set_color(color)
            band.set_color(color)
    ax.legend(frameon=False)


def _runs(results_dir: Path, table: str) -> pd.DataFrame | None:
    path = results_dir / f"{table}_runs.csv"
    if not path.is_file():
        return None
    df = pd.read_csv(path, keep_default_na=False, dtype={"setting": str})
    kv = df["setting"].str.split(";").apply(lambda parts: dict(p.split("=", 1) for p in parts if "=" in p))
    for key in sorted({k for d in kv for k in d}):
        df[key] = kv.apply(lambda d, k=key: d.get(k))
    df["value"] = pd.to_numeric(df["value"], errors="coerce")
    return df


def _time_and_speedup(df: pd.DataFrame, x: str, path: Path, title: str, xlabel: str, logx: bool) -> None:
    df = df.copy()
    df[x] = pd.to_numeric(df[x])
    times = df[(df.metric == "cpu_time_s") & df.method.isin(list(LABELS))].copy()
    times["method"] = times["method"].map(LABELS)
    names = {"speedup_x": "fast vs original", "speedup_vs_pot_x": "fast vs POT solve_dual",
             "speedup_vs_best_exact_x": "fast vs fastest exact"}
    speed = df[(df.method == "fast") & df.metric.isin(list(names))].copy()
    speed["method"] = speed["metric"].map(names)
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(1, 2, figsize=(8.6, 3.3))
        line_with_bands(times, x, "value", "method", path, xlabel=xlabel, ylabel="CPU time (s)", logx=logx,
                        logy=True, ax=axes[0])
        line_with_bands(speed, x, "value", "method", path, xlabel=xlabel, ylabel="speedup (x)", logx=logx,
                        ax=axes[1])
        _recolor(axes[0])
        _recolor(axes[1])
        axes[1].axhline(8.6, color="grey", lw=0.8, ls="--")
        axes[1].text(axes[1].get_xlim()[0], 8.6, " paper: up to 8.6x", va="bottom", fontsize=7, color="grey")
        axes[1].axhline(1.0, color="black", lw=0.5)
        fig.suptitle(title, fontsize=9)
        save(fig, path)


def make_figures(results_dir: Path, profile: str) -> None:
    results_dir = Path(results_dir)
    df = _runs(results_dir, "x_size")
    if df is not None:
        df = df[df["n_target"].notna()]
        df["n_total"] = pd.to_numeric(df["n_source"]) + pd.to_numeric(df["n_target"])
        _time_and_speedup(df, "n_total", results_dir / "x_size.png",
                          f"Time vs number of samples ({profile})", "source + target samples", True)
    df = _runs(results_dir, "x_classes")
    if df is not None:
        _time_and_speedup(df, "n_classes", results_dir / "x_classes.png",
                          f"Time vs number of classes ({profile}; 10 samples per class per side)",
                          "classes (groups)", False)
    df = _runs(results_dir, "x_gamma_rho")
    if df is not None:
        for key, other, fixed in (("gamma", "rho", "0.5"), ("rho", "gamma", "10.0")):
            sub = df[df[other].astype(float) == float(fixed)] if other in df else df.iloc[0:0]
            if sub[key].nunique() > 1:
                _time_and_speedup(sub, key, results_dir / f"x_gamma_rho_{key}.png",
                                  f"Time vs {key} ({other} = {fixed}; {profile})", key, key == "gamma")
