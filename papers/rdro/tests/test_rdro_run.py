"""One cell of each experiment through run(), the TRL subclass on a tiny random Llama, bad input, data."""

import json
import math

import pytest

from common.config import ConfigError, resolve
from common.data import DataFormatError, DataMissingError
from papers.rdro import config as CF
from papers.rdro.data import load_ufg
from papers.rdro.run import run


@pytest.fixture
def tmp_runs(tmp_path, monkeypatch):
    monkeypatch.setenv("REPRO_RUNS", str(tmp_path / "runs"))
    monkeypatch.setenv("REPRO_RESULTS", str(tmp_path / "results"))
    monkeypatch.setenv("REPRO_THREADS", "1")
    return tmp_path


def _cfg(**kw):
    return resolve(CF.Config, CF, "smoke", cli=kw, cli_from_text=False)


def _metrics(rows):
    return {r["metric"]: r["value"] for r in rows}


def test_categorical_cell(tmp_runs):
    m = _metrics(run(_cfg(experiment="categorical", method="rdro_class", n_samples=300)))
    assert 0 < m["tv_to_preferred"] < 1 and 0 <= m["tv_to_limit"] < 1 and m["nonfinite"] == 0
    assert 0 < m["alpha"] < 1 and m["true_max_relative_ratio"] <= 1 / m["alpha"] + 1e-9


def test_lm_cell_and_cache(tmp_runs):
    m = _metrics(run(_cfg(experiment="lm", method="rdro")))
    assert m["alpha"] == pytest.approx(0.39, abs=0.02)          # the annotator's fraction, used as alpha
    assert 0 <= m["reward_pct"] <= 100 and m["kl"] >= 0 and m["reward_clf_test_acc_pct"] > 70
    assert len(list((tmp_runs / "runs" / "rdro" / "_cache").glob("*/sft.pt"))) == 1
    m2 = _metrics(run(_cfg(experiment="lm", method="dpo")))     # same reference and data, from the cache
    assert m2["ref_reward_pct"] == pytest.approx(m["ref_reward_pct"]) and m2["sft_loss"] == m["sft_loss"]


def test_trl_rdro_subclass_one_step_on_a_tiny_random_llama(tmp_runs):
    m = _metrics(run(_cfg(experiment="llm", method="rdro", model_name="tiny-random-llama", dataset_name="reviews-ufg",
                          max_steps=1, batch_size=8, learning_rate=1e-3, max_length=64)))
    assert m["steps"] == 1 and m["nonfinite"] == 0
    # first step: policy = reference, r = 0, so the loss is the formula at r = 0 on the batch's labels
    a = m["alpha"]
    lo, hi = (1 - a) ** 2 * math.log(2), (1 + a) * math.log(2)
    assert lo <= m["final_loss"] <= hi and m["peak_logratio"] == pytest.approx(0.0, abs=1e-5)


@pytest.mark.parametrize("kw, match", [({"method": "ppo"}, "method"), ({"alpha": 1.0}, "alpha"),
                                       ({"experiment": "categorical", "n_samples": 2}, "n_samples"),
                                       ({"hidden": 30, "heads": 4}, "multiple")])
def test_bad_settings_are_config_errors(tmp_runs, kw, match):
    with pytest.raises(ConfigError, match=match):
        run(_cfg(**kw))
    assert not (tmp_runs / "runs").exists() or not any((tmp_runs / "runs").rglob("done"))


def test_ufg_loader_on_a_tiny_file(tmp_path):
    rows = [{"prompt": [{"role": "user", "content": "hi"}], "completion": [{"role": "assistant", "content": "hello"}],
             "label": i % 3 == 0} for i in range(6)]
    good = tmp_path / "ufg.jsonl"
    good.write_text("\n".join(json.dumps(r) for r in rows))
    ds = load_ufg(str(good))
    assert len(ds) == 6 and sum(ds["label"]) == 2
    bad = tmp_path / "bad.jsonl"
    bad.write_text("\n".join(json.dumps({"prompt": "x", "completion": "y"}) for _ in range(3)))
    with pytest.raises(DataFormatError, match="label"):
        load_ufg(str(bad))
    with pytest.raises(DataMissingError):
        load_ufg(str(tmp_path / "absent.jsonl"))
