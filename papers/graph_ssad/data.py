"""Attributed graphs of the paper and its anomaly-detection protocol (Sec. 5.1).

Datasets (the paper's five):

* ``cora``, ``citeseer``, ``pubmed``: the Planetoid files of Yang et al. (2016)
  (kimiyoung/planetoid, 2,708 / 3,327 / 19,717 nodes, the node counts the paper reports).
  Looked for as the pickle-free ``<name>_planetoid_converted.npz`` (this project's offline copy,
  see ``$REPRO_DATA/graphs/SOURCE.md``) or as the original ``ind.<name>.*`` files. The
  original files are Python-2 pickles; they are read with a *restricted* unpickler that only
  builds scipy CSR matrices, numpy arrays, lists and a defaultdict (never arbitrary objects).
* ``amazon_photo``, ``amazon_computers``: gnn-benchmark npz files (Shchur et al., 2018),
  ``amazon_electronics_{photo,computers}.npz``.

When a graph is not found it is downloaded on first use (unless ``REPRO_OFFLINE=1``): the files
are fetched from the two GitHub repositories at pinned commits and verified against their git
blob ids (SHA-1 of the blob; the repositories publish no other checksum), written to
``data/graphs/...`` only once verified (``common.data.core``).

Protocol (paper, Sec. 5.1): the smallest class is the anomalous class, every other class is
normal; attributes are rescaled to [0, 1] (per attribute, min-max over all nodes); the labelled
nodes are ``label_frac`` of all nodes, the validation nodes 10 %, the rest are test nodes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from common.data import DataFormatError, DataMissingError, Resource, find_files, find_or_fetch, reading
from common.data.core import (
    DATA_DIR,  # noqa: F401 - where downloads land (kept for callers of D.DATA_DIR)
    register_dataset,
)
from common.data.safe_pickle import restricted_loads

PLANETOID_COMMIT = "af6abf468a772cc055bec88c52e4d6f51b7c37e3"
PLANETOID_URL = "https://raw.githubusercontent.com/kimiyoung/planetoid/{commit}/data/{name}"
GNN_BENCHMARK_COMMIT = "1e72912a0810cdf27ae54fd589a3b43358a2b161"
GNN_BENCHMARK_URL = "https://raw.githubusercontent.com/shchur/gnn-benchmark/{commit}/data/npz/{name}"
PLANETOID_PARTS = ("x", "y", "tx", "ty", "allx", "ally", "graph", "test.index")

# git blob ids (sha1 of "blob <size>\0" + content) at the pinned commits.
PLANETOID_BLOBS = {
    "ind.cora.allx": "44d53b1fece343538e45592caac521d73c6f98d6",
    "ind.cora.ally": "04fbd0b083d09341fcf16b395c642329637f0542",
    "ind.cora.graph": "4d3bf85dfc8b1c105a2c995597a1b3eed6947925",
    "ind.cora.test.index": "ded8092db4cd767a367eebe09003b954a5316f24",
    "ind.cora.tx": "6e856d777401ee15dc8619db76c97d0a40ba2d60",
    "ind.cora.ty": "da1734ab670b5c8ecee78a9c30b35566df916f4b",
    "ind.cora.x": "c4a91d008245403e7f26aa616b437191509793c0",
    "ind.cora.y": "58e30ef120d3553cfaac33ff28c6b5436dbef661",
    "ind.citeseer.allx": "592091071ac35b78599c722d0e60b1c655711728",
    "ind.citeseer.ally": "7503f81a0b6ac1cc21cb5a97073542a6b1dfe99c",
    "ind.citeseer.graph": "a01dca663d0103c130f525017a4a9c313037e286",
    "ind.citeseer.test.index": "62d9e3d5ed53c66b069125af98529d76c70d9b3e",
    "ind.citeseer.tx": "b2aff18aa1fc6f4f5e8c64db7643b59b24e42584",
    "ind.citeseer.ty": "3795f79df0cd1123f4478b77c148a5fbacc4cefb",
    "ind.citeseer.x": "f094104a66f2689ffbd01085fe6a856689e9db9e",
    "ind.citeseer.y": "e857ac49b611da98e101a068cf4855350274f68a",
    "ind.pubmed.allx": "3b86bccf08111c37c632a9dd8ab63db25ea76361",
    "ind.pubmed.ally": "4c8bcdc80882dd225fe4dd4fafd723baa616ac97",
    "ind.pubmed.graph": "76eb87e628a6b9d43fc31ea42c8c6c8f3e52b404",
    "ind.pubmed.test.index": "41f6befcb7750cc4858cb852f2b349a9598cb2f4",
    "ind.pubmed.tx": "eee4f3c988fde0da87a9ec7b01ca5e7863c1b1f1",
    "ind.pubmed.ty": "225a0bb9bb6430e3925d04688daf6a0da964c07a",
    "ind.pubmed.x": "16c0eca8d2b3297014ff80327416f9332eda10d7",
    "ind.pubmed.y": "e86670576c85340eeb2271b3c918bfa89322b2cf",
}
GNN_BENCHMARK_FILES = {
    "amazon_photo": ("amazon_electronics_photo.npz", "97323743cb56aca9dd611f5b4b46862c1c9c6bd9"),
    "amazon_computers": ("amazon_electronics_computers.npz", "8120e4148a330b3fafe37c4476823302d9d834b9"),
}
PLANETOID_DATASETS = ("cora", "citeseer", "pubmed")
DATASETS = PLANETOID_DATASETS + tuple(GNN_BENCHMARK_FILES)


@dataclass(frozen=True)
class AttributedGraph:
    """An undirected attributed graph with node classes (-1 = node without a class)."""

    name: str
    x: np.ndarray
    """(n, d) float32 node attributes."""
    adj: sp.csr_matrix
    """(n, n) symmetric 0/1 adjacency without self-loops."""
    labels: np.ndarray
    """(n,) int64 class per node, -1 where the dataset gives none."""
    source: str

    @property
    def num_nodes(self) -> int:
        return int(self.x.shape[0])


@dataclass(frozen=True)
class AnomalySplit:
    """One random split of the anomaly task (indices into the graph's nodes)."""

    y: np.ndarray
    """(n,) 1 = anomalous (smallest class), 0 = normal, -1 = no class (never used)."""
    labelled: np.ndarray
    val: np.ndarray
    test: np.ndarray


# --------------------------------------------------------------------------------------
# Sources, verified by git blob id at the pinned commits.

PLANETOID_SUBDIRS = ["graphs/planetoid", "planetoid"]
NPZ_SUBDIRS = ["graphs/npz", "npz"]


def planetoid_resources(name: str) -> list[Resource]:
    return [Resource(f"ind.{name}.{p}", PLANETOID_URL.format(commit=PLANETOID_COMMIT, name=f"ind.{name}.{p}"),
                     "gitblob:" + PLANETOID_BLOBS[f"ind.{name}.{p}"]) for p in PLANETOID_PARTS]


def gnn_benchmark_resource(name: str) -> Resource:
    fname, blob = GNN_BENCHMARK_FILES[name]
    return Resource(fname, GNN_BENCHMARK_URL.format(commit=GNN_BENCHMARK_COMMIT, name=fname), "gitblob:" + blob)


def _how(name: str) -> str:
    if name in PLANETOID_DATASETS:
        return (f"downloaded automatically on first use (ind.{name}.* from github.com/kimiyoung/planetoid, "
                f"commit {PLANETOID_COMMIT[:7]}, into data/graphs/planetoid/) unless REPRO_OFFLINE=1; or put "
                f"the ind.{name}.* files (or {name}_planetoid_converted.npz) in $REPRO_DATA/graphs/planetoid/")
    return (f"downloaded automatically on first use ({GNN_BENCHMARK_FILES[name][0]} from "
            f"github.com/shchur/gnn-benchmark, commit {GNN_BENCHMARK_COMMIT[:7]}, into data/graphs/npz/) unless "
            f"REPRO_OFFLINE=1; or put the file in $REPRO_DATA/graphs/npz/")


# --------------------------------------------------------------------------------------
# Planetoid.


def _read_planetoid_pickle(path: Path):
    """A Planetoid part (Python-2 pickle) with a restricted unpickler: numpy arrays, lists, a
    defaultdict and scipy CSR matrices only; any other class is refused."""
    with reading(path, "Planetoid pickle"):
        return restricted_loads(path.read_bytes(), str(path), extra={
            ("scipy.sparse.csr", "csr_matrix"): sp.csr_matrix, ("scipy.sparse._csr", "csr_matrix"): sp.csr_matrix})


def _csr(d, key: str) -> sp.csr_matrix:
    return sp.csr_matrix((d[f"{key}_data"], d[f"{key}_indices"], d[f"{key}_indptr"]),
                         shape=tuple(d[f"{key}_shape"]))


def assemble_planetoid(name: str, allx, ally, tx, ty, edges: np.ndarray, num_nodes: int,
                       test_index: np.ndarray, source: str) -> AttributedGraph:
    """Planetoid parts -> one graph, as in Kipf & Welling's loader: node ``test_index[i]`` has
    ``tx[i]``; ids between min and max test index that are not listed (15 in Citeseer) get
    zero attributes and no class (label -1)."""
    allx = sp.csr_matrix(allx)
    tx = sp.csr_matrix(tx)
    n_all = allx.shape[0]
    if num_nodes < n_all + 1 or int(test_index.max()) >= num_nodes or len(test_index) != tx.shape[0]:
        raise DataFormatError(f"{name}: inconsistent Planetoid parts (allx {allx.shape}, tx {tx.shape}, "
                              f"{num_nodes} graph nodes, max test index {int(test_index.max())})")
    x = np.zeros((num_nodes, allx.shape[1]), dtype=np.float32)
    x[:n_all] = allx.toarray()
    x[test_index] = tx.toarray()
    labels = np.full(num_nodes, -1, dtype=np.int64)
    ally = np.asarray(ally)
    ty = np.asarray(ty)
    has = ally.sum(1) > 0
    labels[:n_all][has] = ally.argmax(1)[has]
    has_t = ty.sum(1) > 0
    labels[test_index[has_t]] = ty.argmax(1)[has_t]
    edges = np.asarray(edges, dtype=np.int64).reshape(-1, 2)
    if edges.size and (edges.min() < 0 or edges.max() >= num_nodes):
        raise DataFormatError(f"{name}: edge endpoint outside 0..{num_nodes - 1}")
    return AttributedGraph(name, x, symmetric_adjacency(edges, num_nodes), labels, source)


def symmetric_adjacency(edges: np.ndarray, n: int) -> sp.csr_matrix:
    """Undirected 0/1 adjacency without self-loops from an (E, 2) edge list."""
    a = sp.coo_matrix((np.ones(len(edges), dtype=np.float32), (edges[:, 0], edges[:, 1])), shape=(n, n)).tocsr()
    a = ((a + a.T) > 0).astype(np.float32).tolil()
    a.setdiag(0)
    a = a.tocsr()
    a.eliminate_zeros()
    return a


def _planetoid_from_converted(name: str, path: Path) -> AttributedGraph:
    with reading(path, "Planetoid npz"), np.load(path, allow_pickle=False) as d:  # plain arrays, no pickle
        parts = (_csr(d, "allx"), d["ally"], _csr(d, "tx"), d["ty"], d["graph_edges"], int(d["graph_num_keys"]),
                 d["test_index"].astype(np.int64))
    return assemble_planetoid(name, *parts, str(path))


def _planetoid_from_ind(name: str, folder: Path) -> AttributedGraph:
    parts = {p: folder / f"ind.{name}.{p}" for p in PLANETOID_PARTS}
    objs = {p: _read_planetoid_pickle(parts[p]) for p in ("allx", "ally", "tx", "ty", "graph")}
    with reading(parts["test.index"]):
        test_index = np.loadtxt(parts["test.index"], dtype=np.int64).reshape(-1)
    graph = objs["graph"]
    if not isinstance(graph, dict):
        raise DataFormatError(f"{parts['graph']}: expected a dict of neighbour lists")
    edges = np.array([(int(k), int(v)) for k, vs in graph.items() for v in vs], dtype=np.int64)
    num_nodes = max(len(graph), int(edges.max()) + 1 if edges.size else 0)
    return assemble_planetoid(name, objs["allx"], objs["ally"], objs["tx"], objs["ty"], edges, num_nodes,
                              test_index, str(folder))


def load_planetoid(name: str, download: bool | None = None) -> AttributedGraph:
    """The converted npz when present (offline copy), else the original ``ind.*`` files, found or
    downloaded (verified) into ``data/graphs/planetoid/``."""
    try:
        _, (path,) = find_files(name, PLANETOID_SUBDIRS, [f"{name}_planetoid_converted.npz"])
        return _planetoid_from_converted(name, path)
    except DataMissingError:
        pass
    folder, _ = find_or_fetch(name, PLANETOID_SUBDIRS, planetoid_resources(name), _how(name), download=download)
    return _planetoid_from_ind(name, folder)


# --------------------------------------------------------------------------------------
# gnn-benchmark npz (Amazon).


def read_gnn_benchmark_npz(name: str, path: Path) -> AttributedGraph:
    """``adj_*`` / ``attr_*`` CSR components and ``labels`` (gnn-benchmark format), no pickle."""
    with reading(path, "gnn-benchmark npz"), np.load(path, allow_pickle=False) as d:
        keys = set(d.files)
        need = {"adj_data", "adj_indices", "adj_indptr", "adj_shape", "attr_data", "attr_indices",
                "attr_indptr", "attr_shape", "labels"}
        if not need <= keys:
            raise DataFormatError(f"{path}: missing keys {sorted(need - keys)} (gnn-benchmark npz expected)")
        adj = _csr(d, "adj").tocoo()
        x = _csr(d, "attr").toarray().astype(np.float32)
        labels = d["labels"].astype(np.int64)
    edges = np.stack([adj.row, adj.col], 1).astype(np.int64)
    if len(labels) != x.shape[0] or adj.shape[0] != x.shape[0]:
        raise DataFormatError(f"{path}: {x.shape[0]} attribute rows, {adj.shape[0]} adjacency rows, "
                              f"{len(labels)} labels")
    return AttributedGraph(name, x, symmetric_adjacency(edges, x.shape[0]), labels, str(path))


def load_gnn_benchmark(name: str, download: bool | None = None) -> AttributedGraph:
    _, (path,) = find_or_fetch(name, NPZ_SUBDIRS, [gnn_benchmark_resource(name)], _how(name), download=download)
    return read_gnn_benchmark_npz(name, path)


def load_graph(name: str, download: bool | None = None) -> AttributedGraph:
    """One of the paper's five graphs (see the module docstring)."""
    if name in PLANETOID_DATASETS:
        return load_planetoid(name, download)
    if name in GNN_BENCHMARK_FILES:
        return load_gnn_benchmark(name, download)
    raise ValueError(f"unknown dataset {name!r}; valid: {', '.join(DATASETS)}")


def _locate(name: str) -> str:
    if name in PLANETOID_DATASETS:
        try:
            return str(find_files(name, PLANETOID_SUBDIRS, [f"{name}_planetoid_converted.npz"])[1][0])
        except DataMissingError:
            return str(find_files(name, PLANETOID_SUBDIRS, [r.name for r in planetoid_resources(name)],
                                  how=_how(name))[0])
    return str(find_files(name, NPZ_SUBDIRS, [GNN_BENCHMARK_FILES[name][0]], how=_how(name))[1][0])


_SIZES = {"cora": "2,708 nodes", "citeseer": "3,327 nodes", "pubmed": "19,717 nodes",
          "amazon_photo": "7,650 nodes", "amazon_computers": "13,752 nodes"}
for _name in DATASETS:
    register_dataset(_name, f"{_name} attributed graph ({_SIZES[_name]}), "
                     f"{'Planetoid' if _name in PLANETOID_DATASETS else 'gnn-benchmark npz'}", _how(_name),
                     paper="graph_ssad", locate=lambda n=_name: _locate(n),
                     sources=[r.url for r in (planetoid_resources(_name) if _name in PLANETOID_DATASETS
                                              else [gnn_benchmark_resource(_name)])])


# --------------------------------------------------------------------------------------
# The anomaly-detection protocol.


def minmax_01(x: np.ndarray) -> np.ndarray:
    """Rescale every attribute to [0, 1] over all nodes (constant attributes become 0)."""
    lo = x.min(0, keepdims=True)
    span = x.max(0, keepdims=True) - lo
    return ((x - lo) / np.where(span > 0, span, 1.0)).astype(np.float32)


def anomaly_labels(labels: np.ndarray) -> np.ndarray:
    """1 for the smallest class (anomalous), 0 for the others, -1 for nodes without a class."""
    known = labels >= 0
    counts = np.bincount(labels[known])
    present = np.flatnonzero(counts > 0)
    if len(present) < 2:
        raise ValueError("the anomaly task needs at least two classes")
    smallest = present[np.argmin(counts[present])]
    y = np.where(known, (labels == smallest).astype(np.int64), -1)
    return y


def split_nodes(y: np.ndarray, label_frac: float, val_frac: float, seed: int,
                stratified: bool = False) -> AnomalySplit:
    """Random split: ``label_frac`` and ``val_frac`` of all nodes labelled / validation, rest test.

    Default: a plain random draw (the paper's protocol), redrawn with the same generator until the
    labelled, validation and test nodes each hold both classes (the AUC term needs a labelled
    anomaly; at 2.5 % labelled on Cora a draw has none about 1 time in 100).
    ``stratified=True`` keeps the anomaly rate in every part instead (an ablation).
    Nodes without a class are never drawn.
    """
    if not 0.0 < label_frac < 1.0 or not 0.0 < val_frac < 1.0 or label_frac + val_frac >= 1.0:
        raise ValueError(f"need 0 < label_frac, val_frac and label_frac + val_frac < 1; "
                         f"got {label_frac}, {val_frac}")
    n = len(y)
    rng = np.random.default_rng(seed)
    n_lab, n_val = int(round(label_frac * n)), int(round(val_frac * n))
    eligible = np.flatnonzero(y >= 0)
    if not stratified:
        if n_lab + n_val >= len(eligible):
            raise ValueError(f"{len(eligible)} nodes with a class, too few for {n_lab} + {n_val}")
        for _ in range(1000):
            idx = rng.permutation(eligible)
            lab, val, test = idx[:n_lab], idx[n_lab:n_lab + n_val], idx[n_lab + n_val:]
            if all(len(np.unique(y[part])) == 2 for part in (lab, val, test)):
                return AnomalySplit(y, np.sort(lab), np.sort(val), np.sort(test))
        raise ValueError("no random split with both classes in every part after 1000 draws")
    parts: list[list[np.ndarray]] = [[], [], []]
    for cls in (0, 1):
        idx = rng.permutation(eligible[y[eligible] == cls])
        share = len(idx) / len(eligible)
        k_lab = max(1, int(round(n_lab * share)))
        k_val = max(1, int(round(n_val * share)))
        if k_lab + k_val >= len(idx):
            raise ValueError(f"class {cls} has {len(idx)} nodes, too few for {k_lab} labelled + {k_val} validation")
        parts[0].append(idx[:k_lab])
        parts[1].append(idx[k_lab:k_lab + k_val])
        parts[2].append(idx[k_lab + k_val:])
    lab, val, test = (np.sort(np.concatenate(p)) for p in parts)
    return AnomalySplit(y, lab, val, test)
