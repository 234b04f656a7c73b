"""Data of meta_annotators: N-way tasks whose support labels come from several noisy annotators.

Synthetic annotators on real classes (``omniglot_small``, ``omniglot``, ``fmnist``, ``miniimagenet``): per
seed the classes are split into meta-training and held-out classes (Omniglot: whole alphabets). A task
draws N classes, K support and ``n_query`` query instances per class; J annotators are simulated
(``sample_confusions``): annotator j has accuracy a_j ~ U(acc_low, acc_high) on every class and spreads
its errors over the wrong labels by a Dir(1) draw per class (ours); with ``labels_per_item`` = 0 every
annotator labels every support instance, else that many distinct random annotators label each.
Query labels are clean. Test tasks use held-out classes only.

Real crowds (``labelme``, ``music``, ``sentiment``, files described in ``$REPRO_DATA/crowd/SOURCE.md``):
test tasks draw N classes, K support instances per class among the crowd-annotated items that carry at
least one label inside those classes, with their real annotations (labels outside the task's classes
are dropped; the annotators are those who labelled a support item), and ``n_query`` gold-labelled
queries per class from the other annotated items. Meta-training tasks (ours) come from the dataset's
gold-labelled items that have no crowd labels (LabelMe valid + test, the Music test songs, the
Sentiment test sentences) with simulated annotators, ``labels_per_item`` labels per item.
Features: principal components (``pca_dim``) fitted on the meta-training rows only, scaled to unit
average variance (LabelMe: 512-d VGG16 average-pooled; Music: 124 Marsyas features, standardised;
Sentiment: TF-IDF of the sentences, truncated SVD).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from common.data import DataFormatError, Resource, find_or_fetch, load_fashion_mnist, load_omniglot, reading, uses
from common.data.core import register_dataset
from common.data.images import merge_omniglot
from common.meta.episodes import TaskError, split_classes

SLUG = "meta_annotators"

# ---------------------------------------------------------------------------------------------- crowd files
PLC = "https://raw.githubusercontent.com/fmenat/PyLearningCrowds/0edf617d0357a43b48dc53f10f4181ec0163d4db/data/"
E2E = ("https://raw.githubusercontent.com/shahanaibrahimosu/end-to-end-crowdsourcing/"
       "7653680c475ba8faa5d4a7b104b42a2a5204cef9/data/Music/")
CROWD_FILES = {  # dataset -> [(file, url, sha256)]
    "labelme": [(f, PLC + "LabelMe/" + f, h) for f, h in [
        ("answers.txt", "354c282e10835a59962494acb1d180fe997b65a0aa1e27f870cdb4ef51ef3e2b"),
        ("LabelMe_VGG_avg_train.npy", "0ddfbcbd722aab70e81525a459cc37d47c1d344322b401ee35a3e9b158a209e8"),
        ("LabelMe_VGG_avg_valid.npy", "cb80ce99ef9fc80c666e6b9c43259ee0aac4e0cf82f8ac654b8bb309fb28953d"),
        ("LabelMe_VGG_avg_test.npy", "af407538f702f98e775f233652152cdcb58583c9d4668492308151c126ce7873"),
        ("LabelMe_Z_train.txt", "229556bdc5da327dd7d4e4154ba180969091c83f43cf8cbee3727131c5a062f6"),
        ("LabelMe_Z_valid.txt", "40aba43f903a539b38243c411e214da1f8c696cc47aa59811cc3388cc6899892"),
        ("LabelMe_Z_test.txt", "6d508b638d41fa84b2628615270456df96a49dce18054d201ac6261b03ea77bc")]],
    "music": [(f, E2E + f, h) for f, h in [
        ("music_genre_gold.csv", "28cd73e9bf555e5847de0b0fc4c4998264d4a272d657c452edf2c93c206bda64"),
        ("music_genre_mturk.csv", "20abf70b06d77653742125d8ae57a6b46d3e6d5e0291de4fc9c76d433cd9b834"),
        ("music_genre_test.csv", "952b423483bef4e0aa38b628815232b600a745d028fc8dfe8addd49e616931b8")]],
    "sentiment": [(f, PLC + "Sentiment/" + f, h) for f, h in [
        ("answers.txt", "fb39e4103f326a2798e5a6b7eeb1840beceb2e826a619cc19089c6a24041f82a"),
        ("Sentiment_Z_train.txt", "623ca5a651273e491bbdc39e8a49909323c15df20468780db1b26dd520ed399c"),
        ("Sentiment_Z_test.txt", "261d1edd1bfe337c1d3d62f0df28cedc679e00bce9d6b53f46aa8cce7374b0fd"),
        ("Sentiment_text_train.txt", "bec8026c384e895f48c18e728519aa4dd3f4a362da656623e15d40470def716d"),
        ("Sentiment_text_test.txt", "2da4301784fc621df456c7ece19b1a7f9df2d0735a81d32ffb6f04ebaaf094cd")]],
}
CROWD_SUBDIRS = {"labelme": ("crowd/labelme", "labelme"), "music": ("crowd/music_genre", "music_genre"),
                 "sentiment": ("crowd/sentiment_polarity", "sentiment_polarity")}
CROWD_HOW = ("files of Rodrigues & Pereira's crowdsourcing datasets (LabelMe-AMT, Sentiment: github.com/fmenat/"
             "PyLearningCrowds; Music: github.com/shahanaibrahimosu/end-to-end-crowdsourcing) in $REPRO_DATA/crowd/"
             "<name>/; downloaded automatically on first use (verified by sha256, into data/crowd/) unless "
             "REPRO_OFFLINE=1")


def crowd_paths(name: str, download: bool | None = None) -> dict[str, str]:
    res = [Resource(f, u, f"sha256:{h}") for f, u, h in CROWD_FILES[name]]
    _, paths = find_or_fetch(f"crowd_{name}", CROWD_SUBDIRS[name], res, CROWD_HOW, (), download)
    return {p.name: str(p) for p in paths}


@dataclass(frozen=True)
class CrowdData:
    """Annotated items x (n, D) with annotations ann (n, J) (-1 = none) and gold labels y; gold-labelled
    source items xs, ys without annotations (meta-training)."""
    x: np.ndarray
    ann: np.ndarray
    y: np.ndarray
    xs: np.ndarray
    ys: np.ndarray
    classes: tuple[str, ...]
    name: str


def _txt_ints(path: str) -> np.ndarray:
    with reading(path, "integer matrix"):
        return np.loadtxt(path, dtype=np.int64, ndmin=1)


def _read_labelme(p: dict[str, str]) -> CrowdData:
    ann = _txt_ints(p["answers.txt"])
    x = np.load(p["LabelMe_VGG_avg_train.npy"], allow_pickle=False)
    y = _txt_ints(p["LabelMe_Z_train.txt"])
    xs = np.concatenate([np.load(p[f"LabelMe_VGG_avg_{s}.npy"], allow_pickle=False) for s in ("valid", "test")])
    ys = np.concatenate([_txt_ints(p[f"LabelMe_Z_{s}.txt"]) for s in ("valid", "test")])
    names = ("highway", "insidecity", "tallbuilding", "street", "forest", "coast", "mountain", "opencountry")
    return CrowdData(x, ann, y, xs, ys, names, "labelme")


def _read_music(p: dict[str, str]) -> CrowdData:
    def table(path):
        with reading(path, "Music genre CSV"):
            return np.genfromtxt(path, delimiter=",", dtype=str, skip_header=1)
    gold, mturk, test = (table(p[f]) for f in ("music_genre_gold.csv", "music_genre_mturk.csv", "music_genre_test.csv"))
    classes = tuple(sorted(set(gold[:, -1])))
    cid = {c: i for i, c in enumerate(classes)}
    row = {s: i for i, s in enumerate(gold[:, 0])}
    workers = sorted(set(mturk[:, 1]))
    wid = {w: j for j, w in enumerate(workers)}
    ann = -np.ones((len(gold), len(workers)), dtype=np.int64)
    for song, worker, lab in zip(mturk[:, 0], mturk[:, 1], mturk[:, -1]):
        if song not in row or lab not in cid:
            raise DataFormatError(f"{p['music_genre_mturk.csv']}: answer for unknown song {song!r} or genre {lab!r}")
        ann[row[song], wid[worker]] = cid[lab]
    return CrowdData(gold[:, 1:-1].astype(np.float64), ann, np.array([cid[c] for c in gold[:, -1]]),
                     test[:, 1:-1].astype(np.float64), np.array([cid[c] for c in test[:, -1]]), classes, "music")


def _read_sentiment(p: dict[str, str]) -> CrowdData:
    def lines(path):
        with reading(path, "text lines"), open(path, encoding="utf-8", errors="replace") as fh:
            out = fh.read().split("\n")
        return out[:-1] if out and out[-1] == "" else out
    ann = _txt_ints(p["answers.txt"])
    y, ys = _txt_ints(p["Sentiment_Z_train.txt"]), _txt_ints(p["Sentiment_Z_test.txt"])
    t, ts = lines(p["Sentiment_text_train.txt"]), lines(p["Sentiment_text_test.txt"])
    if len(t) != len(y) or len(ts) != len(ys):
        raise DataFormatError(f"sentiment: {len(t)} / {len(ts)} sentences but {len(y)} / {len(ys)} labels")
    return CrowdData(np.array(t, dtype=object), ann, y, np.array(ts, dtype=object), ys, ("negative", "positive"),
                     "sentiment")


@functools.lru_cache(maxsize=3)
def load_crowd(name: str, download: bool | None = None) -> CrowdData:
    """The raw crowd dataset (LabelMe / Music: feature matrices; Sentiment: sentences)."""
    p = crowd_paths(name, download)
    data = {"labelme": _read_labelme, "music": _read_music, "sentiment": _read_sentiment}[name](p)
    if data.ann.shape[0] != len(data.y) or data.ann.max() >= len(data.classes):
        raise DataFormatError(f"{name}: annotations {data.ann.shape} do not match {len(data.y)} gold labels / "
                              f"{len(data.classes)} classes")
    return data


for _n, _d in [("labelme", "LabelMe-AMT (Rodrigues & Pereira 2018): 1,000 images x 59 annotators, 8 classes, VGG16 "
                "features; 1,688 gold-only images"), ("music", "Music genre MTurk: 700 songs x 44 annotators, 10 "
                "genres, 124 features; 300 gold-only songs"), ("sentiment", "Sentiment polarity MTurk: 4,999 sentences "
                "x 203 annotators; 3,999 gold-only sentences")]:
    register_dataset(f"crowd_{_n}", _d, CROWD_HOW, locate=functools.partial(crowd_paths, _n, False), paper=SLUG,
                     sources=[u for _, u, _ in CROWD_FILES[_n]])
uses(SLUG, "omniglot_small", "omniglot", "fashion_mnist")


# ---------------------------------------------------------------------------------------------- features
def pca_features(x: np.ndarray, fit_rows: np.ndarray, k: int, seed: int, max_fit: int = 5000) -> np.ndarray:
    """``k`` leading principal components fitted on (at most ``max_fit`` random rows of) ``fit_rows``,
    scaled to unit average variance over the k components."""
    rows = np.flatnonzero(fit_rows)
    k = min(k, len(rows) - 1, x.shape[1])
    sub = x[np.random.default_rng(seed).choice(rows, min(max_fit, len(rows)), replace=False)].astype(np.float64)
    mean = sub.mean(0)
    evals, evecs = np.linalg.eigh((sub - mean).T @ (sub - mean) / len(sub))
    top = np.argsort(evals)[::-1][:k]
    return ((x - mean) @ (evecs[:, top] / np.sqrt(evals[top].sum() / k))).astype(np.float32)


@dataclass(frozen=True)
class Pools:
    """Synthetic-annotator data: features x, labels y, meta-training and held-out classes."""
    x: np.ndarray
    y: np.ndarray
    train_classes: np.ndarray
    test_classes: np.ndarray
    name: str


@functools.lru_cache(maxsize=2)
def _images(dataset: str):
    if dataset in ("omniglot_small", "omniglot"):
        ds = (load_omniglot("background_small", 28) if dataset == "omniglot_small"
              else merge_omniglot([load_omniglot("background", 28), load_omniglot("evaluation", 28)], "omniglot"))
        return ds.x.reshape(len(ds.x), -1), ds.y, tuple(c.split("/")[0] for c in ds.classes), ds.name
    if dataset == "fmnist":
        ds = load_fashion_mnist("train")
        return ds.x.reshape(len(ds.x), -1).astype(np.float32) / 255.0, ds.y, None, ds.name
    if dataset == "miniimagenet":
        return load_miniimagenet_features() + (None, "miniimagenet")
    raise TaskError(f"unknown synthetic-annotator dataset {dataset!r}")


MINI_HOW = ("miniImageNet has no official verified download: put features.npz (arrays x (n, D) float32, y (n,) "
            "class ids; e.g. a ResNet's penultimate features of the 100 Ravi & Larochelle classes, 600 images each) "
            "in $REPRO_DATA/miniimagenet/")


def load_miniimagenet_features() -> tuple[np.ndarray, np.ndarray]:
    from common.data.core import find_files
    _, (path,) = find_files("miniimagenet", ("miniimagenet",), ("features.npz",), (), MINI_HOW)
    with reading(path, "miniImageNet features"), np.load(path, allow_pickle=False) as z:
        if "x" not in z or "y" not in z:
            raise DataFormatError(f"{path}: expected arrays x and y")
        return z["x"].astype(np.float32), z["y"].astype(np.int64)


def synthetic_pools(dataset: str, test_frac: float, pca_dim: int, split_seed: int) -> Pools:
    x, y, groups, name = _images(dataset)
    splits = split_classes(y, {"train": 1.0 - test_frac, "test": test_frac}, seed=split_seed, groups=groups)
    if pca_dim:
        x = pca_features(x, np.isin(y, splits["train"]), pca_dim, split_seed)
    return Pools(np.ascontiguousarray(x, dtype=np.float32), np.asarray(y, np.int64), splits["train"], splits["test"],
                 name)


def crowd_features(name: str, pca_dim: int, seed: int) -> CrowdData:
    """Feature matrices of a crowd dataset, fitted on the gold-only (meta-training) items only."""
    d = load_crowd(name)
    if name == "sentiment":
        from sklearn.decomposition import TruncatedSVD
        from sklearn.feature_extraction.text import TfidfVectorizer
        tf = TfidfVectorizer(min_df=2, sublinear_tf=True).fit(d.xs)
        svd = TruncatedSVD(max(pca_dim, 2), random_state=seed).fit(tf.transform(d.xs))
        xa, xs = svd.transform(tf.transform(d.x)), svd.transform(tf.transform(d.xs))
        scale = np.sqrt(xs.var(0).mean())
        xa, xs = (xa - xs.mean(0)) / scale, (xs - xs.mean(0)) / scale
    else:
        xa, xs = d.x.astype(np.float64), d.xs.astype(np.float64)
        mean, std = xs.mean(0), xs.std(0) + 1e-8
        xa, xs = (xa - mean) / std, (xs - mean) / std
        if pca_dim:
            both = pca_features(np.concatenate([xs, xa]), np.r_[np.ones(len(xs)), np.zeros(len(xa))].astype(bool),
                                pca_dim, seed)
            xs, xa = both[: len(xs)], both[len(xs):]
    return CrowdData(xa.astype(np.float32), d.ann, d.y, xs.astype(np.float32), d.ys, d.classes, d.name)


# ---------------------------------------------------------------------------------------------- annotators and tasks
def sample_confusions(rng: np.random.Generator, n_annotators: int, n_classes: int, acc_low: float,
                      acc_high: float) -> np.ndarray:
    """(J, N, N) confusion matrices: row c = a_j e_c + (1 - a_j) q_jc, q_jc ~ Dir(1) on the wrong labels."""
    acc = rng.uniform(acc_low, acc_high, n_annotators)
    wrong = rng.dirichlet(np.ones(n_classes - 1), size=(n_annotators, n_classes))
    theta = np.zeros((n_annotators, n_classes, n_classes))
    off = ~np.eye(n_classes, dtype=bool)
    for j in range(n_annotators):
        theta[j][off] = ((1 - acc[j]) * wrong[j]).reshape(-1)
        theta[j][np.eye(n_classes, dtype=bool)] = acc[j]
    return theta


def simulate_annotations(rng: np.random.Generator, y: np.ndarray, theta: np.ndarray, labels_per_item: int
                         ) -> np.ndarray:
    """(M, J) labels drawn from theta[j, y_m] (-1 = not labelled); ``labels_per_item`` distinct annotators per
    item (0 = all)."""
    n_ann, n_cls = theta.shape[0], theta.shape[1]
    cum = theta[:, y].cumsum(-1)                                          # (J, M, N)
    labels = (rng.random((n_ann, len(y), 1)) > cum).sum(-1).clip(max=n_cls - 1).T
    if labels_per_item:
        keep = np.argsort(rng.random((len(y), n_ann)), axis=1)[:, :labels_per_item]
        mask = np.zeros_like(labels, dtype=bool)
        np.put_along_axis(mask, keep, True, axis=1)
        labels = np.where(mask, labels, -1)
    return labels.astype(np.int64)


@dataclass(frozen=True)
class CrowdTask:
    """Support xs (M, D) class-major with annotations ann (M, J) in 0..N-1 (-1 = none) and gold ys; queries xq,
    yq; theta (J, N, N) the true (synthetic) or empirical-on-the-support (real) confusions, theta_mask (J, N)
    the rows that are defined."""
    xs: np.ndarray
    ann: np.ndarray
    ys: np.ndarray
    xq: np.ndarray
    yq: np.ndarray
    theta: np.ndarray
    theta_mask: np.ndarray


def _pick(rng, by_class, classes, k, q):
    s, qq = [], []
    for c in classes:
        idx = rng.choice(by_class[int(c)], k + q, replace=False)
        s.append(idx[:k])
        qq.append(idx[k:])
    return np.concatenate(s), np.concatenate(qq)


class SimulatedTaskSampler:
    """Tasks with simulated annotators from the classes ``classes`` of (x, y)."""

    def __init__(self, x, y, classes, n_way, n_query, acc_low, acc_high, labels_per_item, name):
        self.x, self.y, self.classes = x, y, np.asarray(classes)
        self.n_way, self.n_query, self.acc, self.lpi = n_way, n_query, (acc_low, acc_high), labels_per_item
        if len(self.classes) < n_way:
            raise TaskError(f"{name}: {len(self.classes)} classes in the split, a {n_way}-way task needs {n_way}")
        self.by_class = {int(c): np.flatnonzero(y == c) for c in self.classes}
        self.min_class, self.name = min(len(v) for v in self.by_class.values()), name

    def sample(self, rng: np.random.Generator, k_shot: int, n_annotators: int) -> CrowdTask:
        if k_shot + self.n_query > self.min_class:
            raise TaskError(f"{self.name}: a class has {self.min_class} instances; {k_shot} shots + {self.n_query} "
                            f"queries per class need {k_shot + self.n_query}")
        if self.lpi > n_annotators:
            raise TaskError(f"labels_per_item {self.lpi} > {n_annotators} annotators")
        chosen = rng.choice(self.classes, self.n_way, replace=False)
        s, q = _pick(rng, self.by_class, chosen, k_shot, self.n_query)
        ys = np.repeat(np.arange(self.n_way), k_shot)
        theta = sample_confusions(rng, n_annotators, self.n_way, *self.acc)
        ann = simulate_annotations(rng, ys, theta, self.lpi)
        return CrowdTask(self.x[s], ann, ys, self.x[q], np.repeat(np.arange(self.n_way), self.n_query), theta,
                         np.ones((n_annotators, self.n_way)))


class RealCrowdTaskSampler:
    """Test tasks over the real annotations of a crowd dataset (module docstring)."""

    def __init__(self, data: CrowdData, n_way: int, k_shot: int, n_query: int):
        self.d, self.n_way, self.k_shot, self.n_query = data, n_way, k_shot, n_query
        n_cls = len(data.classes)
        if n_way > n_cls:
            raise TaskError(f"{data.name} has {n_cls} classes; a {n_way}-way task is impossible")
        counts = np.bincount(data.y, minlength=n_cls)
        if counts.min() < k_shot + n_query:
            raise TaskError(f"{data.name}: class {int(counts.argmin())} has {counts.min()} annotated items; "
                            f"{k_shot} shots + {n_query} queries need {k_shot + n_query}")

    def sample(self, rng: np.random.Generator) -> CrowdTask:
        d, n = self.d, self.n_way
        for _ in range(100):
            chosen = np.sort(rng.choice(len(d.classes), n, replace=False))
            remap = -np.ones(len(d.classes) + 1, dtype=np.int64)
            remap[chosen] = np.arange(n)
            local = np.where(d.ann >= 0, remap[d.ann], -1)                 # labels outside the task dropped
            ok = (local >= 0).any(1)
            by_class = {int(c): np.flatnonzero((d.y == c) & ok) for c in chosen}
            if min(len(v) for v in by_class.values()) >= self.k_shot + self.n_query:
                break
        else:
            raise TaskError(f"{d.name}: no {n} classes with {self.k_shot + self.n_query} annotated items each")
        s, q = _pick(rng, by_class, chosen, self.k_shot, self.n_query)
        ann = local[s]
        ann = ann[:, (ann >= 0).any(0)]                                     # annotators of this support
        ys = np.repeat(np.arange(n), self.k_shot)
        counts = np.zeros((ann.shape[1], n, n))
        for j in range(ann.shape[1]):
            lab = ann[:, j] >= 0
            np.add.at(counts[j], (ys[lab], ann[lab, j]), 1.0)
        tot = counts.sum(-1)
        theta = counts / np.maximum(tot, 1)[..., None]
        return CrowdTask(d.x[s], ann, ys, d.x[q], np.repeat(np.arange(n), self.n_query), theta,
                         (tot > 0).astype(np.float64))
