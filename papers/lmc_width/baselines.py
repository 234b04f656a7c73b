"""What is done to model b before merging, and the registry ``METHODS``.

- ``naive``: nothing, the paper's method (no permutation; the merged model's temperature is
  calibrated in ``method.path_barriers``);
- ``wm``: weight matching (Ainsworth et al., ICLR 2023, Alg. 1; ``common.lmc.matching``), the
  permutation-based baseline of the paper's Table 1;
- ``random_perm``: a uniformly random permutation of every hidden layer (a control of the paper:
  for wide models the merged accuracy should not depend on which permutation is applied).

Each entry maps ``(spec, params_a, params_b, seed, cfg)`` to the permutation applied to ``params_b``.
"""

from __future__ import annotations

from typing import Callable

import torch

from common.lmc.matching import weight_matching
from common.lmc.permutation import Params, Perm, PermutationSpec, identity_perm, random_perm


def naive(spec: PermutationSpec, params_a: Params, params_b: Params, seed: int, cfg) -> Perm:
    return identity_perm(spec, params_b)


def wm(spec: PermutationSpec, params_a: Params, params_b: Params, seed: int, cfg) -> Perm:
    return weight_matching(spec, params_a, params_b, max_iter=cfg.wm_max_iter, seed=seed)


def random_permutation(spec: PermutationSpec, params_a: Params, params_b: Params, seed: int, cfg) -> Perm:
    return random_perm(spec, params_b, torch.Generator().manual_seed(seed))


METHODS: dict[str, Callable[..., Perm]] = {"naive": naive, "wm": wm, "random_perm": random_permutation}
