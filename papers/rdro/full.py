"""The full profile (GPU): align the paper's LLM on UF-G with TRL, as the official main.py does.

RDRO / DDRO: ``trainers.RDROTrainer`` / ``DDROTrainer`` (KTO-trainer subclasses); KTO: ``trl.KTOTrainer``;
DPO: ``trl.DPOTrainer`` on the paired UltraFeedback (``trl-lib/ultrafeedback_binarized``), since UF-G is
unpaired. Official hyper-parameters: lr 5e-7, cosine schedule, warm-up ratio 0.1, 1 epoch, batch 16
per device, float16 weights, seed 42, alpha = 0.39. The paper's evaluation (AlpacaEval 2 LC win rate
with an LLM judge, BIG-Bench Hard) needs an API judge and is not run here: rows are the training
statistics (final loss, peak gradient norm, peak log ratio) and the saved model under the run folder.

``model_name = "tiny-random-llama"`` builds a randomly initialised 1-layer Llama and a word tokenizer
in-process (no download) and ``dataset_name = "reviews-ufg"`` writes the review corpus in UF-G's
format: the smoke cells that test this path end to end on CPU.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from common.config import ConfigError
from common.runtime import derive_seed, paper_logger
from papers.rdro import lm as L
from papers.rdro.data import load_reviews, load_ufg, preferred_fraction

log = paper_logger("rdro")
PAIRED_UF = "trl-lib/ultrafeedback_binarized"
TINY = "tiny-random-llama"
# ours: a plain role-prefixed template for base models without one (trl 1.x no longer exports one)
SIMPLE_CHAT_TEMPLATE = ("{% for message in messages %}{{ message['role'] + ': ' + message['content'] + '\n\n' }}"
                        "{% endfor %}{% if add_generation_prompt %}{{ 'assistant: ' }}{% endif %}")


def tiny_model_and_tokenizer(texts: list[str], vocab_size: int = 200, seed: int = 0):
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    wt = L.WordTokenizer(texts, vocab_size)
    tk = Tokenizer(models.WordLevel({w: i for i, w in enumerate(wt.itos)}, unk_token="<unk>"))
    tk.pre_tokenizer = pre_tokenizers.Whitespace()
    tok = PreTrainedTokenizerFast(tokenizer_object=tk, pad_token="<pad>", bos_token="<bos>", eos_token="<eos>",
                                  unk_token="<unk>")
    torch.manual_seed(seed)
    model = L.build_model(len(wt), 16, 1, 2, 256)
    ref = L.build_model(len(wt), 16, 1, 2, 256)
    ref.load_state_dict(model.state_dict())
    return model, ref, tok


def reviews_in_ufg_format(n: int, paired: bool, seed: int):
    """The review corpus as UF-G-style rows: prompt = first 4 words, completion = the next 12, label = great."""
    from datasets import Dataset

    rv = load_reviews()
    rng = np.random.default_rng(seed)
    idx = rng.choice(len(rv["train_texts"]), n, replace=False)
    ws = [L.words(rv["train_texts"][i]) for i in idx]
    prompts = [" ".join(w[:4]) for w in ws]
    comps = [" " + " ".join(w[4:16]) for w in ws]
    lab = [bool(rv["train_labels"][i]) for i in idx]
    if not paired:
        return Dataset.from_dict({"prompt": prompts, "completion": comps, "label": lab})
    pos = [c for c, b in zip(comps, lab) if b]
    neg = [c for c, b in zip(comps, lab) if not b]
    m = min(len(pos), len(neg))
    return Dataset.from_dict({"prompt": prompts[:m], "chosen": pos[:m], "rejected": neg[:m]})


def train_llm(cfg, workdir: Path | None) -> list[dict]:
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import DPOConfig, DPOTrainer, KTOConfig, KTOTrainer

    from papers.rdro.trainers import DDROTrainer, RDROTrainer

    if cfg.method == "rdro_class":
        raise ConfigError("the full profile runs the official RDRO (method=rdro); rdro_class is a CPU ablation")
    if cfg.model_name != TINY and not torch.cuda.is_available() and cfg.device != "cpu":
        raise ConfigError(f"{cfg.model_name} needs a GPU (set device=cpu to force a CPU run)")
    paired = cfg.method == "dpo"
    if cfg.dataset_name == "reviews-ufg":
        ds = reviews_in_ufg_format(64, paired, derive_seed(cfg.seed, "data"))
    else:
        ds = _load_paired() if paired else load_ufg(cfg.dataset_name)
    if cfg.model_name == TINY:
        model, ref, tok = tiny_model_and_tokenizer(load_reviews()["train_texts"], seed=derive_seed(cfg.seed, "init"))
    else:
        dtype = torch.float16 if torch.cuda.is_available() else torch.float32
        model = AutoModelForCausalLM.from_pretrained(cfg.model_name, dtype=dtype)
        ref = AutoModelForCausalLM.from_pretrained(cfg.model_name, dtype=dtype)
        tok = AutoTokenizer.from_pretrained(cfg.model_name)
        if tok.chat_template is None:
            tok.chat_template = SIMPLE_CHAT_TEMPLATE
        if tok.pad_token_id is None:
            tok.pad_token_id = tok.eos_token_id
    out_dir = str((workdir or Path("runs/rdro/_llm")) / "trainer")
    common = dict(output_dir=out_dir, per_device_train_batch_size=cfg.batch_size, gradient_accumulation_steps=1,
                  learning_rate=cfg.learning_rate, num_train_epochs=cfg.epochs, max_steps=cfg.max_steps,
                  lr_scheduler_type="cosine", warmup_steps=0.1,  # ratio 0.1 (transformers 5)
                  logging_steps=1, logging_first_step=True,
                  seed=cfg.seed, report_to="none", save_strategy="no", max_grad_norm=cfg.max_grad_norm,
                  max_length=cfg.max_length, use_cpu=not torch.cuda.is_available())
    alpha = cfg.alpha or (preferred_fraction(ds) if not paired else 0.5)
    if paired:
        trainer = DPOTrainer(model=model, ref_model=ref, args=DPOConfig(beta=cfg.beta, **common), train_dataset=ds,
                             processing_class=tok)
    else:
        args = KTOConfig(beta=cfg.beta, remove_unused_columns=False, **common)
        if cfg.method == "kto":
            trainer = KTOTrainer(model=model, ref_model=ref, args=args, train_dataset=ds, processing_class=tok)
        else:
            cls = RDROTrainer if cfg.method == "rdro" else DDROTrainer
            trainer = cls(alpha=alpha, model=model, ref_model=ref, args=args, train_dataset=ds, processing_class=tok)
    trainer.train()
    hist = [h for h in trainer.state.log_history if "loss" in h]
    losses = [float(h["loss"]) for h in hist]
    grads = [float(h["grad_norm"]) for h in hist if "grad_norm" in h]
    rows = {"final_loss": losses[-1], "peak_loss": max(losses), "peak_grad_norm": max(grads) if grads else float("nan"),
            "steps": float(trainer.state.global_step), "alpha": alpha,
            "nonfinite": float(not np.all(np.isfinite(losses)))}
    lr_max = [float(h["logratio/max"]) for h in hist if "logratio/max" in h]
    if lr_max:
        rows["peak_logratio"] = max(lr_max)
    if cfg.model_name != TINY and workdir is not None:
        trainer.save_model(str(Path(workdir) / "model"))
    name = "ufg" if cfg.dataset_name != "reviews-ufg" else "reviews-ufg"
    return [{"dataset": name, "metric": k, "value": v, "n": len(ds)} for k, v in rows.items()]


def _load_paired():
    import datasets

    try:
        return datasets.load_dataset(PAIRED_UF, split="train")
    except Exception as e:  # noqa: BLE001
        from common.data import DataMissingError

        raise DataMissingError(f"could not load {PAIRED_UF} for DPO ({e})") from e
