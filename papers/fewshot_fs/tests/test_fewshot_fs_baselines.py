"""Baseline scores against scikit-feature (pinned skfeature-chappers) and against their definitions."""

import numpy as np
import pytest
import sklearn.cluster
from scipy.sparse import csc_matrix
from skfeature.function.similarity_based import lap_score
from skfeature.function.sparse_learning_based import MCFS, NDFS

from papers.fewshot_fs import baselines as B
from papers.fewshot_fs.config import Config
from papers.fewshot_fs.train import ridge_reconstruction_mse


@pytest.fixture(scope="module")
def table():
    x = np.random.default_rng(0).random((15, 12))
    return x, B.knn_heat_graph(x, 5)


def test_laplacian_score_ranking_matches_the_library(table):
    x, w = table
    ours = np.argsort(B.laplacian_score(x, w), kind="stable")
    lib = lap_score.lap_score(x, W=csc_matrix(w), mode="index")
    assert ours.tolist() == np.asarray(lib).ravel().tolist()


def test_mcfs_coefficients_match_the_library(table):
    x, w = table
    ours = B.mcfs_coefficients(x, w, n_selected=4, n_clusters=2)
    lib = MCFS.mcfs(x, n_selected_features=4, W=csc_matrix(w), n_clusters=2, mode="raw")
    # eigenvectors are defined up to sign, so the coefficients are too
    np.testing.assert_allclose(np.abs(ours), np.abs(lib), atol=1e-10)
    assert ((np.abs(ours) > 0).sum(0) <= 4).all()


def test_ndfs_iterates_match_the_library(table, monkeypatch):
    """Same k-means start, same updates and stopping rule. The library's k-means call uses arguments
    removed from scikit-learn, so it is shimmed; its Laplacian (deg_j - W_ij) is passed to ours."""
    x, w = table
    kmeans = sklearn.cluster.KMeans

    def shim(n_clusters, precompute_distances=None, n_jobs=None, random_state=None, **kw):
        return kmeans(n_clusters, random_state=0, **kw)

    monkeypatch.setattr(NDFS.sklearn.cluster, "KMeans", shim)
    lib = NDFS.ndfs(x, W=csc_matrix(w), n_clusters=2, gamma=1e8, mode="raw")
    f0 = B.ndfs_initial_labels(x, 2, seed=0)
    ours = B.ndfs_weights(x, w, f0, gamma=1e8, laplacian=w.sum(1)[None, :] - w)
    np.testing.assert_allclose(ours, lib, atol=1e-8 * np.abs(lib).max())


def test_spec_matches_its_spectral_definition(table):
    """phi_2 = sum_{j>=2} alpha_j^2 lambda_j / sum_{j>=2} alpha_j^2 over the normalised Laplacian's spectrum."""
    x, _ = table
    w = B.rbf_graph(x)
    deg = w.sum(1)
    lap = np.eye(len(w)) - w / np.sqrt(np.outer(deg, deg))
    lam, vec = np.linalg.eigh(lap)                    # lam[0] = 0, vec[:, 0] = xi_1
    fh = np.sqrt(deg)[:, None] * x
    alpha = vec.T @ (fh / np.linalg.norm(fh, axis=0))
    ref = (alpha[1:] ** 2 * lam[1:, None]).sum(0) / (alpha[1:] ** 2).sum(0)
    np.testing.assert_allclose(B.spec_score(x, w), ref, rtol=1e-8)
    assert abs(lam[0]) < 1e-10


def test_constant_features_rank_last_and_filters_return_k_distinct():
    rng = np.random.default_rng(1)
    x = rng.random((10, 8))
    x[:, 3] = 0.5
    w = B.knn_heat_graph(x, 5)
    assert np.isinf(B.laplacian_score(x, w)[3]) and np.isinf(B.spec_score(x, B.rbf_graph(x))[3])
    cfg = Config(n_ways=2)
    for name in ("laplacian", "spec", "mcfs", "ndfs", "variance", "random"):
        idx = B.select_filter(name, x, 4, cfg, np.random.default_rng(0))
        assert len(set(idx.tolist())) == 4 and all(0 <= i < 8 for i in idx), name
    assert 3 not in B.select_filter("variance", x, 7, cfg, np.random.default_rng(0)).tolist()


def test_ridge_evaluator_known_answers():
    rng = np.random.default_rng(2)
    v = rng.random((200, 3))
    x = np.repeat(v, 2, axis=1)                       # columns (0,1), (2,3), (4,5) are copies
    assert ridge_reconstruction_mse(x[:100], x[100:], np.array([0, 2, 4]), 1e-9) < 1e-12
    assert ridge_reconstruction_mse(x[:100], x[100:], np.array([0, 1, 2]), 1e-9) > 1e-3   # misses a group
