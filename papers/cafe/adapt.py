"""The online test-time adaptation protocol shared by every method (Tent, Wang et al. ICLR 2021, Alg. 1).

For each incoming test batch: forward with BatchNorm in train mode (test-batch statistics), predict
with that forward's outputs, then (optionally) take gradient steps on the method's unsupervised loss
w.r.t. the BN affine parameters. A method is a loss ``loss_fn(features, logits)`` (``baselines.METHODS``
builds the adapter of each method); CAFe's loss is ``method.cafe_loss``.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch
import torch.nn as nn

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def configure_bn_adaptation(model: nn.Module) -> list[nn.Parameter]:
    """Tent's configuration: train-mode BN with test-batch statistics (no running averages),
    every parameter frozen except the BN affine weights and biases, which are returned."""
    model.train()
    model.requires_grad_(False)
    params = []
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.track_running_stats = False
            m.running_mean = None
            m.running_var = None
            if m.affine:
                m.weight.requires_grad_(True)
                m.bias.requires_grad_(True)
                params += [m.weight, m.bias]
    return params


class TestTimeAdapter:
    """Online TTA: for each incoming test batch, forward, (optionally) gradient steps on the
    unsupervised loss, and predict with the outputs of the first forward pass (Tent, Alg. 1)."""

    __test__ = False  # not a pytest class

    def __init__(self, model: nn.Module, loss_fn: LossFn | None, lr: float = 1e-3, steps: int = 1,
                 adapt_bn_stats: bool = True, optimizer: str = "adam", momentum: float = 0.9):
        self.model, self.loss_fn, self.steps = model, loss_fn, steps
        if adapt_bn_stats:
            params = configure_bn_adaptation(model)
        else:
            model.eval()
            model.requires_grad_(False)
            params = []
        self.params = params
        self.opt = None
        if loss_fn is not None:
            if not adapt_bn_stats:
                raise ValueError("a loss needs the BN-affine configuration (adapt_bn_stats=True)")
            if optimizer == "adam":
                self.opt = torch.optim.Adam(params, lr=lr, betas=(0.9, 0.999))
            elif optimizer == "sgd":
                self.opt = torch.optim.SGD(params, lr=lr, momentum=momentum)
            else:
                raise ValueError(f"optimizer must be adam or sgd, got {optimizer!r}")

    def step(self, x: torch.Tensor) -> torch.Tensor:
        if self.opt is None:
            with torch.no_grad():
                return self.model(x)
        out = None
        for _ in range(self.steps):
            f = self.model.forward_features(x)
            logits = self.model.fc(f)
            if out is None:
                out = logits.detach()
            loss = self.loss_fn(f, logits)
            self.opt.zero_grad(set_to_none=True)
            loss.backward()
            self.opt.step()
        return out


def run_stream(adapter: TestTimeAdapter, x, y: np.ndarray, order: np.ndarray, batch_size: int,
               load: Callable) -> np.ndarray:
    """Feed the stream ``x[order]`` batch by batch (``load(x, idx)`` -> input tensor); returns the
    per-sample correctness of the online predictions, in the original indexing."""
    correct = np.zeros(len(y), dtype=bool)
    for i in range(0, len(order), batch_size):
        idx = order[i:i + batch_size]
        if len(idx) < 2:   # a single leftover image has no batch statistics: predict it with the last batch
            idx = order[max(0, i - 1):i + 1]
        pred = adapter.step(load(x, idx)).argmax(1).cpu().numpy()
        correct[idx] = pred == y[idx]
    return correct
