"""Figures of the rdro reproduction, drawn from the committed result CSVs only (never runs/)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from common.plotting import line_with_bands, save  # noqa: E402

METHOD_ORDER = ("ddro", "dpo", "kto", "rdro", "rdro_class")
COLORS = dict(zip(METHOD_ORDER, ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd")))


def _runs(results_dir: Path, table: str) -> pd.DataFrame | None:
    path = Path(results_dir) / f"{table}_runs.csv"
    if not path.is_file():
        return None
    return pd.read_csv(path, keep_default_na=False, dtype={"setting": str})


def make_figures(results_dir: Path, profile: str) -> None:
    results_dir = Path(results_dir)
    cat = _runs(results_dir, "x_categorical")
    if cat is not None:
        cat = cat.assign(n=cat["setting"].str.extract(r"n_samples=([0-9]+)")[0].astype(float))
        fig, axes = plt.subplots(1, 3, figsize=(15, 4))
        for ax, metric, ylab in zip(axes, ("tv_to_preferred", "tv_to_limit", "final_max_ratio"),
                                    ("TV(pi, p+)", "TV(pi, own n->inf limit)", "fitted max_y pi/pi_ref")):
            sub = cat[cat.metric == metric]
            if sub.empty:
                continue
            ax.set_prop_cycle(color=[COLORS[m] for m in sorted(sub["method"].unique())])   # one colour per method
            line_with_bands(sub, x="n", y="value", hue="method", path=None, logx=True, logy=True, ax=ax,
                            title=ylab, xlabel="labelled samples n", ylabel=ylab)
        alpha = cat[cat.metric == "alpha"]["value"].mean()
        axes[2].axhline(1 / alpha, color="k", ls="--", lw=1, label="1/alpha")
        axes[2].legend(fontsize=7)
        fig.suptitle(f"Categorical setting (K = 1,000 responses; {profile})")
        save(fig, results_dir / "f_categorical.png")
    lm = _runs(results_dir, "x_sentiment_lm")
    if lm is not None:
        ck = lm[lm.metric.str.match(r"ckpt\d+_")].copy()
        ck["ckpt"] = ck.metric.str.extract(r"ckpt(\d+)_")[0].astype(int)
        ck["what"] = ck.metric.str.replace(r"ckpt\d+_", "", regex=True)
        wide = ck.pivot_table(index=["method", "seed", "ckpt"], columns="what", values="value").reset_index()
        mean = wide.groupby(["method", "ckpt"])[["kl", "reward_pct"]].mean().reset_index()
        fig, axes = plt.subplots(1, 2, figsize=(11, 4))
        for m, sub in mean.groupby("method"):
            axes[0].plot(sub["kl"], sub["reward_pct"], marker="o", label=m, color=COLORS.get(m))
        axes[0].set_xscale("symlog", linthresh=1.0)
        axes[0].set(xlabel="KL(pi || pi_ref) (nats)", ylabel="reward (%)", title="reward vs KL along training")
        axes[0].legend(fontsize=8)
        st = lm[lm.metric.isin(["peak_logratio", "peak_grad_norm"])]
        piv = st.groupby(["method", "metric"])["value"].mean().unstack()
        piv.plot.bar(ax=axes[1], rot=0, logy=True)
        axes[1].set(title="training stability (mean over seeds)", ylabel="peak value")
        fig.suptitle(f"Tiny Llama on Amazon food reviews, sentiment reward ({profile})")
        save(fig, results_dir / "f_sentiment_lm.png")
