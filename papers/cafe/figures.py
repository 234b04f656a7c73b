"""Figures: per-corruption error bars (single streams, t1) and the mixed-stream comparison (t2)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from .corruptions import CORRUPTIONS

ORDER = ["source", "bn", "tent", "pl", "shot_im", "tfa", "cafe_nogroup", "cafe"]


def _bars(ax, df, groups, order, title):
    import numpy as np
    width = 0.8 / len(order)
    for i, m in enumerate(order):
        sub = df[df["method"] == m].set_index("setting").reindex(groups)
        xs = np.arange(len(groups)) + (i - (len(order) - 1) / 2) * width
        ax.bar(xs, sub["mean"].astype(float), width, yerr=sub["std"].replace("", 0).astype(float),
               label=m, capsize=1.5, error_kw={"lw": 0.6})
    ax.set_xticks(range(len(groups)))
    ax.set_xticklabels([g.replace("mixed:", "").replace("_", "\n") for g in groups], fontsize=6)
    ax.set_ylabel("error (%)")
    ax.set_title(title, fontsize=8)
    ax.grid(axis="y", alpha=0.3)


def make_all(results_dir: Path, profile: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if profile in ("quick", "smoke"):
        corruption_examples(results_dir, profile)
    for table, settings, name, what in [
            ("t1", CORRUPTIONS + ["mean", "clean"], "t1_single_per_corruption.png",
             "one corruption per stream (reset between streams)"),
            ("t2", ["mixed"] + [f"mixed:{c}" for c in CORRUPTIONS], "t2_mixed_per_corruption.png",
             "all 15 corruptions shuffled into one stream ('mixed' = whole stream)")]:
        path = results_dir / f"{table}.csv"
        if not path.is_file():
            continue
        df = pd.read_csv(path, keep_default_na=False, dtype={"setting": str})
        df = df[df["metric"] == "error_pct"]
        datasets = sorted(set(df["dataset"]))
        fig, axes = plt.subplots(len(datasets), 1, figsize=(13, 3.0 * len(datasets)), squeeze=False)
        for ax, ds in zip(axes[:, 0], datasets):
            sub = df[df["dataset"] == ds]
            order = [m for m in ORDER if m in set(sub["method"])]
            groups = [g for g in settings if g in set(sub["setting"])]
            _bars(ax, sub, groups, order, f"{ds}: error (%) at severity 5, {what} [{profile}; mean ± std over seeds]")
        axes[0, 0].legend(ncol=len(ORDER), fontsize=7, loc="lower center", bbox_to_anchor=(0.5, 1.12), frameon=False)
        fig.tight_layout()
        fig.savefig(results_dir / name, dpi=110)
        plt.close(fig)
    if profile == "quick":
        update_readme_summary(results_dir)


def corruption_examples(results_dir: Path, profile: str) -> None:
    """The first test image of each corruption in the quick benchmarks (from the cache the run made)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    import papers.cafe.config as CM
    from common.config import resolve

    from . import run as R

    panels = []
    for ds in ("cifar10sub", "fmnist"):
        cfg = resolve(CM.Config, CM, profile, cell={"dataset": ds})
        folder = R.cache_dir("bench", {"dataset": ds, "severity": cfg.severity, "n": cfg.n_per_corruption,
                                       "seed": cfg.train_seed})
        if (folder / "done").is_file():
            panels.append((ds, R.get_benchmark(cfg)))
    if not panels:
        return
    names = ["clean"] + CORRUPTIONS
    fig, axes = plt.subplots(2 * len(panels), len(names), figsize=(1.0 * len(names), 2.2 * len(panels)))
    for p, (ds, bench) in enumerate(panels):
        for r in range(2):
            for j, c in enumerate(names):
                ax = axes[2 * p + r, j]
                ax.imshow(bench[c][0][r])
                ax.set_xticks([])
                ax.set_yticks([])
                if r == 0 and p == 0:
                    ax.set_title(c.replace("_", "\n"), fontsize=6)
            axes[2 * p + r, 0].set_ylabel(ds, fontsize=6)
    fig.suptitle(f"Our CIFAR-10-C-style benchmarks, severity 5 ({profile}); each column is its own random draw of test images",
                 fontsize=8)
    fig.tight_layout()
    fig.savefig(results_dir / "corruption_examples.png", dpi=110)
    plt.close(fig)


SUMMARY_BEGIN, SUMMARY_END = "<!-- cafe-summary:begin -->", "<!-- cafe-summary:end -->"


def summary_markdown(results_dir: Path) -> str:
    """Compact view: error % (mean ± std over seeds) per method; single-stream mean, mixed stream, clean."""
    parts = []
    for table, setting, label in [("t1", "mean", "single (mean of 15)"), ("t2", "mixed", "mixed stream"),
                                  ("t1", "clean", "clean")]:
        path = results_dir / f"{table}.csv"
        if not path.is_file():
            continue
        df = pd.read_csv(path, keep_default_na=False, dtype={"setting": str})
        df = df[(df["metric"] == "error_pct") & (df["setting"] == setting)]
        for _, r in df.iterrows():
            parts.append({"dataset": r["dataset"], "method": r["method"], "col": label,
                          "txt": f"{float(r['mean']):.2f} ± {float(r['std'] or 0):.2f}", "n_seeds": r["n_seeds"]})
    if not parts:
        return "No results yet."
    df = pd.DataFrame(parts)
    lines = []
    for ds, sub in df.groupby("dataset"):
        piv = sub.pivot(index="method", columns="col", values="txt")
        cols = [c for c in ["single (mean of 15)", "mixed stream", "clean"] if c in piv.columns]
        order = [m for m in ORDER if m in piv.index]
        lines += [f"**{ds}** — error (%), mean ± std over {sub['n_seeds'].max()} seeds", "",
                  "| method | " + " | ".join(cols) + " |", "|---|" + "---:|" * len(cols)]
        for m in order:
            lines.append(f"| {m} | " + " | ".join(str(piv.loc[m, c]) for c in cols) + " |")
        lines.append("")
    return "\n".join(lines)


def update_readme_summary(results_dir: Path) -> None:
    readme = Path(__file__).resolve().parent / "README.md"
    text = readme.read_text(encoding="utf-8")
    if SUMMARY_BEGIN in text and SUMMARY_END in text:
        head, rest = text.split(SUMMARY_BEGIN, 1)
        _, tail = rest.split(SUMMARY_END, 1)
        body = f"_Generated from `{results_dir.parent.name}/{results_dir.name}/t1.csv, t2.csv` by `figures.py`._\n\n"
        readme.write_text(head + SUMMARY_BEGIN + "\n" + body + summary_markdown(results_dir) + "\n" + SUMMARY_END
                          + tail, encoding="utf-8")
