"""Permutation symmetry of a network (Ainsworth et al., ICLR 2023, Sec. 2).

A hidden layer's units can be permuted, ``W_l -> P_l W_l P_{l-1}^T``, ``b_l -> P_l b_l``, without
changing the function. :class:`PermutationSpec` says which axis of which parameter each named
permutation acts on; :func:`apply_permutation` applies a permutation ``{name: index tensor}``:
unit ``j`` of a permuted layer is unit ``perm[name][j]`` of the original.

The specs of the networks in :mod:`common.lmc.models` are built here from their parameter names
(``mlp_spec``, ``vgg_spec``, ``resnet20_spec``); :func:`check_spec` verifies that a spec covers
every parameter of a model with consistent axis sizes.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Mapping

import torch

Params = dict[str, torch.Tensor]
Perm = dict[str, torch.Tensor]


@dataclass(frozen=True)
class PermutationSpec:
    """``axes_to_perm[param] = (perm name or None per axis)``; parameters not listed are never permuted."""

    axes_to_perm: dict

    @property
    def perm_to_axes(self) -> dict[str, list[tuple[str, int]]]:
        out: dict[str, list[tuple[str, int]]] = defaultdict(list)
        for key, axes in self.axes_to_perm.items():
            for axis, p in enumerate(axes):
                if p is not None:
                    out[p].append((key, axis))
        return dict(out)

    def sizes(self, params: Mapping[str, torch.Tensor]) -> dict[str, int]:
        return {p: params[axes[0][0]].shape[axes[0][1]] for p, axes in self.perm_to_axes.items()}


def mlp_spec(n_hidden: int) -> PermutationSpec:
    """``fc.{i}`` linear layers; permutation ``P_i`` on the outputs of hidden layer i."""
    axes = {}
    for i in range(n_hidden + 1):
        p_out = f"P_{i}" if i < n_hidden else None
        p_in = f"P_{i - 1}" if i > 0 else None
        axes[f"fc.{i}.weight"] = (p_out, p_in)
        axes[f"fc.{i}.bias"] = (p_out,)
    return PermutationSpec(axes)


def vgg_spec(n_convs: int) -> PermutationSpec:
    """``convs.{i}`` + ``norms.{i}`` (``P_conv{i}``), then three dense layers (``P_dense0``, ``P_dense1``)."""
    axes = {}
    for i in range(n_convs):
        p, q = f"P_conv{i}", (f"P_conv{i - 1}" if i > 0 else None)
        axes[f"convs.{i}.weight"] = (p, q, None, None)
        axes[f"convs.{i}.bias"] = (p,)
        axes[f"norms.{i}.weight"] = (p,)
        axes[f"norms.{i}.bias"] = (p,)
    last = f"P_conv{n_convs - 1}"
    axes.update({"dense.0.weight": ("P_dense0", last), "dense.0.bias": ("P_dense0",),
                 "dense.1.weight": ("P_dense1", "P_dense0"), "dense.1.bias": ("P_dense1",),
                 "dense.2.weight": (None, "P_dense1"), "dense.2.bias": (None,)})
    return PermutationSpec(axes)


def resnet20_spec() -> PermutationSpec:
    """One permutation per residual stream (``P_g{g}``: every block of group g reads and writes it)
    and one per block's inner layer (``P_g{g}_b{b}_inner``)."""
    axes = {"conv1.weight": ("P_g0", None, None, None), "norm1.weight": ("P_g0",), "norm1.bias": ("P_g0",)}
    for g in range(3):
        for b in range(3):
            pre = f"groups.{g}.{b}"
            p_in = f"P_g{g - 1}" if (b == 0 and g > 0) else f"P_g{g}"
            inner, out = f"P_g{g}_b{b}_inner", f"P_g{g}"
            axes[f"{pre}.conv1.weight"] = (inner, p_in, None, None)
            axes[f"{pre}.norm1.weight"] = (inner,)
            axes[f"{pre}.norm1.bias"] = (inner,)
            axes[f"{pre}.conv2.weight"] = (out, inner, None, None)
            axes[f"{pre}.norm2.weight"] = (out,)
            axes[f"{pre}.norm2.bias"] = (out,)
            if b == 0 and g > 0:
                axes[f"{pre}.shortcut_conv.weight"] = (out, p_in, None, None)
                axes[f"{pre}.shortcut_norm.weight"] = (out,)
                axes[f"{pre}.shortcut_norm.bias"] = (out,)
    axes["linear.weight"] = (None, "P_g2")
    axes["linear.bias"] = (None,)
    return PermutationSpec(axes)


def check_spec(spec: PermutationSpec, params: Mapping[str, torch.Tensor]) -> None:
    """Every parameter is covered, and every axis of one permutation has the same size."""
    missing = set(params) - set(spec.axes_to_perm)
    if missing:
        raise ValueError(f"parameters missing from the permutation spec: {sorted(missing)}")
    for p, axes in spec.perm_to_axes.items():
        sizes = {params[k].shape[a] for k, a in axes}
        if len(sizes) != 1:
            raise ValueError(f"permutation {p} acts on axes of different sizes {sizes}")


def identity_perm(spec: PermutationSpec, params: Mapping[str, torch.Tensor]) -> Perm:
    return {p: torch.arange(n) for p, n in spec.sizes(params).items()}


def random_perm(spec: PermutationSpec, params: Mapping[str, torch.Tensor], generator: torch.Generator) -> Perm:
    return {p: torch.randperm(n, generator=generator) for p, n in spec.sizes(params).items()}


def permuted_param(spec: PermutationSpec, perm: Perm, key: str, params: Mapping[str, torch.Tensor],
                   except_axis: int | None = None) -> torch.Tensor:
    """``params[key]`` with every permutation applied except on ``except_axis``."""
    w = params[key]
    for axis, p in enumerate(spec.axes_to_perm.get(key, ())):
        if p is not None and axis != except_axis:
            w = torch.index_select(w, axis, perm[p].to(w.device))
    return w


def apply_permutation(spec: PermutationSpec, perm: Perm, params: Mapping[str, torch.Tensor]) -> Params:
    """pi(theta): unit j of a permuted layer is unit ``perm[p][j]`` of the original."""
    return {k: permuted_param(spec, perm, k, params) for k in params}


def invert_perm(perm: Perm) -> Perm:
    return {p: torch.argsort(ix) for p, ix in perm.items()}


def is_valid_perm(perm: Perm, sizes: Mapping[str, int]) -> bool:
    return set(perm) == set(sizes) and all(
        torch.equal(torch.sort(perm[p].cpu()).values, torch.arange(n)) for p, n in sizes.items())
