"""The small-language-model experiment (ours: the paper's LLM setting scaled to a CPU).

Controlled sentiment on real text: a word-level tokenizer and a tiny Llama (transformers'
``LlamaForCausalLM``, randomly initialised) trained here by SFT on the 4,000 Amazon fine-food
reviews of ``modeldata::training_data`` is the reference policy. The reward is a TF-IDF logistic-
regression sentiment classifier fitted on the same reviews' labels (great / other): q(y) = P(great |
prompt + continuation). Prompts are the first words of a review; the reference samples two
continuations per prompt; the annotator (ours) marks a response preferred when q exceeds the
threshold that makes a fraction ``pref_fraction`` of the pool preferred (alpha = 0.39, the paper's UF-G
fraction), and DPO pairs the two continuations of a prompt by q. Each method then aligns a copy of
the reference on the same data; the evaluation samples continuations of held-out prompts (the 1,000
``testing_data`` reviews) and reports the reward, the rate of preferred responses, and the sequence
KL(pi_theta || pi_ref), at geometrically spaced checkpoints (for the reward at a matched KL).
"""

from __future__ import annotations

import copy
import math
import re
from collections import Counter

import numpy as np
import torch
import torch.nn.functional as F

from papers.rdro import baselines as B

PAD, BOS, EOS, UNK = 0, 1, 2, 3
_WORD = re.compile(r"[a-z']+|[.!?,]")


def words(text: str) -> list[str]:
    return _WORD.findall(text.replace("<br />", " ").lower())


class WordTokenizer:
    """Word-level vocabulary of the ``vocab_size`` most frequent words (ids 0-3 are special)."""

    def __init__(self, texts: list[str], vocab_size: int):
        counts = Counter(w for t in texts for w in words(t))
        self.itos = ["<pad>", "<bos>", "<eos>", "<unk>"] + [w for w, _ in counts.most_common(vocab_size)]
        self.stoi = {w: i for i, w in enumerate(self.itos)}

    def __len__(self) -> int:
        return len(self.itos)

    def encode(self, text: str, max_words: int) -> list[int]:
        return [BOS] + [self.stoi.get(w, UNK) for w in words(text)[:max_words]]

    def decode(self, ids) -> str:
        return " ".join(self.itos[int(i)] for i in ids if int(i) > EOS)


def build_model(vocab: int, hidden: int, layers: int, heads: int, max_len: int):
    from transformers import LlamaConfig, LlamaForCausalLM

    cfg = LlamaConfig(vocab_size=vocab, hidden_size=hidden, intermediate_size=2 * hidden, num_hidden_layers=layers,
                      num_attention_heads=heads, num_key_value_heads=heads, max_position_embeddings=max_len,
                      tie_word_embeddings=True, pad_token_id=PAD, bos_token_id=BOS, eos_token_id=EOS)
    return LlamaForCausalLM(cfg)


def pad_batch(seqs: list[list[int]], length: int) -> torch.Tensor:
    out = torch.full((len(seqs), length), PAD, dtype=torch.long)
    for i, s in enumerate(seqs):
        out[i, :len(s)] = torch.as_tensor(s[:length])
    return out


def sft(model, seqs: torch.Tensor, epochs: int, lr: float, batch: int, gen: torch.Generator) -> list[float]:
    """Next-token cross-entropy on the review openings (pad masked); returns per-epoch mean loss."""
    opt = torch.optim.AdamW(model.parameters(), lr=lr)
    hist = []
    for _ in range(epochs):
        perm = torch.randperm(len(seqs), generator=gen)
        tot = []
        for i in range(0, len(seqs), batch):
            x = seqs[perm[i:i + batch]]
            labels = x.masked_fill(x == PAD, -100)
            loss = model(input_ids=x, attention_mask=(x != PAD).long(), labels=labels).loss
            opt.zero_grad()
            loss.backward()
            opt.step()
            tot.append(loss.item())
        hist.append(float(np.mean(tot)))
    return hist


@torch.no_grad()
def sample(model, prompts: torch.Tensor, new_tokens: int, gen: torch.Generator, batch: int = 512) -> torch.Tensor:
    """Ancestral sampling (temperature 1) of ``new_tokens`` tokens after each (unpadded, equal-length) prompt;
    special tokens are masked out so every continuation has exactly ``new_tokens`` words."""
    outs = []
    for i in range(0, len(prompts), batch):
        x = prompts[i:i + batch]
        for _ in range(new_tokens):
            logits = model(input_ids=x).logits[:, -1].float()
            logits[:, :UNK + 1] = -math.inf
            nxt = torch.multinomial(torch.softmax(logits, -1), 1, generator=gen)
            x = torch.cat([x, nxt], 1)
        outs.append(x)
    return torch.cat(outs)


def seq_logps(model, seqs: torch.Tensor, prompt_len: int) -> torch.Tensor:
    """Summed log-probabilities of the continuation tokens (positions >= prompt_len)."""
    logits = model(input_ids=seqs[:, :-1]).logits.float()
    lp = torch.log_softmax(logits, -1).gather(-1, seqs[:, 1:, None])[..., 0]
    return lp[:, prompt_len - 1:].sum(-1)


@torch.no_grad()
def sequence_kl(model, ref_model, seqs: torch.Tensor, prompt_len: int) -> tuple[float, float]:
    """KL(pi_theta || pi_ref) of the continuation, sum over positions of the exact next-word KL on prefixes
    sampled from pi_theta (Rao-Blackwellised: non-negative, low variance), both restricted to words as the
    sampler is; and the largest sequence log ratio among the samples."""
    x = seqs[:, :-1]
    lp = torch.log_softmax(_words_only(model(input_ids=x).logits.float()), -1)[:, prompt_len - 1:]
    lq = torch.log_softmax(_words_only(ref_model(input_ids=x).logits.float()), -1)[:, prompt_len - 1:]
    kl = (lp.exp() * (lp - lq)).nan_to_num().sum(-1).sum(-1)
    tgt = seqs[:, prompt_len:, None]
    ratio = (lp.gather(-1, tgt) - lq.gather(-1, tgt))[..., 0].sum(-1)
    return float(kl.mean()), float(ratio.max())


def _words_only(logits: torch.Tensor) -> torch.Tensor:
    logits[..., :UNK + 1] = -math.inf
    return logits


class Reward:
    """TF-IDF + logistic regression (scikit-learn) sentiment classifier: q = P(great | text)."""

    def __init__(self, texts: list[str], labels: np.ndarray, seed: int):
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression

        self.vec = TfidfVectorizer(tokenizer=words, token_pattern=None, ngram_range=(1, 2), min_df=2,
                                   sublinear_tf=True)
        self.clf = LogisticRegression(C=4.0, max_iter=2000, random_state=seed).fit(self.vec.fit_transform(texts),
                                                                                     labels)

    def __call__(self, texts: list[str]) -> np.ndarray:
        return self.clf.predict_proba(self.vec.transform(texts))[:, 1]


def _kl_ref(model, ref_kl_logps, seqs_kl, prompt_len):
    with torch.no_grad():
        return (seq_logps(model, seqs_kl, prompt_len) - ref_kl_logps).mean()


def align(method: str, ref_model, data: dict, *, alpha: float, beta: float, lr: float, epochs: int, batch: int,
          max_grad_norm: float, n_checkpoints: int, evaluate, gen: torch.Generator):
    """Align a copy of the reference with one loss. ``data``: seqs (N, L), label (N,) bool, ref_logps (N,),
    pair_w / pair_l (indices of DPO winners and losers), perm (mismatched completions for KTO's KL
    estimate), ref_kl_logps. Returns (checkpoints [(step, eval dict)], per-step trace)."""
    model = copy.deepcopy(ref_model)
    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    pl = data["prompt_len"]
    units = len(data["pair_w"]) if method in B.PAIRED else len(data["seqs"])
    steps_per_epoch = math.ceil(units / batch)
    total = epochs * steps_per_epoch
    # geometric schedule (1, 2, 4, ..., total): the low-KL start of fast-moving losses is seen too
    eval_at = {max(1, round(total ** (k / max(1, n_checkpoints - 1)))) for k in range(n_checkpoints)} | {total}
    trace = {"loss": [], "grad_norm": [], "max_logratio": []}
    checkpoints = [(0, evaluate(model))]
    step = 0
    for _ in range(epochs):
        order = torch.randperm(units, generator=gen)
        for i in range(0, units, batch):
            idx = order[i:i + batch]
            if method in B.PAIRED:
                w, los = data["pair_w"][idx], data["pair_l"][idx]
                lp = seq_logps(model, torch.cat([data["seqs"][w], data["seqs"][los]]), pl)
                r = lp - torch.cat([data["ref_logps"][w], data["ref_logps"][los]])
                loss = B.dpo_loss(r[:len(w)], r[len(w):], beta)
            else:
                lab = data["label"][idx]
                r = seq_logps(model, data["seqs"][idx], pl) - data["ref_logps"][idx]
                kl = None
                if method == "kto":
                    j = data["perm"][idx]
                    kl = _kl_ref(model, data["ref_kl_logps"][idx], data["seqs_kl"][j], pl)
                loss = B.unpaired_loss(method, r[lab], r[~lab], alpha=alpha, beta=beta, kl=kl)
            opt.zero_grad()
            loss.backward()
            gn = torch.nn.utils.clip_grad_norm_(model.parameters(), max_grad_norm)
            opt.step()
            step += 1
            trace["loss"].append(loss.item())
            trace["grad_norm"].append(float(gn))
            trace["max_logratio"].append(float(r.detach().max()))
            if step in eval_at:
                checkpoints.append((step, evaluate(model)))
    return checkpoints, trace


def make_evaluator(ref_model, prompts: torch.Tensor, new_tokens: int, reward: Reward, tok: WordTokenizer,
                   threshold: float, seed_gen):
    """Closure: sample from a model on the held-out prompts; reward %, preferred-rate %, KL to the reference."""
    pl = prompts.shape[1]

    @torch.no_grad()
    def evaluate(model) -> dict[str, float]:
        was = model.training
        model.eval()
        seqs = sample(model, prompts, new_tokens, seed_gen())
        kl, max_lr = sequence_kl(model, ref_model, seqs, pl)
        q = reward([tok.decode(s) for s in seqs])
        model.train(was)
        return {"reward_pct": 100 * float(q.mean()), "pref_rate_pct": 100 * float((q > threshold).mean()),
                "kl": kl, "max_logratio_eval": max_lr}

    return evaluate


def reward_at_kl(points: list[tuple[float, float]], kl_target: float) -> float | None:
    """Linear interpolation of reward over KL along the checkpoint path (first crossing); None if never reached."""
    for (k0, r0), (k1, r1) in zip(points, points[1:]):
        if k0 <= kl_target <= k1 and k1 > k0:
            return r0 + (r1 - r0) * (kl_target - k0) / (k1 - k0)
    return None


def stability(trace: dict) -> dict[str, float]:
    return {"peak_grad_norm": max(trace["grad_norm"]), "peak_logratio": max(trace["max_logratio"]),
            "peak_loss": max(trace["loss"]), "final_loss": trace["loss"][-1],
            "nonfinite": float(not all(math.isfinite(v) for v in trace["loss"]))}


def dpo_pairs(q: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    """Two continuations per prompt at rows 2i, 2i+1: the higher reward wins."""
    a, b = np.arange(0, len(q), 2), np.arange(1, len(q), 2)
    first = q[a] >= q[b]
    return torch.as_tensor(np.where(first, a, b)), torch.as_tensor(np.where(first, b, a))


def ce_check(model, seqs: torch.Tensor) -> float:
    with torch.no_grad():
        labels = seqs.masked_fill(seqs == PAD, -100)
        return float(F.cross_entropy(model(input_ids=seqs).logits[:, :-1].reshape(-1, model.config.vocab_size),
                                     labels[:, 1:].reshape(-1), ignore_index=-100))
