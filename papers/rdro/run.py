"""One run = one experiment x method x setting x seed of the RDRO reproduction.

    python -m papers.rdro.run --experiment categorical --method rdro --n-samples 3000
    python -m papers.rdro.run --experiment lm --method ddro          (quick settings: make reproduce-rdro)
    make reproduce-rdro [PROFILE=smoke|quick|full]
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch

from common.cache import cache_entry
from common.config import ConfigError
from common.runtime import derive_seed, paper_logger, setup
from papers.rdro import categorical as C
from papers.rdro import lm as L
from papers.rdro.config import Config
from papers.rdro.data import load_reviews

SLUG = "rdro"
log = paper_logger(SLUG)


def _rows(metrics: dict[str, float], n: int, dataset: str) -> list[dict]:
    return [{"dataset": dataset, "metric": k, "value": float(v), "n": n} for k, v in metrics.items()]


def run_categorical(cfg: Config) -> list[dict]:
    world = C.make_world(cfg.n_responses, cfg.ref_scale, cfg.pref_scale, np.random.default_rng(derive_seed(cfg.seed, "world")))
    alpha = cfg.alpha or world.alpha
    pop = C.population_counts(world)
    if cfg.n_samples:
        cpos, cneg, w, los = C.sample_counts(world, cfg.n_samples, np.random.default_rng(derive_seed(cfg.seed, "sample")))
        pairs = (w, los)
    else:
        (cpos, cneg), pairs = pop, None
    if cfg.method == "dpo" and pairs is None:
        raise ConfigError("the categorical DPO population fit (n_samples=0) is not run: K^2 pairs")
    theta, trace = C.fit(cfg.method, world, cpos, cneg, pairs, alpha, cfg.beta, cfg.cat_steps, cfg.cat_lr)
    limit = None
    if cfg.method != "dpo":   # each method's own n -> infinity limit (DPO's would need all K^2 pairs), shared by n
        key = {k: getattr(cfg, k) for k in ("seed", "method", "n_responses", "ref_scale", "pref_scale", "cat_steps",
                                             "cat_lr", "alpha", "beta")}
        limit = cache_entry(SLUG, "catlimit", key).load_or_compute(
            "limit.pt", lambda: C.fit(cfg.method, world, *pop, None, alpha, cfg.beta, cfg.cat_steps, cfg.cat_lr)[0],
            fmt="torch")
    out = C.summarise(theta, limit, world, trace)
    out.update(alpha=alpha, true_max_relative_ratio=float((world.q / world.alpha).max()),
               peak_ratio_times_alpha=out["peak_max_ratio"] * alpha, final_ratio_times_alpha=out["final_max_ratio"] * alpha)
    log.info("%s n=%d: TV to p+ %.4f, peak ratio %.2f", cfg.method, cfg.n_samples, out["tv_to_preferred"],
             out["peak_max_ratio"])
    return _rows(out, cfg.n_samples, "categorical")


def _reference(cfg: Config, tok: L.WordTokenizer, texts: list[str]):
    torch.manual_seed(derive_seed(cfg.seed, "init"))
    model = L.build_model(len(tok), cfg.hidden, cfg.layers, cfg.heads, cfg.prompt_words + cfg.new_tokens + cfg.seq_words + 2)
    key = {k: getattr(cfg, k) for k in ("seed", "vocab_size", "seq_words", "hidden", "layers", "heads", "sft_epochs",
                                         "sft_lr", "prompt_words", "new_tokens")}
    entry = cache_entry(SLUG, "sft", key)

    def train():
        seqs = L.pad_batch([tok.encode(t, cfg.seq_words) for t in texts], cfg.seq_words + 1)
        gen = torch.Generator().manual_seed(derive_seed(cfg.seed, "sft_order"))
        hist = L.sft(model, seqs, cfg.sft_epochs, cfg.sft_lr, 64, gen)
        log.info("SFT losses per epoch: %s", [round(h, 3) for h in hist])
        return {"state": model.state_dict(), "sft_loss": torch.tensor(hist[-1])}

    saved = entry.load_or_compute("sft.pt", train, fmt="torch")
    model.load_state_dict(saved["state"])
    model.eval()
    return model, float(saved["sft_loss"]), key


def _preference_data(cfg, ref, tok, reward, texts, key):
    entry = cache_entry(SLUG, "prefdata", {**key, "n_prompts": cfg.n_prompts})

    def make():
        idx = np.random.default_rng(derive_seed(cfg.seed, "prompts")).choice(len(texts), cfg.n_prompts, replace=False)
        prompts = torch.as_tensor([tok.encode(texts[i], cfg.prompt_words) for i in idx
                                   if len(L.words(texts[i])) >= cfg.prompt_words]).repeat_interleave(2, 0)
        seqs = L.sample(ref, prompts, cfg.new_tokens, torch.Generator().manual_seed(derive_seed(cfg.seed, "pool")))
        with torch.no_grad():
            ref_logps = L.seq_logps(ref, seqs, cfg.prompt_words + 1)
        return {"seqs": seqs, "ref_logps": ref_logps, "q": torch.as_tensor(reward([tok.decode(s) for s in seqs]))}

    return entry.load_or_compute("data.pt", make, fmt="torch")


def run_lm(cfg: Config) -> list[dict]:
    rv = load_reviews()
    tok = L.WordTokenizer(rv["train_texts"], cfg.vocab_size)
    ref, sft_loss, key = _reference(cfg, tok, rv["train_texts"])
    reward = L.Reward(rv["train_texts"], rv["train_labels"], derive_seed(cfg.seed, "reward"))
    d = _preference_data(cfg, ref, tok, reward, rv["train_texts"], key)
    q = d["q"].numpy()
    threshold = float(np.quantile(q, 1 - cfg.pref_fraction))
    label = torch.as_tensor(q > threshold)
    alpha = cfg.alpha or float(label.float().mean())
    pl = cfg.prompt_words + 1
    perm = torch.roll(torch.arange(len(q)), 1)            # KTO's KL estimate: mismatched prompt / completion
    seqs_kl = torch.cat([d["seqs"][:, :pl], d["seqs"][perm, pl:]], 1)
    with torch.no_grad():
        ref_kl = L.seq_logps(ref, seqs_kl, pl)
    pw, plo = L.dpo_pairs(q)
    data = {"seqs": d["seqs"], "label": label, "ref_logps": d["ref_logps"], "pair_w": pw, "pair_l": plo,
            "perm": torch.arange(len(q)), "seqs_kl": seqs_kl, "ref_kl_logps": ref_kl, "prompt_len": pl}
    test = [t for t in rv["test_texts"] if len(L.words(t)) >= cfg.prompt_words][:cfg.n_eval_prompts]
    prompts = torch.as_tensor([tok.encode(t, cfg.prompt_words) for t in test])
    counter = iter(range(10_000))
    evaluate = L.make_evaluator(ref, prompts, cfg.new_tokens, reward, tok, threshold,
                                lambda: torch.Generator().manual_seed(derive_seed(cfg.seed, f"eval{next(counter)}")))
    torch.manual_seed(derive_seed(cfg.seed, "align"))
    ckpts, trace = L.align(cfg.method, ref, data, alpha=alpha, beta=cfg.beta, lr=cfg.learning_rate, epochs=cfg.epochs,
                           batch=cfg.batch_size, max_grad_norm=cfg.max_grad_norm, n_checkpoints=cfg.n_checkpoints,
                           evaluate=evaluate, gen=torch.Generator().manual_seed(derive_seed(cfg.seed, "order")))
    final = ckpts[-1][1]
    out = {**final, **L.stability(trace), "alpha": alpha, "sft_loss": sft_loss, "ref_reward_pct": ckpts[0][1]["reward_pct"],
           "ref_pref_rate_pct": ckpts[0][1]["pref_rate_pct"], "pool_pref_reward_pct": 100 * float(q[q > threshold].mean())}
    path = [(c["kl"] if s else 0.0, c["reward_pct"]) for s, c in ckpts]
    at = L.reward_at_kl(path, cfg.kl_match)
    if at is not None:
        out["reward_at_kl_match_pct"] = at
    out["reward_gain_pct"] = final["reward_pct"] - ckpts[0][1]["reward_pct"]
    out["reward_clf_test_acc_pct"] = 100 * float(np.mean((reward(rv["test_texts"]) > 0.5) == rv["test_labels"]))
    rows = _rows(out, len(prompts), "reviews")
    rows += [{"dataset": "reviews", "metric": f"ckpt{i}_{m}", "value": c[m], "n": len(prompts)} for i, (s, c) in enumerate(ckpts)
             for m in ("kl", "reward_pct")]
    log.info("%s: reward %.2f%% (ref %.2f%%), KL %.3f, peak grad %.2f", cfg.method, final["reward_pct"],
             ckpts[0][1]["reward_pct"], final["kl"], out["peak_grad_norm"])
    return rows


def run_llm(cfg: Config, workdir: Path | None) -> list[dict]:
    from papers.rdro.full import train_llm

    return train_llm(cfg, workdir)


def run(cfg: Config, workdir: Path | None = None) -> list[dict]:
    setup(cfg)
    if cfg.experiment == "categorical":
        return run_categorical(cfg)
    if cfg.experiment == "lm":
        return run_lm(cfg)
    return run_llm(cfg, workdir)


if __name__ == "__main__":
    from common.cli import paper_main

    sys.exit(paper_main(SLUG))
