"""Few-shot regression tasks from the 35 real PMLB regression tables (ours: the paper's datasets could
not be read; see README "Stand-ins").

A task is drawn from one table: ``n_features`` of its columns at random (in random order; tables with
fewer columns are zero-padded, a constant column that no kernel or network can use), then
``n_support + n_query`` distinct rows. Every column and the target are standardised over the whole
table (ours, the usual per-dataset normalisation of meta-learning benchmarks; standardising by the
few support targets instead gave tasks with query targets thousands of support-sds away), so MSE and
NLL are in units of the table's target spread.

Tables are split between meta-training, meta-validation and meta-test *by table* (a new split per
seed); the two PMLB tables that hold the same rows (197_cpu_act, 227_cpu_small) always fall on the
same side. Files: ``$REPRO_DATA/tabular/regression/<name>.tsv.gz``; on a machine without them they
are downloaded from EpistasisLab/pmlb at a pinned commit and sha256-verified.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from common.config import ConfigError
from common.data import DataFormatError, Resource, find_or_fetch, reading
from common.data.core import find_files, register_dataset

PMLB_COMMIT = "0820182add20998ed3f88b30efd273107286c695"  # last commit before the files moved to Git LFS
PMLB_URL = "https://github.com/EpistasisLab/pmlb/raw/{commit}/datasets/{name}/{name}.tsv.gz"
# sha256 of the 35 real-world regression tables (../shared/data/tabular/SOURCE.md, verified there)
PMLB_REGRESSION_SHA256 = {
    "1027_ESL": "cb678bbf79f2daf10d64ecbafab7019ead486dad2e925ba4bdab445a4886fc79",
    "1028_SWD": "b0526495039ad62169c52a9cf34a957f16b1d02cab995746d3098bbdbfa951cc",
    "1029_LEV": "3964b6b6cff54dc436705f70389b6adb12f28c2af43cba666498fda2daf2a1eb",
    "1030_ERA": "cc5b7c9f04e56da7063b1162ec057f6e777634b73d4cd0e3a4b253ba330bce91",
    "1089_USCrime": "57b36b18d3ed1b78d6ca647f701fdef974b27979cda7dda2fe91a81eb7e329d6",
    "1096_FacultySalaries": "47478e3af60f8a6cc09dcfba8495af699c8187edc279a0e226e4e63b410d64b7",
    "192_vineyard": "55dbc985067fc77003b9eeabd829198669ae84868f6e8c3cf35031bf846571a4",
    "195_auto_price": "8898bcc4c12ea5dd87634bc8f1adce85bc654df872d43dc2ab5a019ae85d9dea",
    "197_cpu_act": "d00fd6bac2eda0821a04ff10277663d211127745a19a474c0feee41a16914fdc",
    "201_pol": "bfd1b9c6e5f6314f6ddfc285ace11381570ad688c6c857562c3155a4e478530d",
    "210_cloud": "030e8ed8bc25b858a391eb1f9eb275c144de9bbe08ce0e5150c068903d8f8246",
    "227_cpu_small": "2d1386a66ab4548b5bdfc95581a77d5fd21852094da5ad2a7844b04e47e1e612",
    "228_elusage": "3928945d6aa3bf9ed029c35c270e8791cfd127d1641dc7e0b655ff069b8af480",
    "230_machine_cpu": "937b0a23076f948343b8b7ac005bc70ea7080c391218fb4896462699b8cb59c4",
    "485_analcatdata_vehicle": "9693036bcd74262526987481e5d29de8ff903a89d61dc9f1a7efef4d4c323a7a",
    "503_wind": "2cc1e040bdc20737674a00039cd80e16758c511e697e524ed17e4335ec93e9a6",
    "505_tecator": "4a2bfb8dd7b1b617c1d7ffe8ae85a3dade9178e5d5dd6aa049189843321e1ff3",
    "519_vinnie": "169d0f9b431d5620ad17a9733ffcce28696fc0b4b31e661c8339d9f3c6bf4caa",
    "522_pm10": "ecbabaa5a989a8c11f5a57e874c135f386da5379d6689ae6d5d4264a652fa5e0",
    "527_analcatdata_election2000": "2adfce8a7a5740aa3aeed51b3d341fc8048dcf8ca7bda7f9ec709b7797d6e4ea",
    "537_houses": "d383fd58bb79760ffaf0b615942fd47d926a19e75a8f980b79fbe9ad479d9cbf",
    "542_pollution": "2d0ec33c9c9e8cdc9560d3b890f5bdb16a96dd22620ae80902393715e114e18d",
    "547_no2": "e116f24d2cabc7388a0714f1d0bf3a85f7613e3fc2b88642c47154fece000c73",
    "556_analcatdata_apnea2": "95cee5abe3479338a52c419567b944199c6c6cef629d1111de7b1d2afe0b2b08",
    "560_bodyfat": "479f25b491115302fb2adaaa80f2670ab812154007d68ec5c566a45f6210d04d",
    "659_sleuth_ex1714": "ff5162c6d06cffe1de5aebe1305dab37cc9b2b140b1f5cca73ffb8396cdf28fa",
    "663_rabe_266": "361eae2fa7d1210720623958adc10debe35eadf7c23deace7fa71cd89df604bc",
    "665_sleuth_case2002": "620f8815ffc7802d77bc942e005a23e107ed7b2ac91447cd094343faec537dd6",
    "666_rmftsa_ladata": "955f006886606699ceab5fb38693e4fe10f74f450a2fd6dfd75af09b8b134d31",
    "678_visualizing_environmental": "996db450c025b7586db095411d743fa8632c3e810f60435b6150c3869972c37f",
    "687_sleuth_ex1605": "a5a5d15adf74702c323b62b595cdefcdd157f68ebd86af5e504bc16c9890c2ff",
    "690_visualizing_galaxy": "5fe909e08a622224135a2dcfd409bbe10abab4919f917a07b771c3fb00580852",
    "695_chatfield_4": "642076c10a6fdecb53994f6dde89cf74b445e23445035378e914c36b95cdc4f0",
    "706_sleuth_case1202": "9266fa48c776ff241b665769a932ecf184defed1ccbb47b87a0930c78dedc7ab",
    "712_chscase_geyser1": "9231e5c6bb08d6a7fab8509e4a8330063a5e3da77b75ff3b9dc412557ed3e334",
}
TABLES = tuple(PMLB_REGRESSION_SHA256)
SAME_ROWS = {"227_cpu_small": "197_cpu_act"}  # split together (same rows, a subset of the columns)
SUBDIRS = ("tabular/regression", "pmlb/regression", "pmlb")
HOW = ("PMLB .tsv.gz files (github.com/EpistasisLab/pmlb, datasets/<name>/<name>.tsv.gz) in "
       "$REPRO_DATA/tabular/regression/; downloaded automatically on first use (sha256-verified, "
       "into data/tabular/regression/) unless REPRO_OFFLINE=1")


def resource(name: str) -> Resource:
    return Resource(f"{name}.tsv.gz", PMLB_URL.format(commit=PMLB_COMMIT, name=name),
                    f"sha256:{PMLB_REGRESSION_SHA256[name]}")


def read_pmlb(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(X, y) of a PMLB table: gzip TSV, one header row, the label column ``target`` (anywhere)."""
    with reading(path, "PMLB tsv.gz"):
        df = pd.read_csv(path, sep="\t", compression="gzip")
        header = [str(c) for c in df.columns]
        a = np.atleast_2d(df.to_numpy(dtype=np.float64))
    if "target" not in header or a.shape[1] != len(header) or len(a) < 4 or len(header) < 2:
        raise DataFormatError(f"{path}: expected a header with a 'target' column, at least one feature and "
                              f"numeric rows, got columns {header[:5]} and data {a.shape}")
    if not np.isfinite(a).all():
        raise DataFormatError(f"{path}: non-finite values in a regression table")
    t = header.index("target")
    return np.delete(a, t, axis=1), a[:, t]


@functools.lru_cache(maxsize=64)
def load_table(name: str, download: bool | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(X, y) of one regression table, each column and the target standardised over the whole table
    (constant columns dropped)."""
    if name not in PMLB_REGRESSION_SHA256:
        raise ConfigError(f"unknown PMLB regression table {name!r}; valid: {', '.join(TABLES)}")
    _, (path,) = find_or_fetch(f"pmlb_reg_{name}", SUBDIRS, [resource(name)], HOW, download=download)
    x, y = read_pmlb(path)
    sd = x.std(0)
    keep = sd > 1e-12
    if y.std() < 1e-12:
        raise DataFormatError(f"{path}: constant target")
    return (x[:, keep] - x[:, keep].mean(0)) / sd[keep], (y - y.mean()) / y.std()


def _locate(name: str) -> str:
    folder, _ = find_files(f"pmlb_reg_{name}", SUBDIRS, [f"{name}.tsv.gz"], (), HOW)
    return str(folder)


for _name in TABLES:
    register_dataset(f"pmlb_reg_{_name}", f"PMLB regression table {_name}", HOW, paper="gp_calib",
                     locate=lambda n=_name: _locate(n), sources=[resource(_name).url])


def split_tables(seed: int, n_val: int, n_test: int, tables: tuple[str, ...] = TABLES) -> dict[str, list[str]]:
    """Disjoint meta-train / meta-val / meta-test tables (tables with the same rows kept together)."""
    groups = [t for t in tables if t not in SAME_ROWS]
    if n_val < 1 or n_test < 1 or n_val + n_test > len(groups) - 2:
        raise ConfigError(f"n_val_tables={n_val} + n_test_tables={n_test} must leave at least 2 of the "
                          f"{len(groups)} table groups for meta-training (and both must be >= 1)")
    order = [groups[i] for i in np.random.default_rng(seed).permutation(len(groups))]
    parts = {"test": order[:n_test], "val": order[n_test:n_test + n_val], "train": order[n_test + n_val:]}
    for twin, head in SAME_ROWS.items():
        for part in parts.values():
            if head in part and twin in tables:
                part.append(twin)
    return {k: sorted(v) for k, v in parts.items()}


@dataclass
class TaskBatch:
    """T tasks: supports (T, S, D), (T, S) and queries (T, Q, D), (T, Q)."""

    xs: np.ndarray
    ys: np.ndarray
    xq: np.ndarray
    yq: np.ndarray
    tables: list[str]


class RegressionTaskSource:
    """Few-shot regression tasks over a list of tables (one table per task, chosen uniformly)."""

    def __init__(self, tables: list[str], n_features: int, n_support: int, n_query: int) -> None:
        if n_features < 1 or n_support < 2 or n_query < 1:
            raise ConfigError(f"need n_features >= 1, n_support >= 2, n_query >= 1; got {n_features}, "
                              f"{n_support}, {n_query}")
        self.tables, self.d, self.s, self.q = list(tables), n_features, n_support, n_query
        self.data = {t: load_table(t) for t in self.tables}
        small = {t: len(y) for t, (_, y) in self.data.items() if len(y) < n_support + n_query}
        if small:
            raise ConfigError(f"n_support + n_query = {n_support + n_query} exceeds the rows of {small}")

    def sample(self, rng: np.random.Generator, n_tasks: int) -> TaskBatch:
        d, n = self.d, self.s + self.q
        xs, ys, names = np.zeros((n_tasks, n, d)), np.zeros((n_tasks, n)), []
        for i in range(n_tasks):
            name = self.tables[rng.integers(len(self.tables))]
            x, y = self.data[name]
            cols = rng.permutation(x.shape[1])[:d]
            rows = rng.choice(len(y), n, replace=False)
            xs[i, :, :len(cols)] = x[np.ix_(rows, cols)]
            ys[i] = y[rows]
            names.append(name)
        return TaskBatch(xs[:, :self.s], ys[:, :self.s], xs[:, self.s:], ys[:, self.s:], names)
