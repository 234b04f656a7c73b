"""BatchNorm versions of the LMC networks and what merging them needs.

:mod:`common.lmc.models` uses LayerNorm (Ainsworth et al.'s choice: interpolated models need no
statistics repair). Papers that study BatchNorm networks (lmc_wm: the authors' sibling code trains
VGG-11 x4 and ResNet-20 x16 with BN; lmc_width: the REPAIR control) build them here: every
``ChannelLayerNorm`` is swapped for ``nn.BatchNorm2d`` under the same attribute name, so parameter
names and permutation specs carry over.

- :func:`build_model_norm`: ``common.lmc.models.build_model`` with ``norm`` 'layer' or 'batch'.
- :func:`full_spec`: the permutation spec extended to the BN buffers (``running_mean`` /
  ``running_var`` permuted with their channel; ``num_batches_tracked`` untouched), so a permuted BN
  model computes the same function; :func:`matching_spec`: the spec restricted to trainable
  parameters, which weight matching compares (running statistics are not weights).
- :func:`reset_bn_stats`: after interpolating or averaging BN models their running statistics
  belong to neither endpoint; they are recomputed on training data (cumulative average over the
  batches, ``momentum=None``), the "reset" of the REPAIR paper (Jordan et al., ICLR 2023) for BN
  networks and of the lmc_wm sibling code.

Tests: ``tests/test_common_lmc.py``.
"""

from __future__ import annotations

import copy
from typing import Mapping

import torch
from torch import nn

from common.lmc.models import ChannelLayerNorm, build_model, spec_for
from common.lmc.permutation import Params, PermutationSpec

NORMS = ("layer", "batch")


def _swap_norms(module: nn.Module) -> None:
    for name, child in module.named_children():
        if isinstance(child, ChannelLayerNorm):
            setattr(module, name, nn.BatchNorm2d(child.weight.numel()))
        else:
            _swap_norms(child)


def build_model_norm(arch: str, width: int, width_mult: float, n_hidden: int, in_shape: tuple[int, ...],
                     norm: str = "layer", n_classes: int = 10) -> nn.Module:
    """The network of :func:`common.lmc.models.build_model`, with BatchNorm instead of LayerNorm when
    ``norm == 'batch'`` (CNNs only: the MLP has no normalisation layer)."""
    if norm not in NORMS:
        raise ValueError(f"norm must be one of {', '.join(NORMS)}; got {norm!r}")
    model = build_model(arch, width, width_mult, n_hidden, in_shape, n_classes)
    if norm == "batch":
        if arch == "mlp":
            raise ValueError("norm 'batch' needs a CNN (vgg11 / vgg16 / resnet20); the MLP has no normalisation")
        _swap_norms(model)
    return model


def has_bn(model: nn.Module) -> bool:
    return any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules())


def full_spec(model: nn.Module) -> PermutationSpec:
    """The model's permutation spec, with the BN buffers of every permuted BN layer added."""
    axes = dict(spec_for(model).axes_to_perm)
    for name, m in model.named_modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            axes[f"{name}.running_mean"] = axes[f"{name}.weight"]
            axes[f"{name}.running_var"] = axes[f"{name}.weight"]
            axes[f"{name}.num_batches_tracked"] = ()
    return PermutationSpec(axes)


def matching_spec(model: nn.Module, spec: PermutationSpec) -> PermutationSpec:
    """``spec`` restricted to the trainable parameters (what weight matching compares)."""
    names = {k for k, _ in model.named_parameters()}
    return PermutationSpec({k: v for k, v in spec.axes_to_perm.items() if k in names})


@torch.no_grad()
def reset_bn_stats(model: nn.Module, params: Mapping[str, torch.Tensor], x: torch.Tensor,
                   batch_size: int = 500) -> Params:
    """``params`` with every BN layer's running mean / variance recomputed on ``x`` (train-mode
    forward passes, cumulative average); other entries unchanged. Identity for models without BN."""
    if not has_bn(model):
        return dict(params)
    m = copy.deepcopy(model)
    m.load_state_dict(dict(params))
    for mod in m.modules():
        if isinstance(mod, nn.modules.batchnorm._BatchNorm):
            mod.reset_running_stats()
            mod.momentum = None
    m.train()
    for i in range(0, len(x), batch_size):
        m(x[i:i + batch_size])
    return {k: v.detach().clone() for k, v in m.state_dict().items()}
