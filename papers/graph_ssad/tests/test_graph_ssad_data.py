"""Loaders of the paper's five graphs on tiny files of the same formats, the verified download,
the restricted unpickler, and the anomaly protocol (smallest class, [0, 1] attributes, splits)."""

import io
import os
import pickle
import time
import urllib.error
from collections import defaultdict

import numpy as np
import pytest
import scipy.sparse as sp

from common.data import ChecksumError, DataFormatError, DataMissingError, core
from papers.graph_ssad import data as D

PLANETOID_URL_PREFIX = "https://raw.githubusercontent.com/kimiyoung/planetoid/"

SHARED = [p for p in os.environ.get("REPRO_DATA", "").split(os.pathsep) if p]


def _write_tiny_planetoid(folder, name="cora"):
    """7 nodes, 3 attributes, 3 classes: allx/ally = nodes 0..3, tx/ty = test ids [6, 4]
    (node 5 is a missing test id, as in Citeseer)."""
    folder.mkdir(parents=True, exist_ok=True)
    allx = sp.csr_matrix(np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 0]], dtype=np.float32))
    ally = np.eye(3, dtype=np.int32)[[0, 1, 1, 2]]
    tx = sp.csr_matrix(np.array([[0, 1, 1], [1, 0, 1]], dtype=np.float32))
    ty = np.eye(3, dtype=np.int32)[[1, 0]]
    graph = defaultdict(list, {0: [1, 2], 1: [0], 2: [0, 3], 3: [2, 4], 4: [3], 5: [], 6: [4, 6]})
    for part, obj in {"x": allx[:2], "y": ally[:2], "allx": allx, "ally": ally, "tx": tx, "ty": ty,
                      "graph": graph}.items():
        with open(folder / f"ind.{name}.{part}", "wb") as fh:
            pickle.dump(obj, fh, protocol=2)
    (folder / f"ind.{name}.test.index").write_text("6\n4\n")


def test_planetoid_ind_files_are_assembled_like_kipf(tmp_path, monkeypatch):
    _write_tiny_planetoid(tmp_path / "graphs" / "planetoid")
    monkeypatch.setenv("REPRO_DATA", str(tmp_path))
    g = D.load_graph("cora")
    assert g.x.shape == (7, 3)
    np.testing.assert_array_equal(g.x[6], [0, 1, 1])       # tx[0] -> test id 6
    np.testing.assert_array_equal(g.x[4], [1, 0, 1])       # tx[1] -> test id 4
    np.testing.assert_array_equal(g.x[5], [0, 0, 0])       # missing test id: zero attributes
    np.testing.assert_array_equal(g.labels, [0, 1, 1, 2, 0, -1, 1])
    a = g.adj.toarray()
    assert (a == a.T).all() and a.diagonal().sum() == 0     # undirected, self-loop 6-6 dropped
    assert a[3, 4] == 1 and a[4, 6] == 1 and a[6, 4] == 1 and a[5].sum() == 0


def test_planetoid_converted_npz_matches_ind_files(tmp_path, monkeypatch):
    folder = tmp_path / "graphs" / "planetoid"
    _write_tiny_planetoid(folder)
    monkeypatch.setenv("REPRO_DATA", str(tmp_path))
    from_ind = D.load_graph("cora")
    allx = sp.csr_matrix(from_ind.x[:4])
    tx = sp.csr_matrix(from_ind.x[[6, 4]])
    edges = np.array([(0, 1), (0, 2), (1, 0), (2, 0), (2, 3), (3, 2), (3, 4), (4, 3), (6, 4), (6, 6)])
    parts = {}
    for key, m in (("allx", allx), ("tx", tx)):
        parts.update({f"{key}_data": m.data, f"{key}_indices": m.indices, f"{key}_indptr": m.indptr,
                      f"{key}_shape": np.array(m.shape)})
    np.savez(folder / "cora_planetoid_converted.npz", **parts,
             ally=np.eye(3, dtype=np.int32)[[0, 1, 1, 2]], ty=np.eye(3, dtype=np.int32)[[1, 0]],
             graph_edges=edges, graph_num_keys=np.array(7), test_index=np.array([6, 4]))
    g = D.load_graph("cora")
    assert g.source.endswith("cora_planetoid_converted.npz")
    np.testing.assert_array_equal(g.x, from_ind.x)
    np.testing.assert_array_equal(g.labels, from_ind.labels)
    assert (g.adj != from_ind.adj).nnz == 0


def test_restricted_unpickler_refuses_other_objects(tmp_path):
    class Evil:
        def __reduce__(self):
            return (os.getcwd, ())

    path = tmp_path / "ind.cora.graph"
    path.write_bytes(pickle.dumps(Evil(), protocol=2))
    with pytest.raises(DataFormatError, match="refused"):
        D._read_planetoid_pickle(path)


def test_gnn_benchmark_npz_loader(tmp_path, monkeypatch):
    folder = tmp_path / "graphs" / "npz"
    folder.mkdir(parents=True)
    adj = sp.csr_matrix(np.array([[0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 0], [1, 0, 0, 0]], dtype=np.float32))
    attr = sp.csr_matrix(np.array([[1, 0], [0, 2], [3, 0], [0, 0]], dtype=np.float32))
    np.savez(folder / "amazon_electronics_photo.npz", adj_data=adj.data, adj_indices=adj.indices,
             adj_indptr=adj.indptr, adj_shape=np.array(adj.shape), attr_data=attr.data,
             attr_indices=attr.indices, attr_indptr=attr.indptr, attr_shape=np.array(attr.shape),
             labels=np.array([0, 1, 1, 0]))
    monkeypatch.setenv("REPRO_DATA", str(tmp_path))
    g = D.load_graph("amazon_photo")
    np.testing.assert_array_equal(g.x, attr.toarray())
    np.testing.assert_array_equal(g.adj.toarray(), ((adj + adj.T) > 0).toarray().astype(np.float32))
    np.savez(folder / "amazon_electronics_computers.npz", labels=np.array([0, 1]))
    with pytest.raises(DataFormatError, match="missing keys"):
        D.load_graph("amazon_computers")


def test_missing_dataset_names_where_and_how(tmp_path, monkeypatch):
    monkeypatch.setenv("REPRO_DATA", str(tmp_path))
    monkeypatch.setenv("REPRO_OFFLINE", "1")
    monkeypatch.setattr(core, "DATA_DIR", tmp_path / "nodata")
    with pytest.raises(DataMissingError, match="(?s)'pubmed' not found.*REPRO_OFFLINE=1.*kimiyoung/planetoid"):
        D.load_graph("pubmed")
    with pytest.raises(ValueError, match="unknown dataset"):
        D.load_graph("dblp")


def test_cora_without_data_and_network_fails_fast_with_one_clear_error(tmp_path, monkeypatch):
    """REPRO_DATA empty, no network: one DataMissingError naming the dataset, the URL and
    REPRO_DATA, within seconds, and no half-written file left behind."""
    monkeypatch.setenv("REPRO_DATA", "")
    monkeypatch.delenv("REPRO_OFFLINE", raising=False)
    monkeypatch.setattr(core, "DATA_DIR", tmp_path / "data")
    calls = []

    def no_network(url, timeout=None):
        calls.append(url)
        raise urllib.error.URLError("[Errno -2] Name or service not known")
    monkeypatch.setattr(core.urllib.request, "urlopen", no_network)
    t0 = time.monotonic()
    with pytest.raises(DataMissingError) as exc:
        D.load_graph("cora")
    assert time.monotonic() - t0 < 30
    msg = str(exc.value)
    assert "dataset 'cora' not found" in msg and "REPRO_DATA" in msg and "Automatic download failed" in msg
    assert PLANETOID_URL_PREFIX in msg and "ind.cora.x" in msg
    assert len(calls) == 1                              # gives up at the first file
    left = list((tmp_path / "data").rglob("*")) if (tmp_path / "data").exists() else []
    assert not [p for p in left if p.is_file()]


def test_cora_download_is_verified_by_git_blob_id(tmp_path, monkeypatch):
    """The download path on tiny Planetoid files served as file:// URLs: verified, then loaded; a
    tampered file is refused and removed."""
    served = tmp_path / "served"
    _write_tiny_planetoid(served)
    blobs = {f"ind.cora.{p}": core.git_blob_sha1(served / f"ind.cora.{p}") for p in D.PLANETOID_PARTS}
    monkeypatch.setattr(D, "PLANETOID_BLOBS", {**D.PLANETOID_BLOBS, **blobs})
    monkeypatch.setattr(D, "PLANETOID_URL", served.as_uri() + "/{name}")
    monkeypatch.setenv("REPRO_DATA", str(tmp_path / "empty"))
    monkeypatch.delenv("REPRO_OFFLINE", raising=False)
    monkeypatch.setattr(core, "DATA_DIR", tmp_path / "data")
    g = D.load_graph("cora")
    assert g.num_nodes == 7 and g.source == str(tmp_path / "data" / "graphs" / "planetoid")
    assert sorted(p.name for p in (tmp_path / "data" / "graphs" / "planetoid").iterdir()) == sorted(blobs)
    (served / "ind.citeseer.x").write_bytes(b"tampered")
    monkeypatch.setattr(D, "PLANETOID_BLOBS", {**D.PLANETOID_BLOBS, "ind.citeseer.x": "0" * 40})
    with pytest.raises(ChecksumError, match="ind.citeseer.x"):
        D.load_graph("citeseer")
    assert not list((tmp_path / "data" / "graphs" / "planetoid").glob("*citeseer*"))


def test_truncated_graph_files_are_one_format_error_naming_the_file(tmp_path, monkeypatch):
    folder = tmp_path / "graphs" / "planetoid"
    _write_tiny_planetoid(folder)
    raw = (folder / "ind.cora.allx").read_bytes()
    (folder / "ind.cora.allx").write_bytes(raw[: len(raw) // 2])
    monkeypatch.setenv("REPRO_DATA", str(tmp_path))
    with pytest.raises(DataFormatError, match=r"ind\.cora\.allx.*truncated or corrupt"):
        D.load_graph("cora")
    npz = tmp_path / "graphs" / "npz"
    npz.mkdir(parents=True)
    buf = io.BytesIO()
    np.savez(buf, adj_data=np.ones(3), labels=np.arange(3))
    (npz / "amazon_electronics_photo.npz").write_bytes(buf.getvalue()[:-40])
    with pytest.raises(DataFormatError, match=r"amazon_electronics_photo\.npz.*truncated or corrupt"):
        D.load_graph("amazon_photo")


def test_anomaly_labels_smallest_class_and_minmax():
    labels = np.array([0, 0, 0, 1, 1, 2, 2, 2, 2, -1])
    np.testing.assert_array_equal(D.anomaly_labels(labels), [0, 0, 0, 1, 1, 0, 0, 0, 0, -1])
    x = np.array([[1.0, 5.0, 2.0], [3.0, 5.0, 4.0], [2.0, 5.0, 0.0]])
    x01 = D.minmax_01(x)
    assert x01.min() == 0.0 and x01.max() == 1.0
    np.testing.assert_allclose(x01[:, 0], [0, 1, 0.5])
    np.testing.assert_allclose(x01[:, 1], 0)               # constant attribute -> 0


def test_split_sizes_disjoint_stratified_and_seeded():
    y = np.r_[np.zeros(930), np.ones(70), -np.ones(5)].astype(int)
    s = D.split_nodes(y, 0.05, 0.1, seed=3, stratified=True)
    n = len(y)
    assert abs(len(s.labelled) - 0.05 * n) <= 2 and abs(len(s.val) - 0.1 * n) <= 2
    all_idx = np.r_[s.labelled, s.val, s.test]
    assert len(np.unique(all_idx)) == len(all_idx) == 1000  # disjoint; unlabelled-class nodes left out
    assert (y[all_idx] >= 0).all()
    assert y[s.labelled].sum() == round(0.05 * n * 0.07)    # anomaly rate kept in the labelled set
    s2 = D.split_nodes(y, 0.05, 0.1, seed=3, stratified=True)
    np.testing.assert_array_equal(s.labelled, s2.labelled)
    assert not np.array_equal(s.labelled, D.split_nodes(y, 0.05, 0.1, seed=4, stratified=True).labelled)
    with pytest.raises(ValueError):
        D.split_nodes(y, 0.5, 0.6, seed=0, stratified=True)
    with pytest.raises(ValueError, match="too few"):
        D.split_nodes(np.r_[np.zeros(50), np.ones(2)].astype(int), 0.3, 0.3, seed=0, stratified=True)


@pytest.mark.data
def test_real_cora_and_citeseer_match_the_paper_sizes():
    try:
        cora, cite = D.load_graph("cora"), D.load_graph("citeseer")
    except DataMissingError:
        pytest.skip("Cora/Citeseer not found (set REPRO_DATA)")
    # paper, Sec. 5.1: 2,708 / 3,327 nodes, 1,433 / 3,703 attributes, anomaly rates 0.06 / 0.07
    assert cora.x.shape == (2708, 1433) and cite.x.shape == (3327, 3703)
    for g, rate in ((cora, 0.06), (cite, 0.07)):
        y = D.anomaly_labels(g.labels)
        assert int(100 * y[y >= 0].sum() / g.num_nodes) == int(100 * rate)
        assert set(np.unique(D.minmax_01(g.x))) <= {0.0, 1.0}
    assert (cite.labels < 0).sum() == 15


def test_random_split_is_plain_and_has_both_classes():
    y = np.r_[np.zeros(950), np.ones(50)].astype(int)
    s = D.split_nodes(y, 0.025, 0.1, seed=0, stratified=False)
    assert len(s.labelled) == 25 and len(s.val) == 100 and len(s.test) == 875
    for part in (s.labelled, s.val, s.test):
        assert set(y[part]) == {0, 1}
    rates = [y[D.split_nodes(y, 0.025, 0.1, seed=k, stratified=False).labelled].sum() for k in range(20)]
    assert len(set(rates)) > 1  # the labelled anomaly count varies, unlike the stratified split
