"""The proposed method, its ablations and its competitors under one protocol, and the registry ``METHODS``.

Every entry is ``build(pools, draw, cfg, seed, log, dev) -> score(task) -> OoD scores of task.xq`` (higher =
more likely OoD). ``draw()`` yields meta-training tasks (meta-learned methods only); ``pools`` gives the
meta-training rows to the pre-trained encoder. At test time every method sees only the task's support
set (N classes x K labelled ID instances); all are scored on the same test tasks.

- proposed / proposed_diag / proposed_shared: ``method.py``, encoder meta-trained through the closed-form
  mixture with full / diagonal / one shared covariance.
- gmm_pretrained, gmm_input: the same full-covariance mixture (no meta-learning) on the pre-trained encoder's
  latent features / on the input features.
- protonet (Snell et al. 2017): encoder meta-trained with the ProtoNet loss (softmax over negative squared
  distances to the class means, ID queries); OoD score = squared distance to the nearest prototype.
- maml (Finn et al. 2017) with an OoD head: an (N+1)-way MLP classifier, the last output = OoD; inner loop =
  cross-entropy of the support (ID labels) by ``maml_inner_steps`` gradient steps, second order; outer loss =
  cross-entropy of the queries with OoD queries labelled N; score = log p(OoD | x) after adaptation.
- msp (Hendrycks & Gimpel 2017), energy (Liu et al. 2020), mahalanobis (Lee et al. 2018): a classifier trained
  per task on the support set from scratch; scores from ``pytorch_ood`` (MaxSoftmax, EnergyBased, Mahalanobis
  fitted on the support's penultimate features).
- ocsvm_* / iforest_*: scikit-learn OneClassSVM and IsolationForest fitted per task on the support set, on the
  input features or on the pre-trained encoder's features.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch
from pytorch_ood.detector import EnergyBased, Mahalanobis, MaxSoftmax
from sklearn.ensemble import IsolationForest
from sklearn.svm import OneClassSVM
from torch.func import functional_call

from common.cache import cache_entry
from papers.meta_ood import method as M
from papers.meta_ood.data import SLUG, OodTask
from papers.meta_ood.models import Classifier, encoder
from papers.meta_ood.train import meta_train, pretrain_encoder

Scorer = Callable[[OodTask], np.ndarray]


def _t(x: np.ndarray, dev, dtype=torch.float32) -> torch.Tensor:
    return torch.as_tensor(x, dtype=dtype).to(dev)


def _resp(cfg, n_tasks: int, dtype=torch.float32, dev=None) -> torch.Tensor:
    return M.one_hot_support(cfg.n_way, cfg.k_shot, n_tasks, dtype, dev)


def _proposed(covariance: str):
    def build(pools, draw, cfg, seed, log, dev) -> Scorer:
        torch.manual_seed(seed)
        enc = encoder(pools.x.shape[1], cfg.hidden, cfg.latent_dim, cfg.encoder).to(dev)
        zdim = pools.x.shape[1] if cfg.encoder == "residual" else cfg.latent_dim

        def loss(xs, ys, xq, is_ood):
            s = M.task_scores(enc, xs, _resp(cfg, len(xs), dev=dev), xq, cfg.ridge, covariance)
            return M.auc_surrogate_loss(s, is_ood, scale=zdim)
        meta_train(enc.parameters(), loss, draw, cfg.meta_iters, cfg.meta_batch, cfg.lr, log, dev)
        enc.eval()
        return _gmm_on(lambda x: enc(_t(x, dev)).double(), cfg, covariance)
    return build


@torch.no_grad()
def _gmm_scores(zs: torch.Tensor, zq: torch.Tensor, cfg, covariance: str = "full") -> np.ndarray:
    return M.ood_scores(zs[None], _resp(cfg, 1, zs.dtype, zs.device), zq[None], cfg.ridge, covariance)[0].cpu().numpy()


def _gmm_on(features: Callable[[np.ndarray], torch.Tensor], cfg, covariance: str = "full") -> Scorer:
    """Score with the mixture fitted in closed form (float64) on ``features`` of the support."""
    @torch.no_grad()
    def score(t: OodTask) -> np.ndarray:
        return _gmm_scores(features(t.xs), features(t.xq), cfg, covariance)
    return score


def pretrained_encoder(pools, cfg, seed, dev) -> torch.nn.Module:
    """The pre-trained encoder of this dataset and seed; content-keyed cache shared by the cells of a sweep."""
    key = {"dataset": cfg.dataset, "name": pools.name, "train_classes": pools.train_classes.tolist(),
           "test_frac": cfg.test_frac, "pca_dim": cfg.pca_dim, "hidden": cfg.hidden, "latent_dim": cfg.latent_dim,
           "encoder": cfg.encoder, "epochs": cfg.pretrain_epochs, "lr": cfg.lr, "seed": seed, "version": 1}
    enc = encoder(pools.x.shape[1], cfg.hidden, cfg.latent_dim, cfg.encoder)
    state = cache_entry(SLUG, "pretrained", key).load_or_compute(
        "encoder.pt", lambda: pretrain_encoder(pools, cfg.hidden, cfg.latent_dim, cfg.pretrain_epochs, cfg.lr,
                                               seed, cfg.encoder, dev).state_dict(), fmt="torch")
    enc.load_state_dict(state)
    return enc.to(dev).eval()


def _pretrained_features(pools, cfg, seed, dev):
    enc = pretrained_encoder(pools, cfg, seed, dev)
    return lambda x: enc(_t(x, dev)).detach().double()


def gmm_pretrained(pools, draw, cfg, seed, log, dev) -> Scorer:
    return _gmm_on(_pretrained_features(pools, cfg, seed, dev), cfg)


def gmm_input(pools, draw, cfg, seed, log, dev) -> Scorer:
    return _gmm_on(lambda x: _t(x, dev, torch.float64), cfg)


def _sklearn(make, feats=None) -> Scorer:
    """Fit ``make()`` on the support (all ID instances) and return its OoD score of the queries."""
    def score(t: OodTask) -> np.ndarray:
        xs, xq = (t.xs, t.xq) if feats is None else (feats(t.xs).cpu().numpy(), feats(t.xq).cpu().numpy())
        model = make().fit(xs)
        return -(model.decision_function(xq) if isinstance(model, OneClassSVM) else model.score_samples(xq))
    return score


def _ocsvm(cfg):
    return lambda: OneClassSVM(nu=cfg.ocsvm_nu, gamma="scale")


def _iforest(seed):
    rng = np.random.default_rng(seed)
    return lambda: IsolationForest(n_estimators=100, random_state=int(rng.integers(2**31)))


def ocsvm_input(pools, draw, cfg, seed, log, dev) -> Scorer:
    return _sklearn(_ocsvm(cfg))


def iforest_input(pools, draw, cfg, seed, log, dev) -> Scorer:
    return _sklearn(_iforest(seed))


def ocsvm_pretrained(pools, draw, cfg, seed, log, dev) -> Scorer:
    return _sklearn(_ocsvm(cfg), _pretrained_features(pools, cfg, seed, dev))


def iforest_pretrained(pools, draw, cfg, seed, log, dev) -> Scorer:
    return _sklearn(_iforest(seed), _pretrained_features(pools, cfg, seed, dev))


def _per_task_classifier(kind: str):
    """A classifier trained from scratch on the support of each task; OoD score from pytorch-ood."""
    def build(pools, draw, cfg, seed, log, dev) -> Scorer:
        gen = torch.Generator().manual_seed(seed)

        def score(t: OodTask) -> np.ndarray:
            torch.manual_seed(int(torch.randint(2**31, (1,), generator=gen)))
            net = Classifier(t.xs.shape[1], cfg.hidden, cfg.latent_dim, cfg.n_way).to(dev)
            opt = torch.optim.Adam(net.parameters(), lr=cfg.clf_lr, weight_decay=5e-4)
            xs, ys, xq = _t(t.xs, dev), torch.as_tensor(t.ys).to(dev), _t(t.xq, dev)
            for _ in range(cfg.clf_steps):
                loss = torch.nn.functional.cross_entropy(net(xs), ys)
                opt.zero_grad()
                loss.backward()
                opt.step()
            net.eval()
            with torch.no_grad():
                if kind == "msp":
                    return MaxSoftmax.score(net(xq)).cpu().numpy()
                if kind == "energy":
                    return EnergyBased.score(net(xq)).cpu().numpy()
                det = Mahalanobis(None).fit_features(net.features(xs), ys)
                return det.predict_features(net.features(xq)).cpu().numpy()
        return score
    return build


def protonet(pools, draw, cfg, seed, log, dev) -> Scorer:
    torch.manual_seed(seed)
    enc = encoder(pools.x.shape[1], cfg.hidden, cfg.latent_dim, cfg.encoder).to(dev)

    def sq_dists(xs, xq):
        zs, zq = enc(xs), enc(xq)
        protos = zs.reshape(len(xs), cfg.n_way, cfg.k_shot, -1).mean(2)         # class-major support
        return (zq.unsqueeze(-2) - protos.unsqueeze(-3)).pow(2).sum(-1)          # (T, Q, N)

    def loss(xs, ys, xq, is_ood):
        d = sq_dists(xs, xq)
        n_id = cfg.n_way * cfg.n_train_query                                      # ID queries come first
        yq = torch.arange(cfg.n_way, device=dev).repeat_interleave(cfg.n_train_query).expand(len(xs), -1)
        return torch.nn.functional.cross_entropy(-d[:, :n_id].reshape(-1, cfg.n_way), yq.reshape(-1))
    meta_train(enc.parameters(), loss, draw, cfg.meta_iters, cfg.meta_batch, cfg.lr, log, dev)
    enc.eval()

    @torch.no_grad()
    def score(t: OodTask) -> np.ndarray:
        return sq_dists(_t(t.xs, dev)[None], _t(t.xq, dev)[None])[0].min(-1).values.cpu().numpy()
    return score


def _maml_adapt(net, params, xs, ys, cfg, create_graph: bool):
    for _ in range(cfg.maml_inner_steps):
        inner = torch.nn.functional.cross_entropy(functional_call(net, params, (xs,)), ys)
        grads = torch.autograd.grad(inner, list(params.values()), create_graph=create_graph)
        params = {k: v - cfg.maml_inner_lr * g for (k, v), g in zip(params.items(), grads)}
    return params


def maml(pools, draw, cfg, seed, log, dev) -> Scorer:
    torch.manual_seed(seed)
    net = encoder(pools.x.shape[1], cfg.hidden, cfg.n_way + 1).to(dev)     # same MLP body, N + 1 outputs

    def loss(xs, ys, xq, is_ood):
        total = 0.0
        n_id = cfg.n_way * cfg.n_train_query
        yq = torch.cat([torch.arange(cfg.n_way, device=dev).repeat_interleave(cfg.n_train_query),
                        torch.full((xq.shape[1] - n_id,), cfg.n_way, device=dev)])
        for i in range(len(xs)):
            p = _maml_adapt(net, dict(net.named_parameters()), xs[i], ys[i], cfg, create_graph=True)
            total = total + torch.nn.functional.cross_entropy(functional_call(net, p, (xq[i],)), yq)
        return total / len(xs)
    meta_train(net.parameters(), loss, draw, cfg.maml_iters or cfg.meta_iters, cfg.meta_batch, cfg.lr, log, dev)

    def score(t: OodTask) -> np.ndarray:
        p = {k: v.detach().requires_grad_() for k, v in net.named_parameters()}
        p = _maml_adapt(net, p, _t(t.xs, dev), torch.as_tensor(t.ys).to(dev), cfg, create_graph=False)
        with torch.no_grad():
            return torch.log_softmax(functional_call(net, p, (_t(t.xq, dev),)), -1)[:, cfg.n_way].cpu().numpy()
    return score


METHODS: dict[str, Callable[..., Scorer]] = {
    "proposed": _proposed("full"), "proposed_diag": _proposed("diag"), "proposed_shared": _proposed("shared"),
    "gmm_pretrained": gmm_pretrained, "gmm_input": gmm_input, "protonet": protonet, "maml": maml,
    "msp": _per_task_classifier("msp"), "energy": _per_task_classifier("energy"),
    "mahalanobis": _per_task_classifier("mahalanobis"), "ocsvm_input": ocsvm_input, "iforest_input": iforest_input,
    "ocsvm_pretrained": ocsvm_pretrained, "iforest_pretrained": iforest_pretrained,
}
