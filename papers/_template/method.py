"""The "paper's" contribution: multinomial logistic regression fitted to its exact optimum.

This is the template paper: a tiny but real method/baseline pair that shows every file role.
The method minimises the L2-regularised softmax cross-entropy

    L(W, b) = (1/n) sum_i -log softmax(W x_i + b)_{y_i} + (l2 / 2) ||W||_F^2          (Eq. 1)

with full-batch L-BFGS (strong Wolfe line search) until the gradient's largest entry is below
``tol``; Eq. 1 is strictly convex in W, so the optimum is unique and a test can check it.
Pure functions of tensors: no file I/O, no config objects.
"""

from __future__ import annotations

import torch

from papers._template.models import SoftmaxRegression


def objective(model: SoftmaxRegression, x: torch.Tensor, y: torch.Tensor, l2: float) -> torch.Tensor:
    """Eq. 1."""
    ce = torch.nn.functional.cross_entropy(model(x), y)
    return ce + 0.5 * l2 * model.linear.weight.pow(2).sum()


def fit_softmax_regression(x: torch.Tensor, y: torch.Tensor, n_classes: int, l2: float = 1e-3,
                           tol: float = 1e-6, max_iter: int = 500) -> SoftmaxRegression:
    """Minimise Eq. 1 from W = 0, b = 0 (deterministic: no random initialisation)."""
    model = SoftmaxRegression(x.shape[1], n_classes).to(x.dtype)
    torch.nn.init.zeros_(model.linear.weight)
    torch.nn.init.zeros_(model.linear.bias)
    opt = torch.optim.LBFGS(model.parameters(), lr=1.0, max_iter=max_iter, tolerance_grad=tol,
                            tolerance_change=0.0, history_size=20, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = objective(model, x, y, l2)
        loss.backward()
        return loss

    opt.step(closure)
    return model


@torch.no_grad()
def predict(model: SoftmaxRegression, x: torch.Tensor) -> torch.Tensor:
    return model(x).argmax(1)
