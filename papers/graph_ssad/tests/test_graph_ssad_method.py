"""The proposed method against known answers: the GCN layer against its formula and against
torch_geometric, gradients of the sparse product, the smooth AUC against the AUC, invariances,
and that the AUC term is what separates anomalies on a small synthetic attributed graph."""

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from sklearn.metrics import roc_auc_score

from papers.graph_ssad import method as M
from papers.graph_ssad import models as MD


def _random_graph(n=12, p=0.3, seed=0):
    rng = np.random.default_rng(seed)
    a = (rng.random((n, n)) < p).astype(np.float32)
    a = np.triu(a, 1)
    a = a + a.T
    return sp.csr_matrix(a)


def test_normalized_adjacency_matches_formula():
    adj = _random_graph()
    a = adj.toarray() + np.eye(adj.shape[0])
    d = np.diag(1 / np.sqrt(a.sum(1)))
    expected = d @ a @ d
    got = MD.normalized_adjacency(adj).dense().numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(got, got.T, atol=1e-7)
    # the largest eigenvalue of D^-1/2 (A+I) D^-1/2 is 1
    assert np.isclose(np.linalg.eigvalsh(expected).max(), 1.0)


def test_gcn_layer_matches_formula_and_torch_geometric():
    from torch_geometric.nn import GCNConv

    adj = _random_graph(15, 0.25, 1)
    x = torch.rand(15, 7)
    layer = MD.GCNLayer(7, 4, bias=False)
    a_hat = MD.normalized_adjacency(adj)
    out = layer(x, a_hat)
    formula = a_hat.dense() @ x @ layer.lin.weight.t()
    torch.testing.assert_close(out, formula, rtol=1e-5, atol=1e-6)
    conv = GCNConv(7, 4, bias=False)
    with torch.no_grad():
        conv.lin.weight.copy_(layer.lin.weight)
    coo = adj.tocoo()
    edge_index = torch.as_tensor(np.vstack([coo.row, coo.col]), dtype=torch.long)
    torch.testing.assert_close(out, conv(x, edge_index), rtol=1e-5, atol=1e-6)


def test_sparse_attributes_give_the_same_network_output():
    rng = np.random.default_rng(0)
    x = (rng.random((20, 30)) < 0.05).astype(np.float32)
    xs = MD.to_torch_attributes(x)
    assert isinstance(xs, MD.SparseMatrix)
    adj = MD.normalized_adjacency(_random_graph(20, 0.2, 2))
    torch.manual_seed(0)
    net = MD.GCN(30, 8, 5, 3)
    torch.testing.assert_close(net(xs, adj), net(torch.as_tensor(x), adj), rtol=1e-5, atol=1e-6)


def test_sparse_matmul_gradcheck():
    mat = MD.SparseMatrix(_random_graph(9, 0.4, 3) + sp.eye(9))
    dense = torch.randn(9, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda d: MD.spmm(mat, d), (dense,))


def test_auc_equals_sklearn_with_ties():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 200)
    s = np.round(rng.normal(size=200) + y, 1)  # rounding creates ties
    assert M.auc(y, s) == pytest.approx(roc_auc_score(y, s), abs=1e-12)
    assert np.isnan(M.auc(np.zeros(5), np.arange(5)))


def test_smooth_auc_tends_to_the_auc():
    rng = np.random.default_rng(1)
    sa, sn = rng.normal(1, 1, 30), rng.normal(0, 1, 80)
    exact = M.auc(np.r_[np.ones(30), np.zeros(80)], np.r_[sa, sn])
    smooth = M.smooth_auc(torch.as_tensor(sa) * 1e4, torch.as_tensor(sn) * 1e4).item()
    assert smooth == pytest.approx(exact, abs=1e-6)
    # equal scores: every pair counts 1/2
    assert M.smooth_auc(torch.zeros(3), torch.zeros(4)).item() == pytest.approx(0.5)


def test_proposed_loss_terms():
    scores = torch.tensor([1.0, 2.0, 3.0, 10.0, 0.5])
    normal, anomalous = torch.tensor([0, 1, 2]), torch.tensor([3, 4])
    assert M.proposed_loss(scores, normal, anomalous, 0.0).item() == pytest.approx(2.0)
    pairs = torch.sigmoid(torch.tensor([[9.0, 8.0, 7.0], [-0.5, -1.5, -2.5]])).mean().item()
    assert M.proposed_loss(scores, normal, anomalous, 10.0).item() == pytest.approx(2.0 - 10 * pairs, rel=1e-6)
    with pytest.raises(ValueError):
        M.proposed_loss(scores, normal, torch.tensor([], dtype=torch.long), 1.0)


def test_hypersphere_center_guard():
    h = torch.tensor([[0.05, -0.02, 1.0], [0.05, -0.04, 3.0]])
    torch.testing.assert_close(M.hypersphere_center(h), torch.tensor([0.05, -0.03, 2.0]))
    torch.testing.assert_close(M.hypersphere_center(h, 0.1), torch.tensor([0.1, -0.1, 2.0]))


def test_scores_are_permutation_equivariant():
    adj = _random_graph(14, 0.3, 4)
    x = torch.rand(14, 6)
    perm = np.random.default_rng(0).permutation(14)
    p = sp.csr_matrix((np.ones(14), (np.arange(14), perm)), shape=(14, 14))
    adj_p = p @ adj @ p.T
    torch.manual_seed(0)
    net = MD.GCN(6, 8, 4, 3)
    h = net(x, MD.normalized_adjacency(adj))
    h_p = net(x[perm], MD.normalized_adjacency(adj_p))
    torch.testing.assert_close(h_p, h[perm], rtol=1e-5, atol=1e-6)


def _synthetic_task(seed=0, n=300, d=20):
    """Two normal communities and one small anomalous one whose attributes differ weakly; the
    graph links nodes mostly inside their group, so the graph carries the label."""
    rng = np.random.default_rng(seed)
    group = np.r_[np.zeros(140), np.ones(140), np.full(20, 2)].astype(int)
    y = (group == 2).astype(np.int64)
    centers = rng.normal(0, 1, (3, d))
    x = centers[group] * 0.3 + rng.normal(0, 1, (n, d))
    same = group[:, None] == group[None, :]
    prob = np.where(same, 0.06, 0.003)
    a = np.triu(rng.random((n, n)) < prob, 1)
    adj = sp.csr_matrix((a + a.T).astype(np.float32))
    x = (x - x.min(0)) / (x.max(0) - x.min(0))
    idx = rng.permutation(n)
    lab = np.sort(np.r_[idx[y[idx] == 0][:30], idx[y[idx] == 1][:4]])
    val = np.sort(np.r_[idx[y[idx] == 0][30:60], idx[y[idx] == 1][4:8]])
    rest = np.setdiff1d(np.arange(n), np.r_[lab, val])
    return torch.as_tensor(x, dtype=torch.float32), MD.normalized_adjacency(adj), y, lab, val, rest


def test_auc_term_separates_anomalies_on_a_synthetic_graph():
    x, a_hat, y, lab, val, test = _synthetic_task()
    lam, fit = M.proposed(x, a_hat, y, lab, val, [10.0, 100.0], seed=0, epochs=100, patience=100)
    _, fit0 = M.proposed(x, a_hat, y, lab, val, [0.0], seed=0, epochs=100, patience=100)
    with_auc, normal_only = M.auc(y[test], fit.scores[test]), M.auc(y[test], fit0.scores[test])
    assert with_auc > 0.9
    assert with_auc > normal_only + 0.1
    assert lam in (10.0, 100.0)
    # the kept epoch's validation AUC is what the returned scores give
    assert fit.val_auc == pytest.approx(M.auc(y[val], fit.scores[val]))


def test_early_stopping_keeps_the_best_epoch_and_stops():
    x, a_hat, y, lab, val, _ = _synthetic_task(1)
    torch.manual_seed(0)
    net = MD.GCN(x.shape[1])
    fit = M.fit_hypersphere(net, x, a_hat, y, lab, val, lam=100.0, epochs=400, patience=10, lr=1e-3)
    assert fit.epochs_run <= fit.epoch + 10
    # the model holds the kept parameters: rescoring gives the same validation AUC
    normal = lab[y[lab] == 0]
    torch.manual_seed(0)
    c = MD.GCN(x.shape[1])(x, a_hat)[torch.as_tensor(normal)].mean(0)
    with torch.no_grad():
        s = M.anomaly_score(net(x, a_hat), c).numpy()
    assert M.auc(y[val], s[val]) == pytest.approx(fit.val_auc, abs=1e-9)
