"""The proposed method and its competitors under one protocol, and the registry ``METHODS``.

Every entry is ``build(draw, d_in, cfg, seed, log) -> score(task) -> anomaly scores of task.xq``
(higher = more anomalous); ``draw()`` yields meta-training tasks (used by meta-learned methods only).
Per-task methods see only the task's support set; all methods are scored on the same test tasks.

- ocsvm, iforest: scikit-learn, fitted on the support normals (unsupervised one-class detectors).
- deep_svdd (Ruff et al. 2018, one-class) and deep_sad (Ruff et al. 2020, + labelled anomalies):
  written here (PyOD is not installed in this environment), bias-free MLP, centre = mean initial
  embedding of the normals, full-batch Adam on the support set.
- supervised: balanced logistic regression per task (scikit-learn) on the support set.
- maml (Finn et al. 2017): a binary MLP classifier meta-trained with second-order MAML, inner
  loop = balanced BCE on the support set.
- protonet (Snell et al. 2017): two prototypes (normal / anomaly); score = d(normal) - d(anomaly).
- oc_protonet (one-class ProtoNet, Dahia & Segundo 2020): score = distance to the normal prototype;
  meta-trained with the same AUROC surrogate as ours (their loss: ours, reconstructed).
- meta_svdd (Meta-SVDD, Dahia & Segundo 2020): per task the hard SVDD (minimum enclosing ball) of the
  embedded support normals, solved exactly and differentiated (svdd.py); score = squared distance to
  its centre; meta-trained, as the authors do, with binary cross-entropy on the query with logits
  -||f(x) - c||^2 (target 1 = normal). Sees the support normals only at test time.
- proposed: method.py with a meta-trained encoder; proposed_nometa: the same eigen solver on the
  input features (identity encoder, no meta-learning).
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch
from sklearn.ensemble import IsolationForest
from sklearn.linear_model import LogisticRegression
from sklearn.svm import OneClassSVM
from torch.func import functional_call

from papers.meta_occ import method as M
from papers.meta_occ import svdd as SV
from papers.meta_occ.data import AnomalyTask
from papers.meta_occ.models import ResidualEncoder, mlp
from papers.meta_occ.train import meta_train

Scorer = Callable[[AnomalyTask], np.ndarray]


def _t(x: np.ndarray) -> torch.Tensor:
    return torch.as_tensor(x, dtype=torch.float32)


def proposed(draw, d_in, cfg, seed, log) -> Scorer:
    torch.manual_seed(seed)
    enc = ResidualEncoder(d_in, cfg.hidden)

    def loss(xs, ys, xq, yq):
        return M.auc_surrogate_loss(M.task_scores(enc, xs, ys, xq, cfg.rank, cfg.ridge, cfg.gamma, cfg.eig_eps), yq)
    meta_train(enc.parameters(), loss, draw, cfg.meta_iters, cfg.meta_batch, cfg.lr, log)
    enc.eval()

    @torch.no_grad()
    def score(t: AnomalyTask) -> np.ndarray:
        return M.task_scores(enc, _t(t.xs)[None], torch.as_tensor(t.ys)[None], _t(t.xq)[None],
                             cfg.rank, cfg.ridge, cfg.gamma, cfg.eig_eps)[0].numpy()
    return score


def proposed_nometa(draw, d_in, cfg, seed, log) -> Scorer:
    rank = min(cfg.rank, d_in)

    def score(t: AnomalyTask) -> np.ndarray:
        xs, xq = torch.as_tensor(t.xs, dtype=torch.float64)[None], torch.as_tensor(t.xq, dtype=torch.float64)[None]
        w, mu = M.fit_subspace(xs[:, t.ys == 0], xs[:, t.ys == 1], rank, cfg.ridge, cfg.gamma)
        return M.anomaly_score(xq, w, mu)[0].numpy()
    return score


def ocsvm(draw, d_in, cfg, seed, log) -> Scorer:
    return lambda t: -OneClassSVM(nu=cfg.ocsvm_nu, gamma="scale").fit(t.xs[t.ys == 0]).decision_function(t.xq)


def iforest(draw, d_in, cfg, seed, log) -> Scorer:
    rng = np.random.default_rng(seed)
    return lambda t: -IsolationForest(n_estimators=100, random_state=int(rng.integers(2**31))).fit(
        t.xs[t.ys == 0]).score_samples(t.xq)


def supervised(draw, d_in, cfg, seed, log) -> Scorer:
    return lambda t: LogisticRegression(class_weight="balanced", max_iter=1000).fit(t.xs, t.ys).decision_function(t.xq)


def _deep_sad(d_in, cfg, seed, eta: float) -> Scorer:
    gen = torch.Generator().manual_seed(seed)

    def score(t: AnomalyTask) -> np.ndarray:
        torch.manual_seed(int(torch.randint(2**31, (1,), generator=gen)))
        net = mlp(d_in, cfg.hidden, cfg.emb_dim, bias=False)
        xn, xa = _t(t.xs[t.ys == 0]), _t(t.xs[t.ys == 1])
        with torch.no_grad():
            c = net(xn).mean(0)
            c = torch.where(c.abs() < 0.1, torch.where(c < 0, -0.1, 0.1), c)   # Ruff et al.: keep c off 0
        opt = torch.optim.Adam(net.parameters(), lr=cfg.lr, weight_decay=1e-6)
        for _ in range(cfg.deep_epochs):
            loss = (net(xn) - c).pow(2).sum(1).mean()
            if eta > 0:
                loss = loss + eta * (1.0 / ((net(xa) - c).pow(2).sum(1) + 1e-6)).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
        with torch.no_grad():
            return (net(_t(t.xq)) - c).pow(2).sum(1).numpy()
    return score


def deep_svdd(draw, d_in, cfg, seed, log) -> Scorer:
    return _deep_sad(d_in, cfg, seed, eta=0.0)


def deep_sad(draw, d_in, cfg, seed, log) -> Scorer:
    return _deep_sad(d_in, cfg, seed, eta=cfg.sad_eta)


def _proto_dists(enc, xs, ys, xq):
    zs, zq = enc(xs), enc(xq)
    normal = ys[0] == 0
    cn, ca = zs[:, normal].mean(1, keepdim=True), zs[:, ~normal].mean(1, keepdim=True)
    return (zq - cn).pow(2).sum(-1), (zq - ca).pow(2).sum(-1)


def protonet(draw, d_in, cfg, seed, log) -> Scorer:
    torch.manual_seed(seed)
    enc = ResidualEncoder(d_in, cfg.hidden)

    def loss(xs, ys, xq, yq):
        dn, da = _proto_dists(enc, xs, ys, xq)
        return torch.nn.functional.binary_cross_entropy_with_logits(dn - da, yq.float())
    meta_train(enc.parameters(), loss, draw, cfg.meta_iters, cfg.meta_batch, cfg.lr, log)

    @torch.no_grad()
    def score(t):
        dn, da = _proto_dists(enc, _t(t.xs)[None], torch.as_tensor(t.ys)[None], _t(t.xq)[None])
        return (dn - da)[0].numpy()
    return score


def oc_protonet(draw, d_in, cfg, seed, log) -> Scorer:
    torch.manual_seed(seed)
    enc = ResidualEncoder(d_in, cfg.hidden)

    def loss(xs, ys, xq, yq):
        return M.auc_surrogate_loss(_proto_dists(enc, xs, ys, xq)[0], yq)
    meta_train(enc.parameters(), loss, draw, cfg.meta_iters, cfg.meta_batch, cfg.lr, log)

    @torch.no_grad()
    def score(t):
        return _proto_dists(enc, _t(t.xs)[None], torch.as_tensor(t.ys)[None], _t(t.xq)[None])[0][0].numpy()
    return score


def _svdd_dists(enc, xs, ys, xq, eps):
    normal = ys[0] == 0
    c = SV.svdd_centre(enc(xs[:, normal]), eps)
    return (enc(xq) - c.unsqueeze(-2)).pow(2).sum(-1)


def meta_svdd(draw, d_in, cfg, seed, log) -> Scorer:
    torch.manual_seed(seed)
    enc = ResidualEncoder(d_in, cfg.hidden)

    def loss(xs, ys, xq, yq):
        d2 = _svdd_dists(enc, xs, ys, xq, cfg.svdd_eps)
        return torch.nn.functional.binary_cross_entropy_with_logits(-d2, 1.0 - yq.float())
    meta_train(enc.parameters(), loss, draw, cfg.meta_iters, cfg.meta_batch, cfg.lr, log)

    @torch.no_grad()
    def score(t):
        return _svdd_dists(enc, _t(t.xs)[None], torch.as_tensor(t.ys)[None], _t(t.xq)[None], cfg.svdd_eps)[0].numpy()
    return score


def _maml_adapt(net, params, xs, ys, cfg, create_graph: bool):
    pos_weight = (ys == 0).sum() / (ys == 1).sum().clamp_min(1)
    for _ in range(cfg.maml_inner_steps):
        logit = functional_call(net, params, (xs,)).squeeze(-1)
        inner = torch.nn.functional.binary_cross_entropy_with_logits(logit, ys.float(), pos_weight=pos_weight)
        grads = torch.autograd.grad(inner, list(params.values()), create_graph=create_graph)
        params = {k: v - cfg.maml_inner_lr * g for (k, v), g in zip(params.items(), grads)}
    return params


def maml(draw, d_in, cfg, seed, log) -> Scorer:
    torch.manual_seed(seed)
    net = mlp(d_in, cfg.hidden, 1)

    def loss(xs, ys, xq, yq):
        total = 0.0
        for i in range(len(xs)):
            p = _maml_adapt(net, dict(net.named_parameters()), xs[i], ys[i], cfg, create_graph=True)
            logit = functional_call(net, p, (xq[i],)).squeeze(-1)
            total = total + torch.nn.functional.binary_cross_entropy_with_logits(logit, yq[i].float())
        return total / len(xs)
    meta_train(net.parameters(), loss, draw, cfg.meta_iters, cfg.meta_batch, cfg.lr, log)

    def score(t):
        p = {k: v.detach().requires_grad_() for k, v in net.named_parameters()}
        p = _maml_adapt(net, p, _t(t.xs), torch.as_tensor(t.ys), cfg, create_graph=False)
        with torch.no_grad():
            return functional_call(net, p, (_t(t.xq),)).squeeze(-1).numpy()
    return score


METHODS: dict[str, Callable[..., Scorer]] = {
    "proposed": proposed, "proposed_nometa": proposed_nometa, "ocsvm": ocsvm, "iforest": iforest,
    "deep_svdd": deep_svdd, "deep_sad": deep_sad, "supervised": supervised, "maml": maml,
    "protonet": protonet, "oc_protonet": oc_protonet, "meta_svdd": meta_svdd,
}
