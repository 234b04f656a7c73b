"""The in-run generator produces the requested classes: a classifier trained on real images only recognises its
samples as their conditioning class far above chance (scikit-learn's digits: always available, seconds)."""

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression

from common.data import load_digits
from papers.mgr.method import sample_synthetic
from papers.mgr.train import train_cvae


def test_generator_samples_are_recognised_as_their_class():
    torch.set_num_threads(1)
    ds = load_digits()
    x = torch.as_tensor(ds.x / 16.0, dtype=torch.float32)[:, None]
    y = torch.as_tensor(ds.y)
    vae = train_cvae(x[:1200], y[:1200], 10, latent=4, hidden=128, steps=400, seed=0)
    judge = LogisticRegression(max_iter=500).fit(x[:1200].flatten(1).numpy(), y[:1200].numpy())
    assert judge.score(x[1200:].flatten(1).numpy(), y[1200:].numpy()) > 0.9
    torch.manual_seed(0)
    with torch.no_grad():
        xs, ys = sample_synthetic(vae, 500, 10, "cpu")
    acc = float(np.mean(judge.predict(xs.flatten(1).numpy()) == ys.numpy()))
    assert acc > 0.5, f"generated digits recognised at {acc:.2f} (chance 0.10)"
    assert xs.min() >= 0 and xs.max() <= 1 and xs.shape == (500, 1, 8, 8)
