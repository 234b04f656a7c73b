"""Key properties of the baselines: Dawid-Skene confusions read from crowd-kit in our orientation, majority votes,
prototypes with a class nobody voted for, CrowdLayer and the two-stage pipeline on an easy task."""

import numpy as np
import torch

from papers.meta_annotators.baselines import METHODS, _aggregator, _long_format, ds_confusions
from papers.meta_annotators.config import SMOKE, Config
from papers.meta_annotators.data import CrowdTask, sample_confusions, simulate_annotations
from papers.meta_annotators.train import majority_vote_onehot, prototype_logits


def _easy_task(seed=0, n=3, k=30, j=6):
    rng = np.random.default_rng(seed)
    ys = np.repeat(np.arange(n), k)
    theta = sample_confusions(rng, j, n, 0.5, 0.95)
    centers = np.eye(n, 4) * 4.0
    xs = (centers[ys] + rng.normal(size=(len(ys), 4))).astype(np.float32)
    yq = np.repeat(np.arange(n), 10)
    xq = (centers[yq] + rng.normal(size=(len(yq), 4))).astype(np.float32)
    return CrowdTask(xs, simulate_annotations(rng, ys, theta, 0), ys, xq, yq, theta, np.ones((j, n)))


def test_dawid_skene_confusions_orientation():
    t = _easy_task(k=200)
    cfg = Config(n_way=3, agg_iters=50)
    ds = _aggregator("ds_clf", cfg, 0)
    ds.fit(_long_format(t.ann))
    theta = ds_confusions(ds, t.ann.shape[1], 3)
    np.testing.assert_allclose(theta.sum(-1), 1.0, atol=1e-6)
    assert np.abs(theta - t.theta).max() < 0.12   # theta[j, true, observed]


def test_majority_vote_and_prototypes():
    ann = torch.nn.functional.one_hot(torch.tensor([[[0, 0, 1], [1, 1, 1]]]), 3).float()
    r = majority_vote_onehot(ann, torch.Generator().manual_seed(0))
    assert r[0].argmax(-1).tolist() == [0, 1]
    z = torch.tensor([[[0.0, 0.0], [2.0, 0.0]]])
    logits = prototype_logits(z, r, torch.tensor([[[0.0, 0.0]]]))
    # class 2 got no vote: its prototype is the mean of all instances, (1, 0)
    np.testing.assert_allclose(logits[0, 0].numpy(), [0.0, -4.0, -1.0])


def test_per_task_baselines_learn_an_easy_task():
    t = _easy_task()
    cfg = Config(**{**SMOKE, "n_way": 3, "crowdlayer_steps": 100, "agg_iters": 20})
    for name in ("crowdlayer", "mv_clf", "ds_clf", "glad_clf", "mace_clf", "em_fixed"):
        pred, theta = METHODS[name](4, None, cfg, 0, None, "cpu")(t)
        assert (pred == t.yq).mean() > 0.85, name
        assert (theta is not None) == (name in ("ds_clf", "em_fixed"))
