"""Claim verdicts on constructed result folders: held, not held, inconclusive and not measured."""

import numpy as np
import pandas as pd

from common.claims import Results, evaluate
from papers.at_sharpness.claims import CLAIMS

EPS = [0.0, 0.4, 0.8]


def _write(folder, table, rows):
    runs = pd.DataFrame(rows)
    runs.to_csv(folder / f"{table}_runs.csv", index=False)
    cells = runs.groupby(["dataset", "method", "setting", "metric"], as_index=False)["value"].mean()
    cells.rename(columns={"value": "mean"}).assign(paper_value="").to_csv(folder / f"{table}.csv", index=False)


def _folder(tmp_path, lr_top, deep_top, clean_acc=80.0, noise=0.01):
    rng = np.random.default_rng(0)
    lr, deep = [], []
    for ds in ("a", "b"):
        for seed in range(3):
            for e, top in zip(EPS, lr_top):
                s = f"eps_frac={e}"
                for method, t in (("adversarial", top), ("random_noise", lr_top[0])):
                    val = t + noise * rng.normal()
                    lr += [dict(dataset=ds, method=method, setting=s, seed=seed, metric="top_eig_train", value=val)]
                lr += [dict(dataset=ds, method="adversarial", setting=s, seed=seed, metric=m, value=v)
                       for m, v in (("top_share_dir_term", e * top / 2 + noise * rng.normal()), ("grad_norm", 1e-12),
                                    ("pgd_closed_form_gap", 0.0), ("hvp_rel_err", 1e-15))]
    for seed in range(3):
        for e, top in zip([0.0, 1.0, 2.0], deep_top):
            s = f"eps={e}"
            deep += [dict(dataset="fashion_mnist", method="pgd_at", setting=s, seed=seed, metric=m, value=v)
                     for m, v in (("top_eig_adv", top + noise * rng.normal()), ("test_acc_pct", clean_acc),
                                  ("power_rel_change_adv", 1e-4), ("power_rel_change_clean", 1e-4))]
    _write(tmp_path, "x_lr_sharpness", lr)
    _write(tmp_path, "x_deep_sharpness", deep)
    out = evaluate(CLAIMS, Results(tmp_path))
    return {r["id"]: r["status"] for r in out}


def test_increasing_sharpness_holds(tmp_path):
    v = _folder(tmp_path, [1.0, 2.0, 5.0], [7.0, 8.0, 10.0])
    assert v == {"C1": "held", "C2": "held", "C3": "held", "C4": "held", "S1": "held", "S2": "held",
                 "S3": "held", "S4": "held"}


def test_a_decreasing_step_is_not_held_and_noise_is_inconclusive(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    assert _folder(tmp_path / "a", [1.0, 3.0, 2.0], [7.0, 8.0, 10.0])["C1"] == "not held"
    assert _folder(tmp_path / "b", [1.0, 2.0, 5.0], [7.0, 7.0, 7.0], noise=0.5)["C2"] == "inconclusive"


def test_untrained_network_is_not_measured(tmp_path):
    v = _folder(tmp_path, [1.0, 2.0, 5.0], [7.0, 8.0, 10.0], clean_acc=40.0)
    assert v["C2"] == "not measured"
