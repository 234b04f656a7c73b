"""The proposed method, its ablation and its competitors under one protocol, and the registry ``METHODS``.

Every entry is ``build(d_in, draw, cfg, seed, log, dev) -> predict(task) -> (query labels, confusions or None)``.
``draw()`` yields batches of meta-training tasks (meta-learned methods only). At test time every method sees
only the task's support instances and their noisy annotations; all are scored on the same test tasks.

- proposed / proposed_noannot / protonet_mv: ``train.py`` (meta-learned encoders).
- em_fixed: the MAP-EM of ``method.py`` on the fixed input features (no meta-learning; the prior at its
  configured values).
- crowdlayer (Rodrigues & Pereira, AAAI 2018, "MW" variant): a softmax classifier whose output p feeds one
  K x K matrix per annotator (initialised to the identity) giving that annotator's label logits W_j p; trained
  per task by full-batch Adam on the cross-entropy of the observed annotations; prediction = argmax p.
  Classifier: linear on the input features (ours: few-shot supports).
- mv_clf / ds_clf / glad_clf / mace_clf: two-stage: the labels aggregated by crowd-kit (MajorityVote,
  DawidSkene (Dawid & Skene 1979), GLAD (Whitehill et al. 2009), MACE (Hovy et al. 2013)), then
  scikit-learn's multinomial logistic regression on the input features.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from sklearn.linear_model import LogisticRegression

from papers.meta_annotators import method as M
from papers.meta_annotators.data import CrowdTask
from papers.meta_annotators.train import build_annotator_em, build_protonet_mv


def build_em_fixed(d_in, draw, cfg, seed, log, dev):
    alpha = M.dirichlet_concentration(cfg.n_way, cfg.alpha_diag, cfg.alpha_off, torch.float64)

    @torch.no_grad()
    def predict(t: CrowdTask):
        z = torch.as_tensor(t.xs, dtype=torch.float64)[None]
        ann = M.one_hot_annotations(torch.as_tensor(t.ann)[None], cfg.n_way).double()
        st = M.em(z, ann, cfg.em_steps, alpha, cfg.var_shape, cfg.var_scale * z.shape[-1])
        zq = torch.as_tensor(t.xq, dtype=torch.float64)[None]
        return M.query_logits(zq, st).argmax(-1)[0].numpy(), st.theta[0].numpy()
    return predict


def build_crowdlayer(d_in, draw, cfg, seed, log, dev):
    def predict(t: CrowdTask):
        g = torch.Generator().manual_seed(seed)
        x = torch.as_tensor(t.xs, dtype=torch.float32)
        ann = torch.as_tensor(t.ann)
        n, n_ann = cfg.n_way, ann.shape[1]
        lin = torch.nn.Linear(x.shape[1], n)
        with torch.no_grad():
            lin.weight.copy_(torch.randn(lin.weight.shape, generator=g) * 0.01)
            lin.bias.zero_()
        w = torch.nn.Parameter(torch.eye(n).repeat(n_ann, 1, 1))           # W_j, identity start
        opt = torch.optim.Adam([{"params": lin.parameters(), "weight_decay": cfg.crowdlayer_wd},
                                {"params": [w]}], lr=cfg.lr * 10)
        obs = ann >= 0
        for _ in range(cfg.crowdlayer_steps):
            p = torch.softmax(lin(x), -1)                                    # (M, N)
            logits = torch.einsum("jlc,mc->mjl", w, p)                       # annotator j's label logits
            loss = F.cross_entropy(logits[obs], ann[obs])
            opt.zero_grad()
            loss.backward()
            opt.step()
        with torch.no_grad():
            return lin(torch.as_tensor(t.xq, dtype=torch.float32)).argmax(-1).numpy(), None
    return predict


def _long_format(ann: np.ndarray) -> pd.DataFrame:
    m, j = np.nonzero(ann >= 0)
    return pd.DataFrame({"task": m, "worker": j, "label": ann[m, j]})


def _aggregator(name: str, cfg, seed: int):
    from crowdkit.aggregation import GLAD, MACE, DawidSkene, MajorityVote
    if name == "mv_clf":
        return MajorityVote(default_skill=None)
    if name == "ds_clf":
        return DawidSkene(n_iter=cfg.agg_iters)
    if name == "glad_clf":
        return GLAD(n_iter=cfg.agg_iters, silent=True)
    return MACE(n_restarts=1 + cfg.agg_iters // 50, n_iter=cfg.agg_iters, random_state=seed, verbose=0)


def ds_confusions(ds, n_annotators: int, n_way: int) -> np.ndarray:
    """crowd-kit DawidSkene ``errors_`` ((worker, observed label) x true label) -> (J, N, N) [j, true, observed]."""
    theta = np.zeros((n_annotators, n_way, n_way))
    for (j, lab), row in ds.errors_.iterrows():
        for c, v in row.items():
            theta[int(j), int(c), int(lab)] = v
    return theta


def build_two_stage(name: str):
    def build(d_in, draw, cfg, seed, log, dev):
        def predict(t: CrowdTask):
            agg = _aggregator(name, cfg, seed)
            labels = agg.fit_predict(_long_format(t.ann)).sort_index()
            y = labels.to_numpy().astype(np.int64)
            theta = ds_confusions(agg, t.ann.shape[1], cfg.n_way) if name == "ds_clf" else None
            if len(np.unique(y)) < 2:
                return np.full(len(t.xq), y[0]), theta
            clf = LogisticRegression(C=cfg.clf_c, max_iter=300).fit(t.xs[labels.index.to_numpy()], y)
            return clf.predict(t.xq), theta
        return predict
    return build


METHODS = {
    "proposed": build_annotator_em(annotators=True),
    "proposed_noannot": build_annotator_em(annotators=False),
    "protonet_mv": build_protonet_mv,
    "em_fixed": build_em_fixed,
    "crowdlayer": build_crowdlayer,
    **{n: build_two_stage(n) for n in ("mv_clf", "ds_clf", "glad_clf", "mace_clf")},
}
