"""Smoke runs of a table cell through run() on synthetic stand-in images (no dataset needed), resume,
figures, and bad input. A real-data smoke cell is marked ``data`` (skips without Fashion-MNIST)."""

import dataclasses
import json
import shutil

import numpy as np
import pandas as pd
import pytest
import torch

import papers.pu_diffusion.config as CM
from common.config import ConfigError, resolve
from papers.pu_diffusion import figures as FIG
from papers.pu_diffusion import run as R
from papers.pu_diffusion import train as TR


def _synthetic(dataset, split):
    """Class k = a bright 8x8 square at one of 10 positions of a dark noisy 28x28 image."""
    rng = np.random.default_rng(0 if split == "train" else 1)
    n = 600 if split == "train" else 300
    y = np.arange(n) % 10
    x = rng.integers(0, 40, (n, 28, 28)).astype(np.uint8)
    for i, k in enumerate(y):
        r, c = 2 + 9 * (k // 5), 1 + 5 * (k % 5)
        x[i, r:r + 8, c:c + 5] = 230
    return x, y.astype(np.int64), "synthetic_squares"


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("REPRO_RUNS", str(tmp_path / "runs"))
    monkeypatch.setattr(R, "load_images", _synthetic)
    n = torch.get_num_threads()
    yield tmp_path
    torch.set_num_threads(n)


def _cfg(**kw):
    cell = {"threads": 1, "judge_train_size": 0, "judge_epochs": 10, **kw}
    return resolve(CM.Config, CM, "smoke", cell=cell)


def test_smoke_cell_resume_and_reference_rows(env):
    wd = env / "cell"
    wd.mkdir()
    cfg = _cfg(method="unsupervised", beta=0.0)
    rows = R.run(cfg, workdir=wd)
    by = {(r.get("method", cfg.method), r["metric"]): r["value"] for r in rows}
    assert 0 <= by[("unsupervised", "nonsensitive_rate_pct")] <= 100
    assert np.isfinite(by[("unsupervised", "fid_judgefeat")]) and by[("unsupervised", "fid_judgefeat")] >= 0
    assert by[("unsupervised", "judge_test_acc_pct")] > 30          # learned the squares (chance: 10 %)
    assert 0 <= by[("unsupervised", "pu_negative_risk_below0_steps_pct")] <= 100
    # the real unlabelled set is ~91 % normal by construction; the judge sees that
    assert by[("real_unlabeled_data", "nonsensitive_rate_pct")] > 60
    grid = np.load(wd / "samples_grid.npy")
    assert grid.shape == (16, 1, 16, 16) and grid.dtype == np.uint8
    assert all(r["dataset"] == "synthetic_squares_16px" for r in rows)
    # the judge is cached and reused
    caches = list((env / "runs" / "pu_diffusion" / "_cache").glob("judge-*/judge.pt"))
    assert len(caches) == 1
    # a re-run in the same folder resumes from the final checkpoint and reproduces the metrics
    again = {(r.get("method", cfg.method), r["metric"]): r["value"] for r in R.run(cfg, workdir=wd)}
    for key in [("unsupervised", "nonsensitive_rate_pct"), ("unsupervised", "fid_judgefeat"),
                ("unsupervised", "final_train_loss")]:
        assert again[key] == pytest.approx(by[key])
    assert len(json.loads((wd / "train_loss.json").read_text())) == cfg.num_epochs


def test_smoke_pu_cell_and_figures_from_results_only(env):
    wd = env / "runs" / "pu_diffusion" / "x_methods" / "abc123"
    wd.mkdir(parents=True)
    rows = R.run(_cfg(method="pu", judge_epochs=1), workdir=wd)
    assert {r["metric"] for r in rows} >= {"nonsensitive_rate_pct", "fid_judgefeat"}
    assert not any(r.get("method") == "real_unlabeled_data" for r in rows)
    # figures read results/ only: with runs/ gone they are still drawn from the CSVs
    res = env / "results"
    res.mkdir()
    recs = [{"method": m, "setting": "normal=clothes", "seed": k, "metric": metric, "value": v + k}
            for k in range(2) for m in ("unsupervised", "pu")
            for metric, v in (("nonsensitive_rate_pct", 90.0), ("fid_judgefeat", 30.0))]
    pd.DataFrame(recs).to_csv(res / "x_methods_runs.csv", index=False)
    beta = [{**r, "setting": "normal=clothes;beta=0.2"} for r in recs if r["method"] == "pu"]
    pd.DataFrame(beta).to_csv(res / "x_beta_runs.csv", index=False)
    shutil.rmtree(env / "runs")
    FIG.make_figures(res, "smoke")
    assert (res / "x_methods.png").stat().st_size > 1000 and (res / "x_beta.png").stat().st_size > 1000


def test_bad_input_fails_before_writing(env):
    wd = env / "cell"
    wd.mkdir()
    with pytest.raises(ConfigError, match="n_unlabelled"):
        resolve(CM.Config, CM, "smoke", cell={"n_unlabelled": 3})
    with pytest.raises(ValueError, match="method must be one of"):
        R.run(_cfg(method="gan"), workdir=wd)
    with pytest.raises(ValueError, match="not a partition of fashion_mnist"):
        R.run(_cfg(normal="even"), workdir=wd)
    with pytest.raises(ConfigError, match="only 420 normal"):        # 7 normal classes x 60 images
        R.run(_cfg(n_unlabeled_normal=421), workdir=wd)
    with pytest.raises(ValueError, match="inception_weights"):
        R.run(_cfg(fid_features="inception"), workdir=wd)
    with pytest.raises(ValueError, match="divisible"):
        R.run(_cfg(image_size=15), workdir=wd)
    assert list(wd.iterdir()) == []


def test_impossible_split_sizes_fail_in_validate():
    """Against the official class counts, before any data is read or folder made: one ConfigError."""
    with pytest.raises(ConfigError, match="only 42000 normal"):          # 7 classes x 6,000 Fashion-MNIST images
        resolve(CM.Config, CM, "quick", cell={"n_unlabeled_normal": 42001})
    with pytest.raises(ConfigError, match="only 18000 sensitive"):
        resolve(CM.Config, CM, "quick", cell={"n_labeled_sensitive": 9000, "n_unlabeled_sensitive": 9001})
    with pytest.raises(ConfigError, match="test split has only 7000 normal"):
        resolve(CM.Config, CM, "quick", cell={"n_test": 7001})
    with pytest.raises(ConfigError, match="only 29492 normal"):          # MNIST even digits
        resolve(CM.Config, CM, "full", cell={"normal": "even", "n_unlabeled_normal": 30000})


def test_impossible_split_size_through_the_cli_leaves_nothing(tmp_path, monkeypatch):
    """`make reproduce-pu-diffusion ARGS='--set n_unlabeled_normal=...'`: one error line, exit 2, no run folder."""
    from common import cli

    monkeypatch.setenv("REPRO_RUNS", str(tmp_path / "runs"))
    monkeypatch.setenv("REPRO_RESULTS", str(tmp_path / "results"))
    code = cli.main(["reproduce", "pu_diffusion", "--profile", "smoke", "--set", "n_unlabeled_normal=42001"])
    assert code == 2
    assert not (tmp_path / "runs").exists() or not any(p.is_file() for p in (tmp_path / "runs").rglob("*"))


def test_judge_cache_is_keyed_by_the_normal_classes(env):
    """Two partitions of one dataset get two judge cache entries (key.json names the normal classes)."""
    from papers.pu_diffusion.data import to_model_space

    x, y, _ = _synthetic("mnist", "train")
    x = to_model_space(x, 16, 1)
    for normal in ("even", "odd"):
        cfg = dataclasses.replace(_cfg(judge_epochs=1), dataset="mnist", normal=normal)
        TR.get_judge(cfg, x, y, "synthetic", "cpu")
    keys = sorted((env / "runs" / "pu_diffusion" / "_cache").glob("judge-*/key.json"))
    assert sorted(tuple(json.loads(k.read_text())["normal"]) for k in keys) == [(0, 2, 4, 6, 8), (1, 3, 5, 7, 9)]


def test_fine_tuning_a_pretrained_pipeline_through_run(env, tmp_path):
    """The full-profile fine-tuning path (official main_ft.py) with a tiny UNet2DModel pipeline saved here,
    no download: the run starts from its weights and scheduler, and a mismatched image size is a ConfigError."""
    from diffusers import DDPMPipeline, DDPMScheduler

    from papers.pu_diffusion.models import build_unet

    torch.manual_seed(0)
    DDPMPipeline(unet=build_unet(1, 16, (8, 16), 1, (), 8),
                 scheduler=DDPMScheduler(num_train_timesteps=100)).save_pretrained(tmp_path / "pipe")
    cfg = _cfg(method="pu", judge_epochs=1, pretrained=str(tmp_path / "pipe"), num_inference_steps=2)
    model, sched = TR.build_model(cfg)
    assert sched.config.num_train_timesteps == 100 and tuple(model.config.block_out_channels) == (8, 16)
    rows = {r["metric"]: r["value"] for r in R.run(cfg)}
    assert np.isfinite(rows["fid_judgefeat"]) and 0 <= rows["nonsensitive_rate_pct"] <= 100
    with pytest.raises(ConfigError, match="pretrained"):
        TR.build_model(dataclasses.replace(cfg, image_size=32))


def test_judge_cache_does_not_change_the_run(env):
    """The first cell trains the judge, later cells load it: both must give the same numbers (the judge
    leaves the global generator alone), and seeds must give different runs."""
    cfg = _cfg(method="pu", judge_epochs=1)
    first = {r["metric"]: r["value"] for r in R.run(cfg)}
    assert list((env / "runs" / "pu_diffusion" / "_cache").glob("judge-*/judge.pt"))
    again = {r["metric"]: r["value"] for r in R.run(cfg)}
    for m in ("final_train_loss", "fid_judgefeat", "nonsensitive_rate_pct"):
        assert again[m] == first[m]
    other = {r["metric"]: r["value"] for r in R.run(dataclasses.replace(cfg, seed=1))}
    assert other["final_train_loss"] != first["final_train_loss"]
    # training a judge (a cache miss: another judge_seed) leaves the global generator as it was
    from papers.pu_diffusion.data import to_model_space
    x, y, _ = _synthetic("fashion_mnist", "train")
    before = torch.get_rng_state()
    TR.get_judge(dataclasses.replace(cfg, judge_seed=7), to_model_space(x, 16, 1), y, "synthetic", "cpu")
    assert torch.equal(torch.get_rng_state(), before)


def test_full_profile_is_the_paper_setting():
    cfg = resolve(CM.Config, CM, "full")
    assert (cfg.dataset, cfg.normal_classes, cfg.block_out_channels, cfg.layers_per_block) == \
        ("mnist", (0, 2, 4, 6, 8), (128, 128, 256, 512), 2)
    assert (cfg.n_unlabeled_normal, cfg.n_unlabeled_sensitive, cfg.n_labeled_sensitive) == (25000, 2500, 2500)
    assert (cfg.num_epochs, cfg.batch_size, cfg.learning_rate, cfg.num_warmup_steps, cfg.num_train_timesteps,
            cfg.sampler, cfg.num_inference_steps, cfg.beta) == (100, 128, 1e-4, 500, 1000, "ddpm", 0, 0.1)


@pytest.mark.data
@pytest.mark.slow
def test_real_fashion_mnist_smoke_cell(tmp_path, monkeypatch):
    from common.data import DataMissingError
    from papers.pu_diffusion.data import load_images

    try:
        load_images("fashion_mnist", "test")
    except DataMissingError:
        pytest.skip("Fashion-MNIST not installed")
    monkeypatch.setenv("REPRO_RUNS", str(tmp_path / "runs"))
    rows = R.run(resolve(CM.Config, CM, "smoke", cell={"threads": 1, "method": "pu_nn",
                                                                 "judge_train_size": 3000, "judge_epochs": 3}))
    by = {r["metric"]: r["value"] for r in rows}
    assert by["judge_test_acc_pct"] > 20 and 0 <= by["nonsensitive_rate_pct"] <= 100
    assert rows[0]["dataset"] == "fashion_mnist_16px"


@pytest.mark.slow
def test_inception_fid_path_with_local_weights(tmp_path):
    """The standard-FID path loads a local torchvision Inception-v3 state dict (random here) and gives
    2048-d features for grey 16 px images in [-1, 1]."""
    from torchvision.models import inception_v3

    torch.manual_seed(0)
    path = tmp_path / "inception.pth"
    torch.save(inception_v3(weights=None, aux_logits=True, init_weights=False).state_dict(), path)
    feats = TR.inception_features(str(path), torch.rand(3, 1, 16, 16) * 2 - 1, "cpu")
    assert feats.shape == (3, 2048) and np.isfinite(feats).all()
    with pytest.raises(FileNotFoundError):
        TR.inception_features(str(tmp_path / "missing.pth"), torch.zeros(1, 1, 16, 16), "cpu")
