"""PMLB tables with heterogeneous attribute spaces, and semi-supervised tasks drawn from them.

Every table has its own attributes (2 to 240 columns). A *task* is drawn from one table (ours, the
paper's task construction could not be read): a random subset of ``D`` of the table's attributes, in
random order, and rows split into ``n_labelled`` labelled instances (classification: ``n_shot`` per
class of ``n_way`` classes drawn from the table's classes) and ``n_unlabelled`` unlabelled instances
whose labels are to be estimated (class-balanced for classification). Every attribute is standardised
over the whole table and clipped to [-5, 5]; a regression target is standardised over its table, so
MSE is in units of the table's target variance (ours).

Tables are split between meta-training, meta-validation and meta-test *by table* (a new split per
seed), so test attribute spaces are never seen in meta-training. Tables that hold the same rows stay
on one side (SAME_GROUP). Files: ``$REPRO_DATA/tabular/{classification,regression}/<name>.tsv.gz``;
elsewhere they are downloaded from EpistasisLab/pmlb at a pinned commit and sha256-verified.

OpenML tables (the source of the 2020 predecessor's 59 datasets; the paper's own list could not be
read) are named ``openml_<data id>`` (config ``openml_ids``): ``$REPRO_DATA/openml/<id>/description.json``
(OpenML's dataset description: the ARFF file's URL, its md5 and the default target attribute) and
``dataset.arff``; elsewhere the description is fetched from OpenML's REST API and the ARFF from its URL,
md5-verified. Nominal attributes become their category index; rows with a missing value are dropped.
"""

from __future__ import annotations

import functools
import io
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from common.config import ConfigError
from common.data import DataFormatError, DataMissingError, Resource, core, find_or_fetch, reading
from common.data.core import _open_url, candidate_dirs, download, download_enabled, find_files, register_dataset
from common.meta import TaskError

PMLB_COMMIT = "0820182add20998ed3f88b30efd273107286c695"  # last commit before the files moved to Git LFS
PMLB_URL = "https://github.com/EpistasisLab/pmlb/raw/{commit}/datasets/{name}/{name}.tsv.gz"
# sha256 of the 96 real-world tables of ../shared/data/tabular (byte copies of the pinned commit)
SHA256 = {
    "classification": {
        "analcatdata_authorship": "1b26db950ef47fb34fb31958dd18912e279e6a668b0b88834182d303d616b88d",
        "analcatdata_dmft": "2bdda1022a866fd7fa6307e667173c821c206ae007308fb54cf580d668e01e6c",
        "ann_thyroid": "3a4434a1f86ea83db795dd5acd7576c0e782287d9d32df74eef20e29bc1c45cd",
        "balance_scale": "8c87be0e86f362154b34bd608caf8c5804e357e437b7db91b14974b6afaffe32",
        "breast_cancer": "29e767fa6b55442918c0fc8e9bc5648ef071f4b76278f69a2f3dbbb8ca731a25",
        "breast_w": "cad1a46f50ff7ff713e8abdff5837ebb28ddb9be5823c5fa35c85ee14400760b",
        "bupa": "169f66e07a933521e65fbcc4bdfeb1a2ad942441ae0aa48480fcb0a8e78e37a7",
        "car": "32d94576f8622f22279a02099e5269511a8b14fee6a441e880730966763b79c9",
        "churn": "7a8bf22bd4c0845187d4d6eb39b215181ba149834b851430a68052a7a3a86bcc",
        "cleve": "2c4393bc88f742dc9cd253c7167d882164671df75195a19d9d79af23f1c1e351",
        "cmc": "ab5d7d023fe766a4a0724b99621cd18cf0a3c644db3b7599a604d6b68a30511f",
        "colic": "3259e9d93e965bb6b5e45cca737d96f7c676f3562411c3ae4bd247e773f85ada",
        "credit_a": "1d64387aa4bea78bd412ea3892bf17f48b32856074dfe3b5105f0bbc1b15603f",
        "credit_g": "039c48aaf10d8ca444c2799123ff37f99c5a98402884e2df66d92cdaac09f53b",
        "dermatology": "c8852ba546e92249debecd9a897cda3f94fd10872fa13c62eb14ab40e279166e",
        "dna": "017e1ff56435818b639cc788ee35df6cee7ac2aea19cc62dcb10a3a0c60b6340",
        "ecoli": "65b5b5ccc50a20d50008e94c78d1bc1a56aa1e02869a3d3f66d8e57c5aa8619e",
        "flare": "c85d293abf9369403f22a1c2693fb03b3e16008e5ea1bf5b4ac57a07a9bdb0ff",
        "glass": "1825748336671077e81c07acd0bd343c7e9df386d23999b4b4e2730dbcc68a16",
        "haberman": "2f44ac12e09d2fd09d9ac70231cecbfbc333356339dec0509ad1ed96e36e94c0",
        "hayes_roth": "b79f51c9b46594d5b9d201281b127619a45403ee4e7d543dcb2a9e3e8c29719f",
        "heart_statlog": "8961cb48eb662faa5d55d7849ee8be88d8b2a3eeebd383cfa5df38c60133ebcb",
        "hepatitis": "87df1bbfb83b8204093ccd84ed18bb3695220c03aa4096f63a84cc5e136dbc0b",
        "house_votes_84": "9def90abb62c1b9872ae2dbed3e425850ae44f98d3664e8b29e2444548e9fec9",
        "hypothyroid": "da3dd345d4cbdaeda8c1d0f3c91cb6ee45eb6dc6a40b6668933806a9e653ad26",
        "ionosphere": "adb6fc877404f2b55f6d59fc7322265c733f5cf0ae6d7c2e52c3468733630023",
        "iris": "ce4982cba30bd5aaa352e51d55e1cf56c56ae6d573d644f36257de1177717228",
        "kr_vs_kp": "f1004d98e1ca1fcfd9809627e4a751c7acd821743a75e49c6f2a8853f32fb24f",
        "letter": "f8ffe4f9920dc63fb85b864cc1afffb66e45c6e302d175905fd7db04ba67b8c6",
        "lymphography": "9f61884125337eabb93744604be5a606879fa5fa9dd0ac882095bfcca4cfc25f",
        "mfeat_morphological": "08a200bfc2d59c38bd8936b038483f6406834473901b04103e7077eb3b257110",
        "mfeat_pixel": "2ec3aa555bffb8694d90f857e5728b63db5d648aa9de2999767428d0f97c0801",
        "movement_libras": "77c9c61118e72c3f49f52fd5eda8ec95ce9a573cb2f1a51b15480966f320fc85",
        "mushroom": "d8daa6822f14604f8567a5a8e5dfa93db6c383cf01aac01812c0ebdce3ab158a",
        "new_thyroid": "7164f21d0c4a5bd5fdfcab5918cd1e070314750bdfab0b9a32c2c7f1b3df5e87",
        "nursery": "5e56c09fc2c6a983c031879fe7de5fc945c44db2ca65f10fc5f5b6fc770489ff",
        "optdigits": "b70b7ac68a54d1ccd41bd24f11324c3af96b67541791fb9d8684cbdf151533c3",
        "page_blocks": "ebd2c0505b95df7c3fbcd132fe97d35cf85dc6be9b939f26cb0962f8134a5198",
        "pendigits": "73294fc30c2c50bf737c954d04cca3a1be69508535d3d52e2512ec88fefaad3f",
        "penguins": "416c13c9349eba384c5af4711f77a7761ffebcef23cb7e780f65172827b29087",
        "phoneme": "2e1c31a2c560f3539be5bda1084939765c80ddd814bd6919fd8a3465f9b8aee6",
        "pima": "3820d79b9b44dac3d7a76ce5d507091bd4057f8e5dddd44c4d8bd0ae1d039206",
        "saheart": "bd0e747cb0a16d9f68843ccd6fa0b0d382bb21f2c83ccbc222712426ee42274b",
        "satimage": "1ee8cf9693351db7afe68f6fc32942845caae3e1030c688efa6c5d0b24229f46",
        "segmentation": "980ba4342d2fe489793cc3431678318f8d1467fe6bf6a687eb18bfc2267a049f",
        "sonar": "64378cabaecdb50e2e1e644c1d6bc359f0627ebe313870ad09e1e41ed972529b",
        "soybean": "67916235a94a1123117e2b1135c6c73c2de5c053d8da1b3767679a02f5d88295",
        "spambase": "735e8d43f7ee78ac54ca17404510e95f4c8b364a721e4d9532a1b3221ed70961",
        "spect": "0a0f382192f577b8096c22116754533745205b5244b00360fb3ed6a084351fcd",
        "spectf": "664081130aa48fc189b2e1d3c44332f0b3eb1ee6d31b79af1643c137697677e4",
        "splice": "30f7c126059de9f5962c41bbfbdee2926ea9432e4d620930ce6db79a43885510",
        "tae": "5eb60cdd947ecb4ea476ba854299dbe18d522df3ed684fb8f60657fdd4132910",
        "tic_tac_toe": "d00d1522a06b5b67a0aea355c268ffe575e4a28651fa4fbf0e204705be3ce47b",
        "vehicle": "dad03273414ae7127e30b6e4e66df90319a148b37ead5dd376dd140be5baedc4",
        "vowel": "98d0239c98afa3d94847cd792ce07a316e67927b5e7a178a521fea6a14914eea",
        "waveform_21": "7c2cc6b218c3c4868ccc2edcf6a637c796f4e6bf4ad9f0994e95a260bfe3aabc",
        "wdbc": "a39fc5f054db506e83a4a4ec47eba1f7f9bf9bfdc983174e699312f32f42f1f5",
        "wine_quality_red": "6402396156d04f7269074f4e58fa40ad1147f9298179bf388962d6ef9f916824",
        "wine_quality_white": "0d39f17afc3a1712bd6c460aa941aed7835b3feb142538adfdd31ddc2451d60d",
        "wine_recognition": "56f5ba3f3ba78f6e522a13e5a97e03ff28cf9fa4107021b22b932f6d4064c145",
        "yeast": "705c335a0d7edb3edf247ea313f2ae334086ce3e6bf4e1b64a8b306befd1c816",
    },
    "regression": {
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
    },
}
PROBLEMS = tuple(SHA256)
#: tables that share rows (or are the same instances under another feature set) stay on one side of a split
SAME_GROUP = {"227_cpu_small": "197_cpu_act", "mfeat_pixel": "mfeat_morphological", "mfeat_fourier": "mfeat_morphological",
              "mfeat_karhunen": "mfeat_morphological", "mfeat_zernike": "mfeat_morphological",
              "mfeat_factors": "mfeat_morphological"}
CLIP = 5.0
HOW = ("PMLB .tsv.gz files (github.com/EpistasisLab/pmlb, datasets/<name>/<name>.tsv.gz) in "
       "$REPRO_DATA/tabular/<classification|regression>/; downloaded automatically on first use "
       "(sha256-verified) unless REPRO_OFFLINE=1")


def resource(problem: str, name: str) -> Resource:
    return Resource(f"{name}.tsv.gz", PMLB_URL.format(commit=PMLB_COMMIT, name=name),
                    f"sha256:{SHA256[problem][name]}")


def read_pmlb(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(X, y) of a PMLB table: gzip TSV, one header row, the label column ``target`` (anywhere); rows with
    missing values (``NA``) are dropped."""
    with reading(path, "PMLB tsv.gz"):
        df = pd.read_csv(path, sep="\t", compression="gzip")
        header = [str(c) for c in df.columns]
        a = np.atleast_2d(df.to_numpy(dtype=np.float64))
    if "target" not in header or a.shape[1] != len(header) or len(header) < 2:
        raise DataFormatError(f"{path}: expected a header with a 'target' column and at least one feature, got "
                              f"columns {header[:5]} and data {a.shape}")
    a = a[np.isfinite(a).all(1)]
    if len(a) < 4:
        raise DataFormatError(f"{path}: fewer than 4 complete rows")
    t = header.index("target")
    return np.delete(a, t, axis=1), a[:, t]


OPENML_API = "https://www.openml.org/api/v1/json/data/{data_id}"
OPENML_HOW = ("OpenML tables: $REPRO_DATA/openml/<id>/{description.json,dataset.arff} (the JSON of "
              "https://www.openml.org/api/v1/json/data/<id> and the ARFF file it names); fetched on first use "
              "(the ARFF md5-verified against the description) unless REPRO_OFFLINE=1")


def read_arff(path: Path, target: str) -> tuple[np.ndarray, np.ndarray]:
    """(X, y) of an ARFF file with the attribute ``target`` as label: numeric attributes as floats, nominal
    ones as the index of their value in the declared list; rows with a missing value are dropped; string
    and date attributes are not supported."""
    from scipy.io import arff

    with reading(path, "OpenML ARFF"):
        data, meta = arff.loadarff(io.StringIO(path.read_text(encoding="utf-8", errors="replace")))
    names = list(meta.names())
    if target not in names or len(names) < 2:
        raise DataFormatError(f"{path}: target attribute {target!r} not among {names[:8]}")
    cols = []
    for n in names:
        kind, values = meta[n]
        if kind == "nominal":
            index = {v: i for i, v in enumerate(values)}
            cols.append(np.array([index.get(v.decode() if isinstance(v, bytes) else v, np.nan) for v in data[n]],
                                 dtype=np.float64))
        elif kind == "numeric":
            cols.append(np.asarray(data[n], dtype=np.float64))
        else:
            raise DataFormatError(f"{path}: attribute {n!r} is {kind}; only numeric and nominal are supported")
    a = np.column_stack(cols)
    a = a[np.isfinite(a).all(1)]
    if len(a) < 4:
        raise DataFormatError(f"{path}: fewer than 4 complete rows")
    t = names.index(target)
    return np.delete(a, t, axis=1), a[:, t]


def openml_files(data_id: int, download_: bool | None = None) -> tuple[Path, str]:
    """(ARFF path, default target attribute) of OpenML dataset ``data_id``, fetched once if missing."""
    for folder in candidate_dirs([f"openml/{data_id}"]):
        if (folder / "description.json").is_file() and (folder / "dataset.arff").is_file():
            desc = json.loads((folder / "description.json").read_text(encoding="utf-8"))["data_set_description"]
            return folder / "dataset.arff", str(desc["default_target_attribute"])
    looked = ", ".join(str(d) for d in candidate_dirs([f"openml/{data_id}"]))
    if not download_enabled(download_):
        raise DataMissingError(f"OpenML dataset {data_id} not found (looked in {looked}). {OPENML_HOW}")
    folder = core.DATA_DIR / "openml" / str(data_id)
    try:
        with _open_url(OPENML_API.format(data_id=data_id)) as resp:
            raw = resp.read()
        desc = json.loads(raw)["data_set_description"]
        download(desc["url"], folder / "dataset.arff", f"md5:{desc['md5_checksum']}")
    except OSError as exc:          # no network (URLError is an OSError); a bad checksum propagates
        raise DataMissingError(f"OpenML dataset {data_id}: download failed ({exc}). {OPENML_HOW}") from exc
    (folder / "description.json").write_bytes(raw)      # written last: a folder with both files is complete
    return folder / "dataset.arff", str(desc["default_target_attribute"])


@functools.lru_cache(maxsize=128)
def load_table(problem: str, name: str, download: bool | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(X float32 standardised and clipped, y): class indices 0..C-1 (classification) or the standardised
    target (regression). Constant columns are dropped. ``name``: a PMLB table or ``openml_<data id>``."""
    if name.startswith("openml_") and name[7:].isdigit():
        path, target = openml_files(int(name[7:]), download)
        x, y = read_arff(path, target)
    else:
        if problem not in SHA256 or name not in SHA256[problem]:
            raise ConfigError(f"unknown PMLB {problem} table {name!r}")
        subdirs = (f"tabular/{problem}", f"pmlb/{problem}", "pmlb")
        _, (path,) = find_or_fetch(f"pmlb_{problem}_{name}", subdirs, [resource(problem, name)], HOW,
                                   download=download)
        x, y = read_pmlb(path)
    sd = x.std(0)
    keep = sd > 1e-12
    if not keep.any():
        raise DataFormatError(f"{path}: every attribute is constant")
    x = np.clip((x[:, keep] - x[:, keep].mean(0)) / sd[keep], -CLIP, CLIP).astype(np.float32)
    if problem == "classification":
        y = np.unique(y, return_inverse=True)[1].astype(np.int64)
    else:
        if y.std() < 1e-12:
            raise DataFormatError(f"{path}: constant target")
        y = ((y - y.mean()) / y.std()).astype(np.float32)
    return x, y


def _locate(problem: str, name: str) -> str:
    folder, _ = find_files(f"pmlb_{problem}_{name}", (f"tabular/{problem}",), [f"{name}.tsv.gz"], (), HOW)
    return str(folder)


for _p in PROBLEMS:
    for _name in SHA256[_p]:
        register_dataset(f"pmlb_{_p}_{_name}", f"PMLB {_p} table {_name}", HOW, paper="hetero_ssl",
                         locate=lambda p=_p, n=_name: _locate(p, n), sources=[resource(_p, _name).url])


def split_tables(problem: str, seed: int, n_val: int, n_test: int,
                 tables: tuple[str, ...] | None = None) -> dict[str, list[str]]:
    """Disjoint meta-train / meta-val / meta-test tables of one problem type (SAME_GROUP kept together);
    ``tables`` defaults to the PMLB tables of the problem type."""
    tables = tuple(SHA256[problem]) if tables is None else tuple(tables)
    heads = sorted({SAME_GROUP.get(t, t) for t in tables})
    if n_val + n_test >= len(heads):
        raise ConfigError(f"{problem}: n_val_tables + n_test_tables = {n_val + n_test} leaves no meta-training "
                          f"table ({len(heads)} table groups)")
    order = np.random.default_rng(seed).permutation(len(heads))
    members = {h: sorted(t for t in tables if SAME_GROUP.get(t, t) == h) for h in heads}
    pick = [heads[i] for i in order]
    split = {"test": pick[:n_test], "val": pick[n_test:n_test + n_val], "train": pick[n_test + n_val:]}
    return {k: sorted(t for h in v for t in members[h]) for k, v in split.items()}


@dataclass
class Task:
    """One semi-supervised task: labelled (x_l, y_l) and unlabelled x_u whose labels y_u are estimated."""

    x_l: np.ndarray
    y_l: np.ndarray
    x_u: np.ndarray
    y_u: np.ndarray
    table: str = ""

    def with_labelled(self, n: int, n_way: int = 0) -> "Task":
        """The same task with only the first ``n`` labelled instances (``n`` per class when n_way > 0: the
        labelled pool is stored class-interleaved, so a prefix is class-balanced)."""
        k = n * n_way if n_way else n
        return Task(self.x_l[:k], self.y_l[:k], self.x_u, self.y_u, self.table)


class TaskSource:
    """Draws tasks from a set of tables of one problem type.

    ``n_lab``: labelled instances per class (classification, ``n_way`` classes) or per task (regression).
    """

    def __init__(self, problem: str, tables: list[str], n_way: int, n_unlabelled: int, max_lab: int) -> None:
        if problem == "classification" and n_unlabelled % n_way:
            raise ConfigError(f"n_unlabelled={n_unlabelled} must be a multiple of n_way={n_way}")
        self.problem, self.n_way, self.n_u, self.max_lab = problem, n_way, n_unlabelled, max_lab
        self.tables: dict[str, tuple[np.ndarray, np.ndarray, list]] = {}
        for name in tables:
            x, y = load_table(problem, name)
            if problem == "classification":
                need = max_lab + n_unlabelled // n_way
                cls = [c for c in range(int(y.max()) + 1) if (y == c).sum() >= need]
                if len(cls) >= n_way:
                    self.tables[name] = (x, y, cls)
            elif len(y) >= max_lab + n_unlabelled:
                self.tables[name] = (x, y, [])
        if not self.tables:
            raise TaskError(f"no {problem} table among {len(tables)} has enough rows for {max_lab} labelled "
                            f"(per class) and {n_unlabelled} unlabelled instances")

    def n_features(self, name: str) -> int:
        return self.tables[name][0].shape[1]

    def draw(self, rng: np.random.Generator, name: str, n_attr: int, n_lab: int) -> Task:
        x, y, cls = self.tables[name]
        cols = rng.permutation(x.shape[1])[:n_attr]
        if self.problem == "classification":
            chosen = rng.permutation(cls)[:self.n_way]
            lab, unl = [], []
            for c in chosen:
                rows = rng.permutation(np.flatnonzero(y == c))
                lab.append(rows[:n_lab])
                unl.append(rows[n_lab:n_lab + self.n_u // self.n_way])
            lab_rows = np.stack(lab, 1).reshape(-1)          # class-interleaved: prefixes stay balanced
            unl_rows = rng.permutation(np.concatenate(unl))
            relabel = {int(c): i for i, c in enumerate(chosen)}
            yl = np.array([relabel[int(v)] for v in y[lab_rows]], dtype=np.int64)
            yu = np.array([relabel[int(v)] for v in y[unl_rows]], dtype=np.int64)
        else:
            rows = rng.permutation(len(y))[:n_lab + self.n_u]
            lab_rows, unl_rows = rows[:n_lab], rows[n_lab:]
            yl, yu = y[lab_rows], y[unl_rows]
        return Task(x[np.ix_(lab_rows, cols)], yl, x[np.ix_(unl_rows, cols)], yu, name)

    def batch(self, rng: np.random.Generator, n_tasks: int, d_range: tuple[int, int], n_lab: int) -> list[Task]:
        """``n_tasks`` tasks of one shape: the same number of attributes D (drawn in ``d_range``, capped by the
        widest table) from tables with at least D attributes."""
        widest = max(self.n_features(t) for t in self.tables)
        d = int(rng.integers(min(d_range[0], widest), min(d_range[1], widest) + 1))
        names = [t for t in self.tables if self.n_features(t) >= d]
        return [self.draw(rng, names[int(rng.integers(len(names)))], d, n_lab) for _ in range(n_tasks)]

    def fixed_tasks(self, rng: np.random.Generator, per_table: int, d_range: tuple[int, int]) -> list[Task]:
        """Evaluation tasks: ``per_table`` per table, D drawn per task in ``d_range`` (capped by the table),
        with the largest labelled pool (``with_labelled`` gives the smaller settings)."""
        out = []
        for name in sorted(self.tables):
            d_max = self.n_features(name)
            for _ in range(per_table):
                d = int(rng.integers(min(d_range[0], d_max), min(d_range[1], d_max) + 1))
                out.append(self.draw(rng, name, d, self.max_lab))
        return out
