"""Networks: the permutable models of ``common.lmc.models`` at a width multiplier (CNNs with
LayerNorm or, ``common.lmc.batchnorm``, BatchNorm), a bias-free MLP option (the setting of the
paper's LEWC theorem), and the layer-by-layer outputs of an MLP that LEWC compares.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from common.lmc.batchnorm import build_model_norm, full_spec, has_bn
from common.lmc.models import MLP, spec_for
from common.lmc.permutation import Params, PermutationSpec


def mlp_width(width: int, width_mult: float) -> int:
    return max(1, int(round(width * width_mult)))


def build(arch: str, width: int, width_mult: float, n_hidden: int, bias: bool,
          in_shape: tuple[int, ...], n_classes: int = 10, norm: str = "layer") -> nn.Module:
    """The MLP (``n_hidden`` x ``round(width * width_mult)`` ReLU units, optionally bias-free) or a
    VGG-11 / ResNet-20 with channel multiplier ``width_mult`` and LayerNorm or BatchNorm (``norm``)."""
    if arch != "mlp":
        return build_model_norm(arch, width, width_mult, n_hidden, in_shape, norm, n_classes)
    in_dim = 1
    for d in in_shape:
        in_dim *= d
    model = MLP(in_dim, mlp_width(width, width_mult), n_hidden, n_classes)
    if not bias:
        model.fc = nn.ModuleList(nn.Linear(lin.in_features, lin.out_features, bias=False) for lin in model.fc)
    return model


def permutation_spec(model: nn.Module, params: Params) -> PermutationSpec:
    """The model's spec restricted to the parameters it has (a bias-free MLP has no ``fc.i.bias``); a
    BatchNorm model's spec also permutes the running statistics with their channels."""
    spec = full_spec(model) if has_bn(model) else spec_for(model)
    return PermutationSpec({k: v for k, v in spec.axes_to_perm.items() if k in params})


def mlp_layers(params: Params, x: torch.Tensor, n_layers: int) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """(pre-activations, outputs) of the layers ``fc.0 .. fc.{n_layers-1}`` of an MLP with ``params``:
    ``outputs[l] = relu(pre[l])`` for hidden layers and the logits for the last one."""
    h = x.flatten(1)
    pre, out = [], []
    for i in range(n_layers):
        a = F.linear(h, params[f"fc.{i}.weight"], params.get(f"fc.{i}.bias"))
        h = F.relu(a) if i < n_layers - 1 else a
        pre.append(a)
        out.append(h)
    return pre, out
