"""Cells through run(), bad input as one ConfigError, and the smoke profile through the real sweep."""

import pandas as pd
import pytest

from common import cli
from common.config import ConfigError, apply_overrides
from papers.at_sharpness.config import Config
from papers.at_sharpness.run import run


def _rows(cfg):
    return {r["metric"]: r["value"] for r in run(cfg)}


def test_lr_cell_reports_spectrum_checks_and_decomposition():
    base = _rows(Config(dataset="pmlb_sonar", method="adversarial", eps_frac=0.0, threads=1))
    adv = _rows(Config(dataset="pmlb_sonar", method="adversarial", eps_frac=0.6, threads=1))
    assert adv["grad_norm"] <= 1e-9 and adv["pgd_closed_form_gap"] <= 1e-9 and adv["hvp_rel_err"] <= 1e-10
    assert adv["top_eig_train"] > base["top_eig_train"]          # the paper's effect on one real table
    assert abs(adv["top_share_data_term"] + adv["top_share_dir_term"] - adv["top_eig_train"]) < 1e-9
    assert base["top_eig_dir_term"] == 0.0 and adv["top_eig_dir_term"] > 0
    assert adv["eps"] == pytest.approx(0.6 * adv["collapse_radius"])
    assert adv["eig1_train"] == adv["top_eig_train"] >= adv["eig2_train"] >= adv["eig10_train"]
    assert adv["test_robust_acc_pct"] <= adv["test_acc_pct"]


def test_seed_changes_the_split_and_random_noise_runs():
    a = _rows(Config(dataset="pmlb_sonar", method="random_noise", eps_frac=0.4, seed=0, threads=1))
    b = _rows(Config(dataset="pmlb_sonar", method="random_noise", eps_frac=0.4, seed=1, threads=1))
    assert a["top_eig_train"] != b["top_eig_train"] and a["grad_norm"] <= 1e-9


@pytest.mark.parametrize("bad, match", [
    (dict(eps_frac=1.0, method="adversarial", dataset="pmlb_sonar"), "collapse radius"),
    (dict(method="adversarial", dataset="fashion_mnist"), "needs a binary task"),
    (dict(method="pgd_at", dataset="pmlb_sonar"), "needs an image set"),
    (dict(method="svm"), "method must be one of"),
    (dict(l2=0.0), "l2=0.0"),
    (dict(pool=3), "pool=3"),
])
def test_impossible_settings_are_one_config_error(bad, match):
    with pytest.raises(ConfigError, match=match):
        run(Config(**bad))


def test_unknown_key_is_a_config_error():
    with pytest.raises(ConfigError, match="eps_fraction"):
        apply_overrides(Config(), {"eps_fraction": 0.1}, "cli")


def test_smoke_profile_end_to_end(tmp_path, monkeypatch):
    monkeypatch.setenv("REPRO_RUNS", str(tmp_path / "runs"))
    monkeypatch.setenv("REPRO_RESULTS", str(tmp_path / "results"))
    monkeypatch.setenv("REPRO_PROGRESS", "0")
    report = cli.reproduce("at_sharpness", profile="smoke")
    assert not report.failed and len(report.ran) == 6
    out = tmp_path / "results" / "at_sharpness" / "smoke"
    cells = pd.read_csv(out / "x_lr_sharpness.csv", keep_default_na=False)
    top = cells[(cells.metric == "top_eig_train") & (cells.method == "adversarial")].set_index("setting")["mean"]
    assert top["eps_frac=0.4"] > top["eps_frac=0.0"]
    deep = pd.read_csv(out / "x_deep_sharpness_runs.csv", keep_default_na=False)
    deep = deep[deep.setting == "eps=1.0"].set_index("metric")["value"].astype(float)
    assert deep["test_robust_acc_pct"] <= deep["test_acc_pct"] and deep["power_iters_adv"] <= 3
    assert deep["loss_adv"] > deep["loss_clean"]  # PGD raises the loss of the Hessian batch
    claims = pd.read_csv(out / "claims.csv", keep_default_na=False).set_index("id")
    assert claims.loc["S2", "verdict"] == "held" and claims.loc["S3", "verdict"] == "held"
    assert (out / "f1_lr_sharpness.png").is_file() and (out / "f3_deep_sharpness.png").is_file()
