"""Known answers for method.py and the baselines' key properties: the P-SSL condition is the source
classifier's softmax on the target samples, PP labels are the generator's conditioning classes,
FixMatch's unlabelled loss vanishes below the confidence threshold, KD's loss vanishes at the teacher."""

import pytest
import torch
from torch import nn
from torch.nn import functional as F

from papers.pp_pssl import method as M
from papers.pp_pssl.baselines import METHODS, kd_loss
from papers.pp_pssl.models import CVAE


class EchoGenerator(nn.Module):
    """A generator whose image is its condition vector (then z): decode(z, c) = [c, z] as a 1 x 1 x K+Z image."""

    def __init__(self, n_classes=5, z_dim=3):
        super().__init__()
        self.n_classes, self.z_dim, self.image_shape = n_classes, z_dim, (1, 1, n_classes + z_dim)
        self.dummy = nn.Parameter(torch.zeros(1))

    def decode(self, z, cond):
        return torch.cat([cond, z], 1).view(-1, 1, 1, self.n_classes + self.z_dim)


def test_pssl_condition_is_source_softmax():
    torch.manual_seed(0)
    clf = nn.Sequential(nn.Flatten(), nn.Linear(16, 5))
    x = torch.rand(7, 1, 4, 4)
    c = M.pseudo_conditions(clf, x, (1, 4, 4), batch=3)
    torch.testing.assert_close(c, F.softmax(clf(x), 1))
    torch.testing.assert_close(c.sum(1), torch.ones(7))
    # target images of another shape are resized to the classifier's input first
    c2 = M.pseudo_conditions(clf, F.interpolate(x, size=(8, 8), mode="bilinear", align_corners=False), (1, 4, 4))
    assert c2.shape == (7, 5)


def test_pseudo_samples_are_conditioned_on_the_target_conditions():
    g = EchoGenerator()
    conds = F.softmax(torch.randn(4, 5), 1)
    gen = torch.Generator().manual_seed(0)
    xu = M.sample_pseudo_unlabelled(g, conds, 50, gen, g.image_shape)
    used = xu.view(50, -1)[:, :5]
    # every pseudo sample was generated with one of the target samples' soft conditions, and all are used
    d = (used[:, None] - conds[None]).abs().amax(-1)
    assert torch.all(d.min(1).values < 1e-6)
    assert len(set(d.argmin(1).tolist())) == 4


def test_pp_labels_are_the_conditioning_classes():
    g = EchoGenerator()
    x, y = M.sample_pp_batch(g, 200, torch.Generator().manual_seed(1))
    cond = x.view(200, -1)[:, :5]
    torch.testing.assert_close(cond, F.one_hot(y, 5).float())
    assert set(y.tolist()) == set(range(5))  # uniform over the source classes


def test_fixmatch_unlabelled_loss_is_zero_below_threshold():
    torch.manual_seed(0)
    logits_l, y_l = torch.randn(4, 3), torch.tensor([0, 1, 2, 0])
    weak = torch.tensor([[1.0, 0.9, 0.8], [0.2, 0.1, 0.0], [2.0, 0.0, 0.0]])  # max prob < 0.95 everywhere
    strong = torch.randn(3, 3, requires_grad=True)
    loss, stats = M.fixmatch_loss(logits_l, y_l, weak, strong, tau=0.95, lambda_u=1.0)
    assert stats["unsup"] == 0.0 and stats["mask_rate"] == 0.0
    torch.testing.assert_close(loss, F.cross_entropy(logits_l, y_l))
    loss.backward()
    assert torch.all(strong.grad == 0)


def test_fixmatch_loss_above_threshold_is_masked_mean():
    logits_l, y_l = torch.zeros(2, 3), torch.tensor([0, 1])
    weak = torch.tensor([[10.0, 0.0, 0.0], [0.0, 0.1, 0.0]])  # only the first passes tau
    strong = torch.tensor([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]])
    loss, stats = M.fixmatch_loss(logits_l, y_l, weak, strong, tau=0.95, lambda_u=2.0)
    expect_u = F.cross_entropy(strong[:1], torch.tensor([0])) / 2  # mean over the whole unlabelled batch
    assert stats["mask_rate"] == 0.5
    torch.testing.assert_close(loss, F.cross_entropy(logits_l, y_l) + 2.0 * expect_u)


def test_augmentations_keep_shape_and_range_and_weak_is_a_shift():
    gen = torch.Generator().manual_seed(0)
    x = torch.zeros(8, 1, 28, 28)
    x[:, :, 10:18, 10:18] = 1.0
    w, s = M.weak_augment(x, gen), M.strong_augment(x, gen)
    assert w.shape == s.shape == x.shape and float(s.min()) >= 0 and float(s.max()) <= 1
    # a translation by <= 2 px of an interior square keeps its mass
    torch.testing.assert_close(w.sum((1, 2, 3)), x.sum((1, 2, 3)), rtol=1e-4, atol=1e-3)


def test_kd_loss_vanishes_at_the_teacher():
    t = torch.randn(6, 10)
    assert float(kd_loss(t.clone(), t, 4.0)) == pytest.approx(0.0, abs=1e-6)
    assert float(kd_loss(torch.zeros(6, 10), t, 4.0)) > 0


def test_cvae_decoder_takes_soft_conditions():
    g = CVAE((1, 28, 28), 10, 4, 32)
    with torch.no_grad():
        out = g.decode(torch.randn(3, 4), F.softmax(torch.randn(3, 10), 1))
    assert out.shape == (3, 1, 28, 28) and float(out.min()) >= 0 and float(out.max()) <= 1


def test_registry():
    assert set(METHODS) == {"scratch", "kd", "pp", "pssl", "pp_pssl", "finetune"}
