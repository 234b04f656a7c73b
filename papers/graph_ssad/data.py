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

Users with internet set ``REPRO_DOWNLOAD=1``: the files are fetched from the two GitHub
repositories at pinned commits and verified against their git blob ids (SHA-1 of the blob; the
repositories publish no other checksum), written to ``data/graphs/...`` only once verified.

Protocol (paper, Sec. 5.1): the smallest class is the anomalous class, every other class is
normal; attributes are rescaled to [0, 1] (per attribute, min-max over all nodes); the labelled
nodes are ``label_frac`` of all nodes, the validation nodes 10 %, the rest are test nodes.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import shutil
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from common.data import DataFormatError, DataMissingError, find_files
from common.data.core import DATA_DIR, download_enabled

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
# Downloads verified by git blob id.


def git_blob_sha1(path: Path) -> str:
    """The git object id of a file's content (what ``git hash-object`` prints)."""
    h = hashlib.sha1()
    h.update(b"blob %d\0" % path.stat().st_size)
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def download_git_blob(url: str, dest: Path, blob_sha1: str, opener=None) -> Path:
    """Download to ``dest.part``, check the git blob id, then rename; a mismatch deletes it."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    open_url = opener or (lambda u: urllib.request.urlopen(u, timeout=60))  # noqa: S310
    try:
        with open_url(url) as resp, open(part, "wb") as fh:
            shutil.copyfileobj(resp, fh)
        got = git_blob_sha1(part)
        if got != blob_sha1:
            raise DataFormatError(f"{dest.name}: git blob id {got} does not match the pinned {blob_sha1}")
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    os.replace(part, dest)
    return dest


# --------------------------------------------------------------------------------------
# Planetoid.


class _PlanetoidUnpickler(pickle.Unpickler):
    """Builds only what the Planetoid files contain; any other class is refused."""

    ALLOWED = {
        ("scipy.sparse.csr", "csr_matrix"), ("scipy.sparse._csr", "csr_matrix"),
        ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"), ("numpy", "dtype"), ("collections", "defaultdict"),
        ("__builtin__", "list"), ("builtins", "list"),
        ("copy_reg", "_reconstructor"), ("copyreg", "_reconstructor"),
        ("__builtin__", "object"), ("builtins", "object"),
        ("_codecs", "encode"),  # bytes inside protocol-2 pickles written by Python 3
    }

    def find_class(self, module, name):
        if (module, name) not in self.ALLOWED:
            raise DataFormatError(f"Planetoid file asks for {module}.{name}; refused (not a Planetoid object)")
        if name == "csr_matrix":
            return sp.csr_matrix
        if name == "_reconstruct":
            from numpy._core.multiarray import _reconstruct
            return _reconstruct
        return super().find_class(module, name)


def _read_planetoid_pickle(path: Path):
    with open(path, "rb") as fh:
        return _PlanetoidUnpickler(fh, encoding="latin1").load()


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
    d = np.load(path)  # plain arrays, no pickle
    return assemble_planetoid(name, _csr(d, "allx"), d["ally"], _csr(d, "tx"), d["ty"], d["graph_edges"],
                              int(d["graph_num_keys"]), d["test_index"].astype(np.int64), str(path))


def _planetoid_from_ind(name: str, folder: Path) -> AttributedGraph:
    parts = {p: folder / f"ind.{name}.{p}" for p in PLANETOID_PARTS}
    objs = {p: _read_planetoid_pickle(parts[p]) for p in ("allx", "ally", "tx", "ty", "graph")}
    test_index = np.loadtxt(parts["test.index"], dtype=np.int64).reshape(-1)
    graph = objs["graph"]
    if not isinstance(graph, dict):
        raise DataFormatError(f"{parts['graph']}: expected a dict of neighbour lists")
    edges = np.array([(int(k), int(v)) for k, vs in graph.items() for v in vs], dtype=np.int64)
    num_nodes = max(len(graph), int(edges.max()) + 1 if edges.size else 0)
    return assemble_planetoid(name, objs["allx"], objs["ally"], objs["tx"], objs["ty"], edges, num_nodes,
                              test_index, str(folder))


def load_planetoid(name: str, download: bool | None = None) -> AttributedGraph:
    how = (f"set REPRO_DOWNLOAD=1 to fetch ind.{name}.* from github.com/kimiyoung/planetoid "
           f"(commit {PLANETOID_COMMIT[:7]}) into {DATA_DIR / 'graphs' / 'planetoid'}")
    try:
        _, (path,) = find_files(name, ["graphs/planetoid", "planetoid"], [f"{name}_planetoid_converted.npz"])
        return _planetoid_from_converted(name, path)
    except DataMissingError:
        pass
    names = [f"ind.{name}.{p}" for p in PLANETOID_PARTS]
    try:
        folder, _ = find_files(name, ["graphs/planetoid", "planetoid"], names, how=how)
    except DataMissingError:
        if not download_enabled(download):
            raise
        folder = DATA_DIR / "graphs" / "planetoid"
        for fname in names:
            dest = folder / fname
            if not (dest.is_file() and git_blob_sha1(dest) == PLANETOID_BLOBS[fname]):
                download_git_blob(PLANETOID_URL.format(commit=PLANETOID_COMMIT, name=fname), dest,
                                  PLANETOID_BLOBS[fname])
    return _planetoid_from_ind(name, folder)


# --------------------------------------------------------------------------------------
# gnn-benchmark npz (Amazon).


def read_gnn_benchmark_npz(name: str, path: Path) -> AttributedGraph:
    """``adj_*`` / ``attr_*`` CSR components and ``labels`` (gnn-benchmark format), no pickle."""
    with np.load(path, allow_pickle=False) as d:
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
    fname, blob = GNN_BENCHMARK_FILES[name]
    how = (f"set REPRO_DOWNLOAD=1 to fetch {fname} from github.com/shchur/gnn-benchmark "
           f"(commit {GNN_BENCHMARK_COMMIT[:7]}) into {DATA_DIR / 'graphs' / 'npz'}")
    try:
        _, (path,) = find_files(name, ["graphs/npz", "npz"], [fname], how=how)
    except DataMissingError:
        if not download_enabled(download):
            raise
        path = download_git_blob(GNN_BENCHMARK_URL.format(commit=GNN_BENCHMARK_COMMIT, name=fname),
                                 DATA_DIR / "graphs" / "npz" / fname, blob)
    return read_gnn_benchmark_npz(name, path)


def load_graph(name: str, download: bool | None = None) -> AttributedGraph:
    """One of the paper's five graphs (see the module docstring)."""
    if name in PLANETOID_DATASETS:
        return load_planetoid(name, download)
    if name in GNN_BENCHMARK_FILES:
        return load_gnn_benchmark(name, download)
    raise ValueError(f"unknown dataset {name!r}; valid: {', '.join(DATASETS)}")


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
