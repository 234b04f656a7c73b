"""Configuration of one RDRO run: one experiment, one method, one setting, one seed.

Defaults are the paper's recipe (the full profile: the official code's Llama-3.1-8B-Instruct on UF-G
with TRL). ``QUICK`` sizes the two CPU experiments (the categorical setting and the tiny language
model trained here); ``SMOKE`` makes a run take seconds for the tests.
"""

from __future__ import annotations

from dataclasses import dataclass

from common.config import BaseConfig, ConfigError
from papers.rdro.baselines import METHODS

EXPERIMENTS = ("categorical", "lm", "llm")


@dataclass(frozen=True)
class Config(BaseConfig):
    experiment: str = "llm"
    """categorical (exactly solvable, tabular policy) | lm (tiny Llama trained here on reviews) | llm (the paper's TRL recipe)."""
    method: str = "rdro"
    """rdro (official: sample-mean reduction) | rdro_class (per-class means) | ddro | kto | dpo."""
    alpha: float = 0.39
    """RDRO mixture weight; 0 = the fraction of preferred data in the training set (the official advice; 0.39 on UF-G)."""
    beta: float = 0.1
    """KTO / DPO temperature (TRL default); RDRO and DDRO have none."""
    # --- categorical setting ---
    n_samples: int = 3000
    """categorical: labelled responses drawn from pi_ref (DPO: n/2 pairs); 0 = the population (n = infinity)."""
    n_responses: int = 1000
    """categorical: size K of the response set."""
    ref_scale: float = 1.5
    """categorical: std of the reference logits (spread of pi_ref)."""
    pref_scale: float = 4.0
    """categorical: q(y) = sigmoid(pref_scale * N(0,1)); larger = more responses almost never non-preferred."""
    cat_steps: int = 300
    """categorical: L-BFGS iterations (full batch, strong Wolfe line search)."""
    cat_lr: float = 1.0
    """categorical: L-BFGS initial step."""
    # --- tiny language model (lm) ---
    vocab_size: int = 2000
    """lm: word vocabulary (most frequent words of the training reviews)."""
    seq_words: int = 19
    """lm: words of each review opening used for SFT."""
    hidden: int = 64
    """lm: Llama hidden size (intermediate = 2x)."""
    layers: int = 2
    """lm: Llama layers."""
    heads: int = 4
    """lm: attention heads."""
    sft_epochs: int = 4
    """lm: SFT epochs of the reference on the 4,000 training reviews."""
    sft_lr: float = 3e-3
    """lm: SFT AdamW learning rate."""
    prompt_words: int = 3
    """lm: prompt = <bos> + the first words of a review."""
    new_tokens: int = 12
    """lm: continuation length (words)."""
    n_prompts: int = 2000
    """lm: training prompts, two reference continuations each."""
    pref_fraction: float = 0.39
    """lm: the annotator marks the top fraction of the pool by reward as preferred (UF-G's 0.39)."""
    n_eval_prompts: int = 300
    """lm: held-out prompts (testing_data reviews) for the evaluation."""
    kl_match: float = 1.0
    """lm: KL (nats) at which rewards are compared along each method's checkpoint path."""
    n_checkpoints: int = 8
    """lm: evaluations along training at geometrically spaced steps 1, ..., last (plus the start)."""
    # --- training (lm and llm) ---
    learning_rate: float = 5e-7
    """Alignment learning rate (official: 5e-7 with cosine schedule, warm-up 0.1)."""
    epochs: int = 1
    """Alignment epochs (official: 1)."""
    batch_size: int = 16
    """Per-device batch (official: 16 on 8 GPUs)."""
    max_grad_norm: float = 1.0
    """Gradient clipping (the transformers Trainer default that the official run uses)."""
    # --- llm (full profile) ---
    model_name: str = "meta-llama/Llama-3.1-8B-Instruct"
    """llm: policy and reference weights (HF hub id or local path; the paper also uses Qwen 2.5)."""
    dataset_name: str = "trl-lib/ultrafeedback-gpt-3.5-turbo-helpfulness"
    """llm: UF-G (unpaired, label column); DPO uses the paired trl-lib/ultrafeedback_binarized-style form."""
    max_steps: int = -1
    """llm: stop after this many optimiser steps (-1 = the full epoch)."""
    max_length: int = 1024
    """llm: tokens per prompt + completion."""

    def validate(self) -> None:
        if self.experiment not in EXPERIMENTS:
            raise ConfigError(f"experiment must be one of {EXPERIMENTS}, got {self.experiment!r}")
        if self.method not in METHODS:
            raise ConfigError(f"method must be one of {tuple(METHODS)}, got {self.method!r}")
        if not 0.0 <= self.alpha < 1.0:
            raise ConfigError(f"alpha must be in [0, 1) (0 = the fraction of preferred data), got {self.alpha}")
        if not 0.0 < self.pref_fraction < 1.0:
            raise ConfigError(f"pref_fraction must be in (0, 1), got {self.pref_fraction}")
        if self.n_samples < 0 or (0 < self.n_samples < 4):
            raise ConfigError(f"n_samples must be 0 (population) or >= 4, got {self.n_samples}")
        if self.hidden % self.heads:
            raise ConfigError(f"hidden ({self.hidden}) must be a multiple of heads ({self.heads})")
        if self.prompt_words < 1 or self.new_tokens < 1 or self.n_prompts < 2 or self.batch_size < 2:
            raise ConfigError("prompt_words, new_tokens >= 1, n_prompts >= 2 and batch_size >= 2 are required")


QUICK = {"threads": 1, "alpha": 0.0, "learning_rate": 1e-3, "epochs": 2, "batch_size": 64}
SMOKE = {"cat_steps": 30, "n_responses": 50, "vocab_size": 200, "hidden": 16, "sft_epochs": 1, "n_prompts": 64,
         "n_eval_prompts": 16, "new_tokens": 4, "n_checkpoints": 2, "epochs": 1, "batch_size": 32}
