"""Configuration of the Meta-ticket reproduction. Defaults = the official Omniglot 5-way 1-shot MLP
setting (config.yaml of dchiji-ntt/meta-ticket @ e9ca2c25, ``omniglot_1s5w_mlp_{maml,ticket}``)."""

from __future__ import annotations

from dataclasses import dataclass, field

from common.config import EXECUTION_ONLY, BaseConfig

METHOD_NAMES = ("maml", "anil", "boil", "meta_ticket", "meta_ticket_iterand", "meta_ticket_boil")
DATASETS = ("omniglot", "omniglot_small", "cifarfs", "miniimagenet", "vgg_flower", "cifar10_subset", "sinusoid")
EVAL_DATASETS = ("", "cub", "cars", "aircraft", "vgg_flower", "cifarfs", "mnist32")
ARCHS = ("mlp", "resnet12", "wrn28")


@dataclass(frozen=True)
class Config(BaseConfig):
    dataset: str = "omniglot"
    """omniglot (full background/evaluation) | omniglot_small (the two minimal background splits, quick
    stand-in) | cifarfs | miniimagenet | vgg_flower | cifar10_subset (quick stand-in for the RGB tables) | sinusoid."""
    method: str = "meta_ticket"
    """maml | anil | boil | meta_ticket | meta_ticket_iterand (Meta-ticket with IteRand re-randomisation) |
    meta_ticket_boil (Meta-ticket whose inner loop does not adapt the classifier, official ``ticket+boil``)."""
    eval_dataset: str = ""
    """Cross-domain meta-test set ('' = the test split of `dataset`): cub | cars | aircraft | vgg_flower | cifarfs |
    mnist32 (quick stand-in)."""
    arch: str = "mlp"
    """Network: mlp (hidden_sizes x width_factor) | resnet12 (official BOIL ResNet-12, channels x width_factor) |
    wrn28 (WRN-28-`wrn_widen`)."""
    wrn_widen: int = 10
    """Widen factor k of WRN-28-k (paper: 5 and 10)."""
    n_way: int = 5
    """Classes per episode (train_ways; test_ways = the same)."""
    k_shot: int = 1
    """Support examples per class (train_shots; test_shots = the same)."""
    q_query: int = 0
    """Query examples per class; 0 = k_shot (torchmeta helper default used by the official code)."""
    hidden_sizes: str = "256,128,64,64"
    """MLP hidden sizes before the width factor (official omniglot_mlp; CIFAR-FS 5mlp: 1024,512,256,128)."""
    width_factor: float = 1.0
    """Width factor multiplying every hidden size (paper: 1, 2, 4, 8)."""
    image_size: int = 0
    """Image side; 0 = the dataset's (28 Omniglot, 32 CIFAR-FS, 84 miniImageNet)."""
    rotations: bool = True
    """Omniglot class augmentation by 90/180/270-degree rotations (official omniglot_helper)."""
    iterations: int = 30000
    """Outer (meta-training) iterations."""
    meta_batch: int = 4
    """Tasks per outer step (official batch_size)."""
    inner_lr: float = 0.4
    """Inner-loop SGD step size (Omniglot 0.4; CIFAR-FS 0.5; sinusoid 0.01)."""
    train_steps: int = 1
    """Inner steps during meta-training."""
    test_steps: int = 3
    """Inner steps during meta-testing (3 for Omniglot, from the MAML paper)."""
    first_order: bool = False
    """Drop second-order terms of the meta-gradient (official default: second order)."""
    outer_lr: float = 0.0
    """Outer learning rate; 0 = the method's official value (AdamW 1e-3 for MAML/ANIL/BOIL,
    SGD 10 for Meta-ticket scores)."""
    ticket_optimizer: str = "sgd"
    """Score optimiser of Meta-ticket: sgd (momentum 0.9, cosine schedule with warm-up) | adamw (constant lr;
    the official sinusoid 'ticket+adam' setting)."""
    score_momentum: float = 0.9
    """SGD momentum of Meta-ticket's score optimiser (official 0.9)."""
    warmup_iters: int = 1000
    """Linear warm-up iterations of the cosine score schedule (CustomCosineLR)."""
    init_sparsity: float = 0.0
    """Fraction of weights pruned at initialisation (fixes the score threshold; official 0.0)."""
    rerand_freq: int = 1000
    """IteRand: re-randomise pruned weights every this many outer steps (meta_ticket_iterand only)."""
    rerand_rate: float = 1.0
    """IteRand: probability that a pruned weight is re-drawn (meta_ticket_iterand only)."""
    aux_lr: float = 1e-3
    """AdamW lr for parameters meta-learned densely by Meta-ticket (sinusoid: hidden1, hidden3, biases)."""
    eval_episodes: int = 1000
    """Meta-test episodes (official test_batch_size)."""
    control_episodes: int = 0
    """Meta-test episodes (the first ones of the fixed test episodes) for the random-mask control; 0 = all."""
    feature_episodes: int = 50
    """Meta-test episodes used for the feature-change (CKA before vs after adaptation) analysis."""
    sin_hidden: int = 40
    """Sinusoid MLP hidden units (before the width factor)."""
    curve_points: int = 10
    """Learning curve: evaluate at this many evenly spaced outer iterations (0 = none); rows
    ``curve_<metric>_it<N>`` (fixed curve episodes) and ``curve_train_<metric>_it<N>`` (meta-train query)."""
    curve_episodes: int = 100
    """Fixed episodes of the meta-test classes for the learning curve, drawn from their own seed stream
    (not the test episodes); used for the curve only, never to pick a model."""
    task_workers: int = field(default=1, metadata=EXECUTION_ONLY)
    """Python threads that share the meta-test episodes (each with its own copy of the network; every episode is
    computed as in one thread, so results are bit-identical for any value). Meta-training runs one graph."""

    def validate(self) -> None:
        if self.method not in METHOD_NAMES:
            raise ValueError(f"method must be one of {METHOD_NAMES}, got {self.method!r}")
        if self.dataset not in DATASETS:
            raise ValueError(f"dataset must be one of {DATASETS}, got {self.dataset!r}")
        if self.ticket_optimizer not in ("sgd", "adamw"):
            raise ValueError(f"ticket_optimizer must be sgd or adamw, got {self.ticket_optimizer!r}")
        for key in ("n_way", "k_shot", "iterations", "meta_batch", "train_steps", "test_steps", "eval_episodes", "sin_hidden",
                    "task_workers"):
            if getattr(self, key) < 1:
                raise ValueError(f"{key} must be >= 1, got {getattr(self, key)}")
        if min(self.q_query, self.feature_episodes, self.control_episodes, self.warmup_iters, self.rerand_freq, self.curve_points,
               self.curve_episodes) < 0:
            raise ValueError("q_query, feature_episodes, control_episodes, warmup_iters, rerand_freq, curve_points and "
                             "curve_episodes must be >= 0")
        if not 0.0 <= self.init_sparsity < 1.0:
            raise ValueError(f"init_sparsity must be in [0, 1), got {self.init_sparsity}")
        if not 0.0 <= self.score_momentum < 1.0:
            raise ValueError(f"score_momentum must be in [0, 1), got {self.score_momentum}")
        if not 0.0 <= self.rerand_rate <= 1.0:
            raise ValueError(f"rerand_rate must be in [0, 1], got {self.rerand_rate}")
        if self.width_factor <= 0 or self.inner_lr <= 0 or self.outer_lr < 0:
            raise ValueError("width_factor and inner_lr must be > 0, outer_lr >= 0")
        if self.eval_dataset not in EVAL_DATASETS:
            raise ValueError(f"eval_dataset must be one of {EVAL_DATASETS}, got {self.eval_dataset!r}")
        if self.arch not in ARCHS:
            raise ValueError(f"arch must be one of {ARCHS}, got {self.arch!r}")
        if self.arch == "wrn28" and self.width_factor != 1.0:
            raise ValueError("arch wrn28 is widened by wrn_widen, not width_factor (leave width_factor = 1)")
        if self.wrn_widen < 1:
            raise ValueError(f"wrn_widen must be >= 1, got {self.wrn_widen}")
        if self.dataset == "sinusoid" and (self.arch != "mlp" or self.eval_dataset):
            raise ValueError("sinusoid regression uses the 1-40-40-1 MLP and no cross-domain evaluation")
        if self.dataset == "sinusoid" and self.method in ("anil", "boil", "meta_ticket_boil"):
            raise ValueError("the paper runs only MAML and Meta-ticket on sinusoid regression")


# Quick profile (CPU, 2 cores, claims-grade for t1/t2, README "Budget"): the Omniglot minimal splits (242
# characters, deduplicated by alphabet and character), 1,000 meta-iterations with the schedule compressed
# proportionally (warm-up and IteRand period = iterations / 30, as 1000 / 30000), 600 fixed test episodes
# (the random-mask control on the first 300), a 5-point learning curve on 30 curve episodes; one torch thread and
# no task threads per cell (the two cores run two cells at once: EXECUTOR=local JOBS=2). Tables that the CPU
# cannot run at a useful scale skip the quick profile (`quick: {skip: ...}`).
QUICK = {"dataset": "omniglot_small", "threads": 1, "deterministic": True, "iterations": 1000, "warmup_iters": 33,
         "rerand_freq": 33, "eval_episodes": 600, "control_episodes": 300, "feature_episodes": 50, "curve_points": 5,
         "curve_episodes": 30, "task_workers": 1}
SMOKE = {"iterations": 6, "warmup_iters": 2, "rerand_freq": 3, "eval_episodes": 6, "feature_episodes": 3,
         "curve_points": 2, "curve_episodes": 3, "task_workers": 1}
